"""The OpenAPI 3.1 document of every route, and the API reference page at /docs.

The document is built from the application's own routing table and from what each
handler method declares with `@operation` (handlers/spec.py): the same body models,
forms and query parameters the handlers validate with, and the answer shapes of
handlers/schemas.py. Pydantic writes the JSON Schemas (2020-12, OpenAPI 3.1's
dialect) straight into `components/schemas`. It is built when the application is
made (or checked when the application is made and built on first request), so a route
whose declaration is missing or does not fit its regex stops the server from starting.
"""

from __future__ import annotations

import inspect
import json
import os
import re
from importlib import metadata
from typing import Any, Iterable

import pydantic
import tornado.web
from pydantic.json_schema import models_json_schema

from handlers import schemas as answers
from handlers.base import BaseHandler
from handlers.public import PublicFileHandler, PublicHandler
from handlers.spec import (
    DeclarationError, Form, Operation, Param, PathParam, RawBody, TextParam, declared, implemented_methods,
    operation,
)
from handlers.ui import static_root

SWAGGER_UI_VERSION = "5.35.0"  # static/vendor/swagger-ui/README.md; index.html asks ?v= this
REF = "#/components/schemas/{model}"
#: The first path segment of a sub-resource that has a tag of its own.
SUB_RESOURCES = {"variants": "Variants", "translations": "Translations", "media": "Media",
                 "stock": "Stock", "image-search": "Image search", "similar": "Image search"}
TAGS = {"products": "Products", "categories": "Categories", "channels": "Channels",
        "product-attributes": "Attributes", "brands": "Brands", "suppliers": "Suppliers",
        "vat-rates": "VAT rates", "warehouses": "Warehouses", "openapi.json": "Documentation",
        "media": "Media", "docs": "Documentation", "ui": "Web UI", "events": "Events",
        "webhooks": "Webhooks"}
# Content Security Policy of the docs page: nothing from another host, no inline
# script; Swagger UI's stylesheet draws a few icons as data: URIs.
DOCS_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'; form-action 'self'")

STATUS_TEXT = {
    400: "Bad request: the message names the field and the problem",
    401: "Missing, unknown, revoked or expired API key",
    403: "The key's organization is disabled (`no organization access`), or a read-only key"
         " was sent to a write (`this API key is read-only`)",
    404: "Not found (an id of another organization answers the same)",
    410: "The feed cursor (`after`) is older than the events kept: the message gives the oldest"
         " id kept; resync, then read on from there",
    413: "The JSON body is larger than 1 MB",
    429: "Rate limit exceeded; `Retry-After` says when to retry",
    500: "Server error (details only in the server log)",
    503: "The database is busy with another write (or the image index needs `micropim reindex`);"
         " retry after `Retry-After`",
}
ERROR_NAMES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 410: "Gone",
               413: "PayloadTooLarge", 429: "TooManyRequests", 500: "ServerError",
               503: "ServiceUnavailable"}
RATE_HEADERS = {
    "RateLimit-Limit": "Requests per minute allowed to this client for this kind (read or write)",
    "RateLimit-Remaining": "Requests left in the bucket",
    "RateLimit-Reset": "Seconds until the bucket is full again",
}

DESCRIPTION = """\
MicroPIM's REST API. Every response under `/api/` is the envelope
`{"status": 1, "data": …, "error": null}`, or `{"status": 0, "data": null, "error": "field: problem"}`
on error; the schemas below describe `data`. Send the API key in the `X-API-KEY` header
(`micropim create-key --org NAME` prints one; `--scope read` makes a key that may only
read: it answers 403 to every `POST`, `PUT`, `PATCH` and `DELETE` but image search,
which changes nothing). Requests are strict: unknown body
fields, wrong types and malformed JSON are 400s naming the field, and so is a query
parameter an operation does not list (`limt: unknown query parameter`) or one sent
twice; a list parameter takes its values separated by commas (`status=active,draft`).
Money is an exact decimal, sent as a string or a number and shown as a string with 4
places. Every
`GET` also answers `HEAD` (no body), carries an `ETag` and answers 304 to
`If-None-Match`. A method a path does not list answers 405, an unknown path 404.
"""


# ---- the document ----------------------------------------------------------------------------

