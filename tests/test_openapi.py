"""The OpenAPI document: it validates, it covers every route of `make_app`, and every
answer the server gives fits the schema the document shows for it; the /docs page
and its vendored Swagger UI.

The walk below sends real requests to every operation (successes first, then the
errors) and checks each answer against the document's schema for that path, method
and status with jsonschema, so a wrong schema, a new field or an undocumented status
fails here.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import re
import time
from typing import Any

import jsonschema
import pytest
import referencing
import referencing.jsonschema
import tornado.web
from openapi_spec_validator import validate as validate_spec

import micropim
from handlers.app import Application
from handlers.base import BaseHandler
from handlers.openapi import SWAGGER_UI_VERSION, Route, build_document
from handlers.schemas import Product
from handlers.spec import PAGE, IntParam, operation
from store import orgs
from store.db import Database
from tests.test_contract import BARCODE_GROUP, EAN, ID_GROUP, MISSING_ID, fill, sample_ids  # noqa: F401
from tests.factories import draw, multipart
from tests.test_media import images, settings  # noqa: F401 (fixtures)

ROOT = pathlib.Path(__file__).resolve().parent.parent
VENDOR = ROOT / "static" / "vendor" / "swagger-ui"
SAMPLE_GROUPS = {ID_GROUP: "1", BARCODE_GROUP: EAN, r"(.*)": "x.webp"}


# ---- the document against the routing table --------------------------------------------------

@pytest.fixture
def document(app: Application) -> dict[str, Any]:
    return dict(json.loads(app.openapi_document))


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[A-Za-z]+\\\}", "[^/]+", re.escape(template)) + "$")


def find_template(document: dict[str, Any], path: str) -> str:
    """The document's path template a concrete path falls under; literal text wins
    (`/api/products/image-search` is not `/api/products/{id}`)."""
    matching = [t for t in document["paths"] if _template_regex(t).match(path)]
    assert matching, f"{path} is under no path of the document"
    return max(matching, key=lambda t: len(re.sub(r"\{[^}]+\}", "", t)))


def _concrete(pattern: str) -> str:
    """A path the route's regex matches, written without the document's help."""
    groups = re.findall(r"\((?:[^()\\]|\\.)*\)", pattern)
    path = pattern
    for group in groups:
        if group in SAMPLE_GROUPS:
            sample = SAMPLE_GROUPS[group]
        else:  # an alternation of file names: the first one
            sample = group[1:-1].split("|")[0].replace("\\", "")
        path = path.replace(group, sample, 1)
    return path.replace("\\", "")


def test_every_route_and_method_of_make_app_is_in_the_document(
    app: tornado.web.Application, document: dict[str, Any]
) -> None:
    rules = [rule for rule in app.wildcard_router.rules if isinstance(rule.target, type)]
    seen = 0
    for rule in rules:
        handler = rule.target
        path = _concrete(rule.matcher.regex.pattern.removesuffix("$"))
        assert rule.matcher.regex.match(path), (rule.matcher.regex.pattern, path)
        template = find_template(document, path)
        methods = [m for m in ("get", "post", "put", "patch", "delete")
                   if getattr(handler, m) is not getattr(tornado.web.RequestHandler, m)]
        assert methods, handler
        for method in methods:
            assert method in document["paths"][template], f"{method.upper()} {template}"
            seen += 1
        # ... and nothing more than the handler implements.
        assert set(document["paths"][template]) == set(methods), template
    assert len(document["paths"]) == len(rules)
    assert seen == sum(len(item) for item in document["paths"].values())
    assert seen >= 70


def test_the_document_validates_as_openapi_3_1(document: dict[str, Any]) -> None:
    started = time.perf_counter()
    validate_spec(document)
    print(f"openapi-spec-validator: {time.perf_counter() - started:.2f} s")
    assert document["openapi"] == "3.1.0"


def test_path_parameters_are_named_as_in_the_contract(document: dict[str, Any]) -> None:
    for template in ("/api/products/{id}", "/api/products/{id}/variants/{variantId}",
                     "/api/products/barcode/{barcode}", "/api/categories/{id}/products/{productId}",
                     "/api/products/{id}/media/{mediaId}", "/api/products/{id}/translations/{locale}",
                     "/api/product-attributes/{id}", "/api/categories/{id}/move"):
        assert template in document["paths"], template
        for operation_ in document["paths"][template].values():
            names = [p["name"] for p in operation_["parameters"] if p["in"] == "path"]
            assert names == re.findall(r"\{([^}]+)\}", template)


def test_the_key_is_required_exactly_where_the_server_asks_for_it(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey", "in": "header", "name": "X-API-KEY",
        "description": "An organization's API key, `mpk_…`, of scope `write` (everything)"
                       " or `read` (only what changes nothing)"}
    assert document["security"] == [{"ApiKey": []}]
    public = {(t, m) for t, item in document["paths"].items() for m, op in item.items()
              if op.get("security") == []}
    assert public == {("/api/openapi.json", "get"), ("/media/{file}", "get"), ("/docs", "get"),
                      ("/docs/{file}", "get"), ("/docs/swagger-ui/{file}", "get"),
                      ("/", "get"), ("/ui/{path}", "get")}
    for template, item in document["paths"].items():
        for method, op in item.items():
            keyed = (template, method) not in public
            assert ("401" in op["responses"]) == keyed, (method, template)


def test_bodies_are_the_handlers_own_models(document: dict[str, Any]) -> None:
    """The request schemas are the pydantic models handlers validate with."""
    from handlers.categories import CategoryMove
    from handlers.products import ProductCreate

    schemas = document["components"]["schemas"]
    created = document["paths"]["/api/products"]["post"]["requestBody"]["content"]
    assert created["application/json"]["schema"] == {"$ref": "#/components/schemas/ProductCreate"}
    assert schemas["ProductCreate"]["required"] == ["name", "sku"]
    assert schemas["ProductCreate"]["additionalProperties"] is False
    assert set(schemas["ProductCreate"]["properties"]) == set(ProductCreate.model_fields)
    assert set(schemas["CategoryMove"]["properties"]) == set(CategoryMove.model_fields)
    brand = document["paths"]["/api/brands"]["post"]["requestBody"]["content"]["application/json"]
    vat = document["paths"]["/api/vat-rates/{id}"]["patch"]["requestBody"]["content"]["application/json"]
    assert brand["schema"]["$ref"].endswith("/BrandCreate")
    assert vat["schema"]["$ref"].endswith("/VatRatePatch")
    search = document["paths"]["/api/products/image-search"]["post"]["requestBody"]["content"]
    assert set(search) == {"multipart/form-data"}
    assert search["multipart/form-data"]["schema"]["required"] == ["image"]
    media = document["paths"]["/api/products/{id}/media"]["post"]["requestBody"]["content"]
    assert set(media) == {"application/json", "multipart/form-data"}
    assert set(media["multipart/form-data"]["schema"]["properties"]) == {"file", "alt_text", "position"}
    # No pydantic $defs left behind: every reference points into components.
    text = json.dumps(document)
    assert "$defs" not in text
    for ref in re.findall(r'"\$ref": ?"([^"]+)"', text):
        kind, name = ref.split("/")[2:4]
        assert name in document["components"][kind], ref


async def test_the_document_is_public_raw_json(anon: Any) -> None:
    response = await anon.get("/api/openapi.json")
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.body["openapi"] == "3.1.0" and "status" not in response.body
    assert response.headers["RateLimit-Limit"].isdigit()
    again = await anon.get("/api/openapi.json", headers={"If-None-Match": response.headers["Etag"]})
    assert again.code == 304
    wrong = await anon.post("/api/openapi.json", {})
    assert wrong.code == 405
    assert wrong.body == {"status": 0, "data": None, "error": "method POST not allowed on /api/openapi.json"}


# ---- declarations are what the handlers validate with ----------------------------------------

class UndeclaredParamHandler(BaseHandler):
    requires_key = False

    @operation(data=Product)
    def get(self) -> None:
        """Reads a parameter it does not declare"""
        self.reply({"page": self.page_args()})


class UndeclaredBodyHandler(BaseHandler):
    requires_key = False

    @operation(data=Product, query=(PAGE,))
    def post(self) -> None:
        """Reads a body it does not declare"""
        from handlers.products import ProductCreate

        self.reply(self.json_body(ProductCreate).model_dump())


async def test_reading_what_is_not_declared_is_a_500(
    app: tornado.web.Application, anon: Any, caplog: Any
) -> None:
    app.add_handlers(r".*", [(r"/api/test-param", UndeclaredParamHandler),
                            (r"/api/test-body", UndeclaredBodyHandler)])
    response = await anon.get("/api/test-param")
    assert response.code == 500
    response = await anon.post("/api/test-body", {"name": "a", "sku": "b"})
    assert response.code == 500
    assert "not declared" in caplog.text and "not the declared one" in caplog.text


class NoDeclarationHandler(BaseHandler):
    def get(self, raw_id: str) -> None:
        self.reply({})


class WrongPathParamsHandler(BaseHandler):
    path_params = ()

    @operation(data=Product)
    def get(self, raw_id: str) -> None:
        """A route regex with a group its declaration does not name"""


@pytest.mark.parametrize("handler, message", [
    (NoDeclarationHandler, "NoDeclarationHandler.get (/api/x/([0-9]{1,19})) has no @operation declaration"),
    (WrongPathParamsHandler, "has more groups than path_params names"),
])
def test_a_route_without_a_fitting_declaration_cannot_be_documented(handler: Any, message: str) -> None:
    with pytest.raises(RuntimeError, match=re.escape(message)):
        build_document([Route(r"/api/x/([0-9]{1,19})$", handler, {})])


def test_query_parameters_keep_the_handlers_messages() -> None:
    limit = IntParam("limit", "", 1, 100, 20)
    assert limit.parse(None) == 20 and limit.parse("7") == 7
    for raw, message in (("0", "limit: must be between 1 and 100"), ("1e3", "limit: must be an integer")):
        with pytest.raises(Exception, match=re.escape(message)):
            limit.parse(raw)
    assert limit.schema() == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}


# ---- every answer against its schema ----------------------------------------------------------

class Checker:
    """Checks an answer against the document's schema for its path, method and status."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = referencing.Resource.from_contents(
            {**document, "$id": "urn:micropim:openapi"}, referencing.jsonschema.DRAFT202012)
        self.registry: referencing.Registry[Any] = referencing.Registry().with_resource(
            "urn:micropim:openapi", resource)
        self.successes: set[tuple[str, str]] = set()
        self.checked = 0

    def response_of(self, template: str, method: str, status: int) -> dict[str, Any]:
        responses = self.document["paths"][template][method]["responses"]
        assert str(status) in responses, f"{method.upper()} {template} answered {status}, not documented"
        found = responses[str(status)]
        if "$ref" in found:
            found = self.document["components"]["responses"][found["$ref"].rsplit("/", 1)[1]]
        return dict(found)

    def check(self, method: str, path: str, response: Any) -> Any:
        template = find_template(self.document, path.split("?")[0])
        method = method.lower()
        answer = self.response_of(template, method, response.code)
        if response.code == 304:
            return response
        content = answer["content"]
        got = response.headers.get("Content-Type", "").split(";")[0]
        media = next((m for m in content
                      if m in (got, "*/*") or (m.endswith("/*") and got.startswith(m[:-1]))), None)
        assert media is not None, f"{method.upper()} {path}: {got} is not one of {list(content)}"
        if media == "application/json":
            pointer = "/".join(part.replace("~", "~0").replace("/", "~1")
                               for part in ("paths", template, method, "responses", str(response.code),
                                            "content", "application/json", "schema"))
            schema: dict[str, Any] = {"$ref": f"urn:micropim:openapi#/{pointer}"}
            if "$ref" in self.document["paths"][template][method]["responses"][str(response.code)]:
                schema = {"$ref": "urn:micropim:openapi#/components/schemas/Error"}
            body = json.loads(response.raw)
            validator = jsonschema.Draft202012Validator(schema, registry=self.registry)
            errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
            assert not errors, (f"{method.upper()} {path} {response.code}: "
                                + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]))
        if response.code < 300:
            self.successes.add((template, method))
        self.checked += 1
        return response