class Route:
    """One rule of the routing table, as the document needs it."""

    def __init__(self, pattern: str, handler: type[tornado.web.RequestHandler], kwargs: dict[str, Any]):
        self.pattern = pattern.removesuffix("$")
        self.handler = handler
        self.kwargs = kwargs
        self.is_api = issubclass(handler, BaseHandler)

    def methods(self) -> list[str]:
        """The methods the handler implements (HEAD is GET's, OPTIONS none's)."""
        return implemented_methods(self.handler)

    def operation(self, method: str) -> Operation:
        found = declared(self.handler, method)
        if found is None and not self.is_api and method == "get":
            found = self._page_operation()
        if found is None:
            raise DeclarationError(
                f"{self.handler.__name__}.{method} ({self.pattern}) has no @operation declaration")
        return found

    def _page_operation(self) -> Operation:
        """A page or file outside the API (the web UI's) that declares nothing: a public
        GET, summed up by its docstring. The API's routes must declare themselves."""
        own = vars(self.handler).get("get")
        doc = (own.__doc__ if own else None) or self.handler.__doc__ or ""
        if self.handler.__module__.startswith("tornado."):  # not tornado's own docstrings
            doc = ""
        doc = inspect.cleandoc(doc or "A page or file")
        summary = doc.partition("\n")[0].strip()
        return Operation(summary=summary, description="", data=RawBody("*/*", "The page or file"),
                         errors=(404,))

    def path_params(self) -> tuple[PathParam, ...]:
        params = getattr(self.handler, "path_params", None)
        if callable(params):  # names that depend on the route's arguments (the docs files)
            params = params(self.kwargs)
        if params is None and not self.is_api:  # the same pages and files: names of our own
            count = re.compile(self.pattern).groups
            names = ["path"] if count == 1 else [f"part{n}" for n in range(1, count + 1)]
            params = tuple(PathParam(name, {"type": "string"},
                                     "The file's path in the folder; it may hold slashes"
                                     " (`js/app.js`), which a path parameter cannot say")
                           for name in names)
        return tuple(params or ())

    def template(self) -> str:
        """`/api/products/([0-9]{1,19})/variants/([0-9]{1,19})` → `/api/products/{id}/variants/{variantId}`."""
        params = self.path_params()
        out: list[str] = []
        i, used = 0, 0
        text = self.pattern
        while i < len(text):
            char = text[i]
            if char == "\\":
                out.append(text[i + 1])
                i += 2
            elif char == "(":
                depth, j = 1, i + 1
                while depth:
                    if text[j] == "\\":
                        j += 1
                    elif text[j] in "()":
                        depth += 1 if text[j] == "(" else -1
                    j += 1
                if used >= len(params):
                    raise DeclarationError(f"{self.handler.__name__}: {self.pattern} has more groups"
                                           " than path_params names")
                out.append("{" + params[used].name + "}")
                used, i = used + 1, j
            elif char in "[]{}*+?|^$":
                raise DeclarationError(f"{self.pattern}: regex outside a group cannot be a path")
            else:
                out.append(char)
                i += 1
        if used != len(params):
            raise DeclarationError(f"{self.handler.__name__}: path_params names {len(params)} groups,"
                                   f" {self.pattern} has {used}")
        return "".join(out)

    def words(self) -> dict[str, str]:
        words = getattr(self.handler, "openapi_words", None)
        return words(self.kwargs) if words else {}

    def tag(self) -> str:
        literal = [part for part in self.template().split("/") if part and "{" not in part]
        if not literal:  # `/`: the web UI's page
            return TAGS["ui"]
        if literal[0] == "api":
            literal = literal[1:]
        if literal[0] == "products" and len(literal) > 1 and literal[1] in SUB_RESOURCES:
            return SUB_RESOURCES[literal[1]]
        return TAGS.get(literal[0], literal[0].capitalize())




def routes_of(app: tornado.web.Application) -> list[Route]:
    """The application's own routing table (the rules `make_app` gave it)."""
    found = []
    for rule in app.wildcard_router.rules:
        pattern = getattr(rule.matcher, "regex", None)
        if pattern is not None and isinstance(rule.target, type):
            found.append(Route(pattern.pattern, rule.target, dict(rule.target_kwargs or {})))
    return found


def _models(routes: Iterable[Route]) -> list[type[pydantic.BaseModel]]:
    """Every model a declaration names, each once, in the table's order."""
    seen: dict[type[pydantic.BaseModel], None] = {}
    for route in routes:
        for method in route.methods():
            op = route.operation(method)
            for choice in (op.body, None if isinstance(op.data, RawBody) else op.data):
                model = op.model_for(choice, route.kwargs)  # type: ignore[arg-type]
                if model is not None:
                    seen[model] = None
    return list(seen)


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["status", "data", "error"],
        "additionalProperties": False,
        "properties": {"status": {"const": 1}, "data": data, "error": {"type": "null"}},
    }


def _param(param: Param | PathParam, where: str) -> dict[str, Any]:
    schema = param.schema() if isinstance(param, Param) else param.schema
    shown: dict[str, Any] = {"name": param.name, "in": where, "description": param.description,
                             "schema": schema}
    if where == "path":
        shown["required"] = True
    if isinstance(param, Param):
        shown.update(param.style())
    return shown


def _form_schema(form: Form) -> dict[str, Any]:
    properties: dict[str, Any] = {form.file: {
        "type": "string", "format": "binary", "contentMediaType": "application/octet-stream",
        "description": form.file_description}}
    for param in form.fields:
        properties[param.name] = {**param.schema(), "description": param.description}
    return {"type": "object", "required": [form.file], "additionalProperties": False,
            "properties": properties}


def _error_codes(route: Route, method: str, op: Operation) -> list[int]:
    """The error statuses this operation can answer, beyond its own `errors`."""
    codes = set(op.errors)
    if not route.is_api:
        return sorted(codes)
    codes |= {429, 500}
    if getattr(route.handler, "requires_key", True):
        codes |= {401, 403}
    params = route.path_params()
    if params:
        codes.add(404)
    if op.body or op.form or op.raw:
        codes |= {400, 413}
    codes.add(400)  # an unknown or repeated query parameter, on every route
    if method != "get":
        codes.add(503)  # a write that waited too long for SQLite's write lock
    return sorted(codes)


def _operation(route: Route, method: str, refs: dict[type[pydantic.BaseModel], dict[str, Any]]) -> dict[str, Any]:
    op = route.operation(method)
    words = route.words()
    shown: dict[str, Any] = {
        "operationId": method + re.sub(r"[^A-Za-z0-9]+(.)?",
                                       lambda m: (m.group(1) or "").upper(), route.template()),
        "summary": op.summary.format(**words) if words else op.summary,
        "tags": [route.tag()],
    }
    if op.description:
        shown["description"] = op.description.format(**words) if words else op.description
    parameters = [_param(p, "path") for p in route.path_params()]
    parameters += [_param(p, "query") for p in op.query]
    for parameter in parameters:
        parameter["description"] = parameter["description"].format(**words) if words else parameter["description"]
    if parameters:
        shown["parameters"] = parameters
    content: dict[str, Any] = {}
    body = op.model_for(op.body, route.kwargs)
    if body is not None:
        content["application/json"] = {"schema": refs[body]}
    if op.form is not None:
        content["multipart/form-data"] = {"schema": _form_schema(op.form)}
    if op.raw is not None:
        for content_type in op.raw.content_types:
            content[content_type] = {"schema": {**op.raw.schema, "description": op.raw.description}}
    if content:
        shown["requestBody"] = {"required": True, "content": content}
    shown["responses"] = _responses(route, method, op, refs)
    if not route.is_api or not getattr(route.handler, "requires_key", True):
        shown["security"] = []
    return shown


def _responses(route: Route, method: str, op: Operation,
               refs: dict[type[pydantic.BaseModel], dict[str, Any]]) -> dict[str, Any]:
    headers = {name: {"$ref": f"#/components/headers/{name}"} for name in RATE_HEADERS}
    responses: dict[str, Any] = {}
    for status in op.status:
        answer: dict[str, Any] = {"description": {200: "OK", 201: "Created"}.get(status, "Success")}
        if isinstance(op.data, RawBody):
            answer["description"] = op.data.description
            answer["content"] = {kind: {"schema": op.data.schema} for kind in op.data.content_types}
        else:
            model = op.model_for(op.data, route.kwargs)
            assert model is not None
            answer["content"] = {"application/json": {"schema": _envelope(refs[model])}}
        if route.is_api:
            answer["headers"] = headers
        responses[str(status)] = answer
    if method == "get":
        responses["304"] = {"description": "Not modified: the `ETag` sent in `If-None-Match` still holds"}
    for code in _error_codes(route, method, op):
        if route.is_api:
            responses[str(code)] = {"$ref": f"#/components/responses/{ERROR_NAMES[code]}"}
        else:
            responses[str(code)] = {"description": STATUS_TEXT.get(code, "Error"),
                                    "content": {"text/plain": {"schema": {"type": "string"}}}}
    return responses


def _allows_null(schema: dict[str, Any]) -> bool:
    kinds = schema.get("type")
    return (kinds == "null" or (isinstance(kinds, list) and "null" in kinds)
            or any(_allows_null(option) for option in schema.get("anyOf", [])))