@pytest.fixture
def checker(document: dict[str, Any]) -> Checker:
    return Checker(document)


class Walk:
    """An API client whose every answer goes through the checker."""

    def __init__(self, api: Any, checker: Checker) -> None:
        self.api, self.checker = api, checker

    async def call(self, method: str, path: str, body: Any = None, expect: int | None = None,
                   **kw: Any) -> Any:
        response = await self.api.call(method, path, body, **kw)
        if expect is not None:
            assert response.code == expect, (method, path, response.code, response.raw[:300])
        # Every operation documents 500 (a bug's answer), so only this catches one.
        assert response.code != 500 or expect == 500, (method, path, response.raw[:300])
        return self.checker.check(method, path, response)

    async def upload(self, path: str, field: str, data: bytes, expect: int, **fields: str) -> Any:
        raw, content_type = multipart(fields, {field: ("photo.png", data)})
        return await self.call("POST", path, raw=raw, headers={"Content-Type": content_type}, expect=expect)


@pytest.fixture
def walk(api: Any, checker: Checker) -> Walk:
    return Walk(api, checker)


async def _successes(walk: Walk, ids: dict[str, int], images: Any) -> None:  # noqa: F811
    """A 2xx from every operation, each checked against its schema."""
    product, category = ids["products"], ids["categories"]
    # Reads of the sample rows (test_contract's sample_ids), every GET route.
    for route in micropim.routes():
        pattern, handler = route[0], route[1]
        if pattern.startswith("/api/") and getattr(handler, "get") is not getattr(tornado.web.RequestHandler, "get"):
            await walk.call("GET", fill(pattern, ids, 1), expect=200)
    await walk.call("GET", f"/api/products/{product}?locale=de&include=stock_levels,variants", expect=200)
    await walk.call("GET", "/api/products?search=mug&status=draft&sort=-name&include_subcategories=true", expect=200)
    listed = await walk.call("GET", "/api/products?sku=MUG-1,MUG-1-V&include=variants,stock_levels&status=any",
                             expect=200)
    assert set(listed.body["data"]["products"][0]) >= {"stock_levels", "variants", "matched_variants"}
    await walk.call("GET", f"/api/categories/{category}/products?include=stock_levels", expect=200)
    # Products and their stock and translations.
    brand, supplier, vat = ids["brands"], ids["suppliers"], ids["vat-rates"]
    created = await walk.call("POST", "/api/products", {
        "name": "Lamp", "sku": "LAMP-1", "price": "10", "sale_price": 8, "brand_id": brand,
        "supplier_id": supplier, "vat_rate_id": vat, "category_ids": [category],
        "publishing_channels": ["web"], "ean": "5940000000028", "stock": 3}, expect=201)
    lamp = created.body["data"]["id"]
    await walk.call("PATCH", f"/api/products/{lamp}", {"price": "9.5", "attributes": {}}, expect=200)
    await walk.call("PUT", f"/api/products/{lamp}/stock",
                    [{"warehouse_id": ids["warehouses"], "quantity": 2}], expect=200)
    await walk.call("GET", "/api/products/barcode/5940000000028", expect=200)
    await walk.call("PUT", f"/api/products/{lamp}/translations/ro", {"name": "Lampa"}, expect=201)
    await walk.call("PUT", f"/api/products/{lamp}/translations/ro", {"name": "Lampă"}, expect=200)
    await walk.call("PUT", "/api/channels", {"channels": [{"value": "web"}, {"value": "email"}]}, expect=200)
    # Categories.
    cups = (await walk.call("POST", "/api/categories", {"name": "Cups"}, expect=201)).body["data"]["id"]
    await walk.call("PUT", f"/api/categories/{cups}", {"description": "All cups"}, expect=200)
    await walk.call("POST", f"/api/categories/{cups}/move", {"parent_id": category, "position": 0}, expect=200)
    await walk.call("GET", "/api/categories/tree", expect=200)
    await walk.call("POST", f"/api/categories/{cups}/products", {"product_ids": [lamp]}, expect=200)
    await walk.call("DELETE", f"/api/categories/{cups}/products/{lamp}", expect=200)
    # Attributes and variants.
    await walk.call("POST", "/api/product-attributes", {
        "name": "Size", "type": "select", "options": ["S", "M"], "is_variant_axis": True}, expect=201)
    size = (await walk.call("POST", "/api/product-attributes", {
        "name": "Fit", "type": "select", "options": ["Slim", "Wide"], "is_variant_axis": True},
        expect=201)).body["data"]["id"]
    await walk.call("PUT", f"/api/product-attributes/{size}", {"name": "Cut"}, expect=200)
    await walk.call("PATCH", f"/api/product-attributes/{size}", {"unit": "cm"}, expect=200)
    variant = (await walk.call("POST", f"/api/products/{product}/variants",
                               {"sku": "MUG-1-S", "price": "4", "attributes": {"size": "S"}},
                               expect=201)).body["data"]["id"]
    await walk.call("PATCH", f"/api/products/{product}/variants/{variant}", {"stock_quantity": 4}, expect=200)
    await walk.call("GET", f"/api/products/{product}/variants", expect=200)
    # Media, by upload and by URL, and image search.
    picture = draw(5)
    uploaded = await walk.upload(f"/api/products/{product}/media", "file", picture, 201, alt_text="Front")
    url = images.add("/lamp.png", draw(6))
    fetched = await walk.call("POST", f"/api/products/{lamp}/media", {"file_url": url}, expect=201)
    await walk.call("PATCH", f"/api/products/{lamp}/media/{fetched.body['data']['id']}",
                    {"alt_text": "Lamp"}, expect=200)
    found = await walk.upload("/api/products/image-search", "image", picture, 200, limit="3")
    assert found.body["data"]["products"], found.body
    rendition = uploaded.body["data"]["url"].removeprefix("http://pim.test")
    await walk.call("GET", rendition, expect=200)
    await walk.call("GET", rendition + "?w=160", expect=200)
    await walk.call("GET", uploaded.body["data"]["original_url"].removeprefix("http://pim.test"), expect=200)
    # Brands, suppliers, VAT rates, warehouses.
    for path, body in (("brands", {"name": "Acme"}), ("suppliers", {"name": "Parts", "email": "a@b.c"}),
                       ("vat-rates", {"name": "Low", "rate": "9", "country_code": "RO"}),
                       ("warehouses", {"name": "North", "code": "N"})):
        row = (await walk.call("POST", f"/api/{path}", body, expect=201)).body["data"]["id"]
        await walk.call("PATCH", f"/api/{path}/{row}", {"name": "Renamed"}, expect=200)
        await walk.call("PUT", f"/api/{path}/{row}", {"name": "Again"}, expect=200)
        await walk.call("DELETE", f"/api/{path}/{row}", expect=200)
    # Bulk import, import jobs and exports.
    feed = b'{"sku": "BULK-1", "name": "Bulk"}\n{"sku": "BULK-2"}\n'
    ndjson = {"Content-Type": "application/x-ndjson"}
    await walk.call("POST", "/api/products/bulk?dry_run=true", raw=feed, headers=ndjson, expect=200)
    await walk.call("POST", "/api/products/bulk", raw=b"sku,name\nBULK-3,Csv\n",
                    headers={"Content-Type": "text/csv"}, expect=200)
    await walk.call("POST", "/api/categories/bulk", raw=b'{"path": "Home > Kitchen"}\n', headers=ndjson, expect=200)
    job = await walk.call("POST", "/api/imports?dry_run=true", raw=feed, headers=ndjson, expect=202)
    await walk.call("GET", f"/api/imports/{job.body['data']['id']}", expect=200)
    await walk.call("GET", "/api/imports", expect=200)
    queued = await walk.call("POST", "/api/imports", raw=feed, headers=ndjson, expect=202)
    cancelled = await walk.api.call("DELETE", f"/api/imports/{queued.body['data']['id']}")
    if cancelled.code == 200:  # unless it finished first
        walk.checker.check("DELETE", f"/api/imports/{queued.body['data']['id']}", cancelled)
    else:
        assert cancelled.code == 400, cancelled.body
        await walk.call("DELETE", f"/api/imports/{ids['imports']}", expect=200)
    await walk.call("GET", "/api/products/export?format=csv", expect=200)
    await walk.call("GET", "/api/products/export", expect=200)
    await walk.call("GET", "/api/categories/export?format=csv", expect=200)
    # Webhooks (not delivering here: the sender is not started; a public address
    # literal passes the URL check without a lookup, and the ping goes to the sample's
    # private address, refused before any connection).
    hook = (await walk.call("POST", "/api/webhooks", {"url": "https://1.1.1.1/hook", "events": ["product.*"],
                                                      "description": "Shop"}, expect=201)).body["data"]["id"]
    await walk.call("PATCH", f"/api/webhooks/{hook}", {"events": ["*"], "enabled": False}, expect=200)
    await walk.call("POST", f"/api/webhooks/{hook}/rotate-secret", expect=200)
    await walk.call("POST", f"/api/webhooks/{hook}/redeliver", {"after": 0}, expect=200)
    await walk.call("POST", f"/api/webhooks/{ids['webhooks']}/test", expect=200)
    await walk.call("GET", f"/api/webhooks/{ids['webhooks']}/deliveries", expect=200)
    await walk.call("DELETE", f"/api/webhooks/{hook}", expect=200)
    # Deletes last.
    await walk.call("DELETE", f"/api/products/{product}/variants/{variant}", expect=200)
    await walk.call("DELETE", f"/api/products/{product}/media/{uploaded.body['data']['id']}", expect=200)
    await walk.call("DELETE", f"/api/products/{lamp}/translations/ro", expect=200)
    await walk.call("DELETE", f"/api/product-attributes/{size}", expect=200)
    await walk.call("DELETE", f"/api/categories/{cups}", expect=200)
    await walk.call("DELETE", f"/api/products/{lamp}", expect=200)
    # The public routes.
    for path in ("/api/openapi.json", "/docs", "/docs/docs.js",
                 f"/docs/swagger-ui/swagger-ui.css?v={SWAGGER_UI_VERSION}", "/", "/ui/icon.svg"):
        await walk.call("GET", path, expect=200)


async def test_every_operation_answers_what_the_document_says(
    walk: Walk, checker: Checker, sample_ids: dict[str, int],  # noqa: F811
    images: Any, document: dict[str, Any],  # noqa: F811
) -> None:
    await _successes(walk, sample_ids, images)
    every = {(t, m) for t, item in document["paths"].items() for m in item}
    assert checker.successes == every, f"no 2xx checked for {sorted(every - checker.successes)}"


async def test_every_error_answer_fits_the_document(
    walk: Walk, checker: Checker, sample_ids: dict[str, int], org_id: int,  # noqa: F811
    app: Application, db: Database,
) -> None:
    """Empty bodies, missing ids, no key, a disabled organization, an exhausted bucket:
    each answer's status is documented for its operation, and its body is the error."""
    api_routes = [(r[0], r[1]) for r in micropim.routes()
                  if r[0].startswith("/api/") and getattr(r[1], "requires_key", True)]
    for pattern, handler in api_routes:
        for method in ("get", "post", "put", "patch", "delete"):
            if getattr(handler, method) is getattr(tornado.web.RequestHandler, method):
                continue
            body: Any = {} if method in ("post", "put", "patch") else None
            if pattern.endswith("/stock") and method == "put":
                body = []
            await walk.call(method.upper(), fill(pattern, sample_ids, 1), body)
            if ID_GROUP in pattern:
                await walk.call(method.upper(), fill(pattern, {}, MISSING_ID), body, expect=404)
            await walk.call(method.upper(), fill(pattern, sample_ids, 1), body, key=None, expect=401)
            unknown = await walk.call(method.upper(), fill(pattern, sample_ids, 1) + "?limt=5", body, expect=400)
            assert unknown.body["error"] == "limt: unknown query parameter", (method, pattern)
    await walk.call("GET", "/api/products?limit=500", expect=400)
    await walk.call("POST", "/api/brands", raw=b"x" * (2 * 1024 * 1024), expect=413)
    await walk.call("GET", "/media/AAAAAAAAAAAAAAAAAAAAAAAA.webp", expect=404)
    limiter = app.rate_limiter
    limiter.bucket("127.0.0.1", False).tokens = 0.0
    await walk.call("GET", "/api/products", expect=429)
    limiter.bucket("127.0.0.1", False).tokens = 100.0
    with db.writing():
        orgs.set_org_active(db, org_id, False)
    await walk.call("GET", "/api/products", expect=403)
    assert checker.checked > 150