def _drop_unsendable_defaults(schema: Any) -> None:
    """A partial update's fields default to None in Python to mean "not sent"; a
    `null` the field would refuse is not a default a client can send, so it goes."""
    if isinstance(schema, dict):
        if "default" in schema and schema["default"] is None and not _allows_null(schema):
            del schema["default"]
        for value in schema.values():
            _drop_unsendable_defaults(value)
    elif isinstance(schema, list):
        for value in schema:
            _drop_unsendable_defaults(value)


def _components(models: list[type[pydantic.BaseModel]]) -> tuple[dict[str, Any], dict[type[pydantic.BaseModel], dict[str, Any]]]:
    mapping, definitions = models_json_schema([(model, "validation") for model in models], ref_template=REF)
    refs = {model: mapping[(model, "validation")] for model in models}
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    _drop_unsendable_defaults(schemas)
    schemas["Error"] = {
        "type": "object",
        "required": ["status", "data", "error"],
        "additionalProperties": False,
        "properties": {"status": {"const": 0}, "data": {"type": "null"},
                       "error": {"type": "string", "minLength": 1}},
    }
    return schemas, refs


#: What a webhook receives: not routes of this server, but requests it sends (OpenAPI 3.1 `webhooks`).
WEBHOOK_HEADERS = (
    ("webhook-id", "The event's id (`ping_…` for a test ping): the same on every retry; drop repeats by it"),
    ("webhook-timestamp", "When this try was sent, in Unix seconds; refuse one far from your clock"),
    ("webhook-signature", "`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`,"
                          " keyed with the base64-decoded secret after `whsec_` (Standard Webhooks)"),
)


def _webhooks(refs: dict[type[pydantic.BaseModel], dict[str, Any]]) -> dict[str, Any]:
    def delivery(summary: str, description: str, model: type[pydantic.BaseModel]) -> dict[str, Any]:
        return {"post": {
            "summary": summary, "description": description, "tags": ["Webhooks"], "security": [],
            "parameters": [{"name": name, "in": "header", "required": True, "description": text,
                            "schema": {"type": "string"}} for name, text in WEBHOOK_HEADERS],
            "requestBody": {"required": True, "content": {"application/json": {"schema": refs[model]}}},
            "responses": {
                "2XX": {"description": "Received (within 10 seconds): the webhook's next event is sent"},
                "default": {"description": "Not received (as is a timeout, a refused connection or a"
                                           " redirect): tried again with backoff, 8 tries, then `failing`"},
            },
        }}

    return {
        "event": delivery("A change event", "Each event a webhook subscribes to, as `GET /api/events` shows it,"
                          " one request per event, in order.", answers.Event),
        "ping": delivery("A test ping", "Sent by `POST /api/webhooks/{id}/test`; never retried.",
                         answers.WebhookPingEvent),
    }