async def test_a_wrong_schema_fails_the_check(walk: Walk, document: dict[str, Any]) -> None:
    """The check is not vacuous: a field the answer has and the schema lacks, or the
    other way round, and a status the operation does not list, all fail it."""
    created = await walk.call("POST", "/api/products", {"name": "Lamp", "sku": "L-1"}, expect=201)
    product = document["components"]["schemas"]["Product"]
    del product["properties"]["sku"]
    with pytest.raises(AssertionError, match="Additional properties are not allowed"):
        Checker(document).check("POST", "/api/products", created)
    product["properties"]["sku"] = {"type": "string"}
    product["required"].append("barcode")
    with pytest.raises(AssertionError, match="'barcode' is a required property"):
        Checker(document).check("POST", "/api/products", created)
    del document["paths"]["/api/products"]["post"]["responses"]["201"]
    with pytest.raises(AssertionError, match="answered 201, not documented"):
        Checker(document).check("POST", "/api/products", created)


# ---- the /docs page and its vendored files ------------------------------------------------------

def _vendored() -> dict[str, str]:
    readme = (VENDOR / "README.md").read_text()
    return dict(re.findall(r"^\| ([\w.-]+) \| `([0-9a-f]{64})` \|$", readme, re.M))


def test_vendored_files_are_the_pinned_release_unchanged() -> None:
    hashes = _vendored()
    assert set(hashes) == {p.name for p in VENDOR.iterdir()} - {"README.md"}
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"} <= set(hashes)
    for name, expected in hashes.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == expected, name
    readme = (VENDOR / "README.md").read_text()
    assert f"`swagger-ui-dist` {SWAGGER_UI_VERSION}" in readme
    assert f"swagger-ui-dist-{SWAGGER_UI_VERSION}.tgz" in readme


def test_the_page_loads_only_this_servers_files() -> None:
    page = (ROOT / "static" / "docs" / "index.html").read_text()
    script = (ROOT / "static" / "docs" / "docs.js").read_text()
    assert "<script>" not in page and "<style" not in page and not re.search(r"\son[a-z]+=", page)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    assert f"swagger-ui-bundle.js?v={SWAGGER_UI_VERSION}" in page
    assert f"swagger-ui.css?v={SWAGGER_UI_VERSION}" in page
    assert "http" not in script and "validatorUrl: null" in script
    assert '"micropim.key"' in script


async def test_the_page_and_its_files_are_served_with_their_headers(anon: Any) -> None:
    page = await anon.get("/docs")
    assert page.code == 200 and page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self';" in csp
    assert "http" not in csp and "unsafe" not in csp
    assert b'id="swagger-ui"' in page.raw
    bundle = await anon.get(f"/docs/swagger-ui/swagger-ui-bundle.js?v={SWAGGER_UI_VERSION}")
    assert bundle.code == 200
    assert bundle.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert hashlib.sha256(bundle.raw).hexdigest() == _vendored()["swagger-ui-bundle.js"]
    script = await anon.get("/docs/docs.js")
    assert script.code == 200 and script.headers["Cache-Control"] == "no-cache"
    for path in ("/docs/swagger-ui/LICENSE", "/docs/swagger-ui/README.md", "/docs/../micropim.py",
                 "/docs/swagger-ui/swagger-ui-bundle.js.map"):
        assert (await anon.get(path)).code == 404, path