def build_document(routes: list[Route]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of these routes, and of what webhooks receive."""
    schemas, refs = _components(list(dict.fromkeys([*_models(routes), answers.Event, answers.WebhookPingEvent])))
    paths: dict[str, Any] = {}
    for route in routes:
        item = paths.setdefault(route.template(), {})
        for method in route.methods():
            item[method] = _operation(route, method, refs)
    headers = {name: {"description": text, "schema": {"type": "integer"}} for name, text in RATE_HEADERS.items()}
    responses = {
        ERROR_NAMES[code]: {
            "description": text,
            "headers": {**{name: {"$ref": f"#/components/headers/{name}"} for name in RATE_HEADERS},
                        **({"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
                           if code in (429, 503) else {})},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for code, text in STATUS_TEXT.items()
    }
    headers["Retry-After"] = {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
    # Tags in the order the routing table first names them: products first.
    tags = list(dict.fromkeys(op["tags"][0] for item in paths.values() for op in item.values()))
    return {
        "openapi": "3.1.0",
        "info": {"title": "MicroPIM API", "version": _version(), "description": DESCRIPTION,
                 "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        "servers": [{"url": "/", "description": "This server"}],
        "security": [{"ApiKey": []}],
        "tags": [{"name": name} for name in tags],
        "paths": paths,
        "webhooks": _webhooks(refs),
        "components": {
            "securitySchemes": {"ApiKey": {
                "type": "apiKey", "in": "header", "name": "X-API-KEY",
                "description": "An organization's API key, `mpk_…`, of scope `write` (everything)"
                               " or `read` (only what changes nothing)"}},
            "schemas": schemas,
            "responses": responses,
            "headers": headers,
        },
    }


def _version() -> str:
    try:
        return metadata.version("micropim")
    except metadata.PackageNotFoundError:
        return "0"


def check_declarations(app: tornado.web.Application) -> None:
    """Raise DeclarationError unless every route's methods declare themselves in a way
    the document can show (about a millisecond; the document itself takes 40 ms and is
    built when first asked for)."""
    routes = routes_of(app)
    for route in routes:
        route.template()
        for method in route.methods():
            route.operation(method)
    _models(routes)


def document_text(app: tornado.web.Application) -> str:
    """The document of the application's routes as JSON text."""
    return json.dumps(build_document(routes_of(app)), ensure_ascii=False, separators=(",", ":"))


# ---- the routes ------------------------------------------------------------------------------

#: `?v=` on the docs page's files: the version the page asks for, so a new release is a
#: new URL and the old one may be kept for a year. Pages and files outside /api/ and
#: /media/ ignore other query parameters: a browser's address (a bookmark with
#: tracking tags) must not turn a page into an error.
VERSION = TextParam("v", "The release the page asks for (`5.35.0`); with it the file is"
                    " cached for a year", max_length=32)
OPENAPI_JSON = RawBody("application/json", "The OpenAPI 3.1 document of this server",
                       {"type": "object"})


class OpenApiHandler(BaseHandler):
    """GET /api/openapi.json: the document itself, without key or envelope.

    It holds no catalog data, and tools (and the docs page) must be able to load it
    before they have a key. Errors (405, 429) are still the envelope.
    """

    requires_key = False

    @operation(data=OPENAPI_JSON)
    def get(self) -> None:
        """This OpenAPI document

        Public (no key) and not wrapped in the envelope, so that tools can load it.
        """
        self.finish(self.app.openapi_document)


class DocsPageHandler(PublicHandler):
    """GET /docs: the API reference page (Swagger UI over /api/openapi.json)."""

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", DOCS_CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-cache")

    @operation(data=RawBody("text/html", "The API reference page", {"type": "string"}))
    def get(self) -> None:
        """The API reference page

        Swagger UI, served from this server (nothing from another host), reading
        /api/openapi.json; "Try it out" sends the key from "Authorize" (or the one the
        web UI keeps in this tab's session storage).
        """
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        with open(os.path.join(static_root(), "docs", "index.html"), "rb") as page:
            self.finish(page.read())

    head = get


class DocsFileHandler(PublicFileHandler):
    """The docs page's script and the vendored Swagger UI files: the route's `files`
    of its folder, and a plain-text 404 for any other path under it.

    Asked for with `?v=` (the page does), a file is kept by browsers for a year: the
    version in the URL changes whenever the file does.
    """

    CACHE_MAX_AGE = 365 * 24 * 3600

    @staticmethod
    def path_params(route_kwargs: dict[str, Any]) -> tuple[PathParam, ...]:
        return (PathParam("file", {"type": "string", "enum": list(route_kwargs["files"])},
                          "The file's name"),)

    def initialize(self, path: str, files: tuple[str, ...] = ()) -> None:  # type: ignore[override]
        super().initialize(path)
        self.files = files

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")

    def get_cache_time(self, path: str, modified: Any, mime_type: str) -> int:
        return self.CACHE_MAX_AGE if "v" in self.request.arguments else 0

    def set_extra_headers(self, path: str) -> None:
        if "v" in self.request.arguments:
            self.set_header("Cache-Control", f"public, max-age={self.CACHE_MAX_AGE}, immutable")
        else:
            self.set_header("Cache-Control", "no-cache")

    @operation(data=RawBody("*/*", "The file"), query=(VERSION,), errors=(404,))
    async def get(self, path: str, include_body: bool = True) -> None:
        """A file of the API reference page

        The page's own script or a vendored Swagger UI file (`?v=` makes it cacheable
        for a year).
        """
        if path not in self.files:
            raise tornado.web.HTTPError(404)
        await super().get(path, include_body)


def docs_routes() -> list[tuple[Any, ...]]:
    """The document, the page and its files: appended to `micropim.routes()`."""
    static = static_root()
    return [
        (r"/api/openapi.json", OpenApiHandler),
        (r"/docs", DocsPageHandler),
        # Every path under /docs/ is the files' route, so that one not served is their
        # plain-text 404, as documented; the vendored files' folder first.
        (r"/docs/swagger-ui/(.*)", DocsFileHandler,
         {"path": os.path.join(static, "vendor", "swagger-ui"),
          "files": ("swagger-ui-bundle.js", "swagger-ui.css")}),
        (r"/docs/(.*)", DocsFileHandler, {"path": os.path.join(static, "docs"), "files": ("docs.js", "docs.css")}),
    ]