class UiPageHandler(tornado.web.RequestHandler):
    """The web UI's page"""

    def get(self, rest: str) -> None:
        self.finish("<!doctype html>")


def test_pages_and_files_outside_the_api_need_no_declaration() -> None:
    """Another feature's static files and pages (the web UI's) are documented as public
    GETs; only routes under /api/ must declare themselves."""
    document = build_document([
        Route(r"/ui/(.*)$", tornado.web.StaticFileHandler, {"path": str(ROOT / "static")}),
        Route(r"/app/(.*)$", UiPageHandler, {}),
    ])
    assert set(document["paths"]) == {"/ui/{path}", "/app/{path}"}
    page = document["paths"]["/app/{path}"]["get"]
    assert page["summary"] == "The web UI's page" and page["security"] == []
    assert document["paths"]["/ui/{path}"]["get"]["summary"] == "A page or file"
    validate_spec(document)


# ---- conformance: 405 and the errors of pages and files ----------------------------------------

def _allow(listed: list[str]) -> str:
    methods = [m.upper() for m in listed]
    return ", ".join(methods[:1] + ["HEAD"] + methods[1:] if methods[:1] == ["GET"] else methods)


async def test_every_405_says_allow_with_the_methods_the_document_lists(
    api: Any, document: dict[str, Any], sample_ids: dict[str, int],  # noqa: F811
) -> None:
    checked = 0
    for route in micropim.routes():
        pattern = route[0]
        path = fill(pattern, sample_ids, 1) if pattern.startswith("/api/") else _concrete(pattern)
        listed = list(document["paths"][find_template(document, path)])
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            if method.lower() in listed:
                continue
            response = await api.call(method, path, {} if method in ("POST", "PUT", "PATCH") else None)
            assert response.code == 405, (method, path, response.code)
            assert response.headers.get("Allow") == _allow(listed), (method, path)
            checked += 1
    response = await api.call("TRACE", "/api/products")  # a method Tornado does not know
    assert response.code == 405 and response.headers["Allow"] == "GET, HEAD, POST"
    assert checked > 80


@pytest.mark.parametrize("path, template", [
    ("/ui/", "/ui/{path}"), ("/ui/js", "/ui/{path}"), ("/ui/js/", "/ui/{path}"),
    ("/ui/nope.js", "/ui/{path}"), ("/ui/../../micropim.py", "/ui/{path}"),
    ("/ui/%2e%2e/%2e%2e/setup.cfg", "/ui/{path}"), ("/docs/", "/docs/{file}"),
    ("/docs/nope", "/docs/{file}"), ("/docs/a/b", "/docs/{file}"),
    ("/docs/swagger-ui/", "/docs/swagger-ui/{file}"), ("/docs/swagger-ui/LICENSE", "/docs/swagger-ui/{file}"),
    ("/docs/swagger-ui/swagger-ui-bundle.js.map", "/docs/swagger-ui/{file}"), ("/media/nope", "/media/{file}"),
])
async def test_pages_and_files_outside_the_api_answer_a_missing_file_as_documented(
    api: Any, document: dict[str, Any], path: str, template: str,
) -> None:
    """A folder, a path outside the folder and a missing file are the same plain-text
    404 the document declares for the route, never Tornado's HTML page or a 403."""
    declared = document["paths"][template]["get"]["responses"]["404"]["content"]
    assert list(declared) == ["text/plain"]
    for method in ("GET", "HEAD"):  # HEAD is GET's, documented with it
        response = await api.call(method, path)
        assert response.code == 404, (method, path, response.code)
        assert response.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert (await api.get(path)).raw == b"not found\n"


def test_the_docs_files_are_declared_as_the_files_served(document: dict[str, Any]) -> None:
    served = {template: item["get"]["parameters"][0]["schema"]["enum"]
              for template, item in document["paths"].items() if template.startswith("/docs/")}
    assert served == {"/docs/{file}": ["docs.js", "docs.css"],
                      "/docs/swagger-ui/{file}": ["swagger-ui-bundle.js", "swagger-ui.css"]}
    for template, files in served.items():
        for name in files:
            assert (ROOT / "static" / ("vendor/swagger-ui" if "swagger" in template else "docs") / name).is_file()


@pytest.mark.parametrize("schema_name, field, samples", [
    ("ProductCreate", "currency", ["EUR", "RON", "USD", "eur", "XYZ", "EURO", ""]),
    ("VatRateCreate", "country_code", ["RO", "DE", "ro", "R0", "ROU", "", "É1"]),
    ("AttributeCreate", "code", ["color", "a_0", "x" * 64, "x" * 65, "0a", "Color", "a-b", ""]),
])
def test_declared_codes_are_the_ones_the_server_takes(document: dict[str, Any], schema_name: str,
                                                      field: str, samples: list[str]) -> None:
    """Found by fuzzing: the document said "a string" for codes the server checks, so
    generated requests (and clients) could not know a valid one. The declared enum or
    pattern and the validator agree on every sample."""
    from handlers.attributes import AttributeCreate
    from handlers.products import ProductCreate
    from handlers.reference import VatRateCreate

    model = {"ProductCreate": ProductCreate, "VatRateCreate": VatRateCreate,
             "AttributeCreate": AttributeCreate}[schema_name]
    declared = document["components"]["schemas"][schema_name]["properties"][field]
    assert "enum" in declared or "pattern" in declared, declared
    base = {"ProductCreate": {"name": "Mug", "sku": "M-1"}, "VatRateCreate": {"name": "Std", "rate": 19},
            "AttributeCreate": {"name": "Colour", "type": "text"}}[schema_name]
    for sample in samples:
        by_document = (sample in declared["enum"]) if "enum" in declared else bool(
            re.search(declared["pattern"], sample))
        by_server = True
        try:
            model.model_validate({**base, field: sample})
        except Exception:
            by_server = False
        assert by_document == by_server, (field, sample, by_document, by_server)
