"""What a handler method declares about its request and its answer.

`@operation(...)` on a handler method names its JSON body model, its multipart form,
its query parameters and the schema of the `data` it answers. The OpenAPI document
(`handlers/openapi.py`) is built from these declarations and the route table, and the
handlers validate through the same declarations (`BaseHandler.json_body()`, `.arg()`,
`UploadHandler.form()`), so a declaration that is wrong breaks requests, not only the
document: reading a query parameter or a body the method did not declare is a 500.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar, Union

import pydantic
import tornado.web

from handlers.fields import MAX_ID, ONE_LINE_PATTERN
from store.errors import BadRequest
from store.values import check_text

Method = TypeVar("Method", bound=Callable[..., Any])
#: A model, or a function of the route's keyword arguments (`{"resource": "brands"}`)
#: that picks one: one handler class serves brands, suppliers, VAT rates and warehouses.
ModelChoice = Union[type[pydantic.BaseModel], Callable[[dict[str, Any]], type[pydantic.BaseModel]]]

OPERATION_ATTRIBUTE = "__openapi_operation__"
#: The methods a handler may implement, in the order documents and `Allow` list them.
METHODS = ("get", "post", "put", "patch", "delete")
INTEGER = re.compile(r"-?[0-9]{1,20}")


class DeclarationError(RuntimeError):
    """A handler reads what it did not declare, or declares what cannot be documented."""


# ---- parameters ----------------------------------------------------------------------------

def parse_int(name: str, raw: str | None, low: int, high: int) -> int | None:
    """An integer from a query string or a form field (None when absent or empty),
    or a 400 naming it."""
    if raw is None or raw == "":
        return None
    # int() would also take "1_0" and non-ASCII digits.
    if not INTEGER.fullmatch(raw):
        raise BadRequest(f"{name}: must be an integer")
    value = int(raw)
    if not low <= value <= high:
        raise BadRequest(f"{name}: must be between {low} and {high}")
    return value


@dataclass(frozen=True)
class Param:
    """A query parameter (or a multipart text field): its rule, its message, its schema."""

    name: str
    description: str

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def style(self) -> dict[str, Any]:
        """How the parameter is serialized, beyond the schema (OpenAPI `style`, `explode`)."""
        return {}

    def parse(self, raw: str | None) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class IntParam(Param):
    low: int = 1
    high: int = MAX_ID
    default: int | None = None

    def schema(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"type": "integer", "minimum": self.low, "maximum": self.high}
        if self.default is not None:
            shown["default"] = self.default
        return shown

    def parse(self, raw: str | None) -> int | None:
        value = parse_int(self.name, raw, self.low, self.high)
        return self.default if value is None else value


@dataclass(frozen=True)
class ChoiceParam(Param):
    choices: tuple[str, ...] = ()

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.choices)}

    def parse(self, raw: str | None) -> str | None:
        if raw is None or raw == "":
            return None
        if raw not in self.choices:
            raise BadRequest(f"{self.name}: must be one of {', '.join(self.choices)}")
        return raw


@dataclass(frozen=True)
class BoolParam(Param):
    """`true` or `false` exactly (absent or empty: false); `1`, `yes`, `True`: 400."""

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean", "default": False}

    def parse(self, raw: str | None) -> bool:
        if raw is None or raw == "" or raw == "false":
            return False
        if raw == "true":
            return True
        raise BadRequest(f"{self.name}: must be true or false")


@dataclass(frozen=True)
class TextParam(Param):
    """Free text, at most `max_length` characters, optionally converted (a locale, a time)."""

    max_length: int | None = None
    convert: Callable[[str], Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def schema(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"type": "string", "pattern": ONE_LINE_PATTERN, **self.extra}
        if self.max_length is not None:
            shown["maxLength"] = self.max_length
        return shown

    def parse(self, raw: str | None) -> Any:
        if raw is None or raw == "":
            return None
        if self.max_length is not None and len(raw) > self.max_length:
            raise BadRequest(f"{self.name}: must be at most {self.max_length} characters")
        try:
            check_text(raw)  # a query string or form field is one line
        except ValueError as exc:
            raise BadRequest(f"{self.name}: {exc}") from None
        return self.convert(raw) if self.convert else raw


@dataclass(frozen=True)
class ListParam(Param):
    """Comma-separated values (`status=active,draft`), each checked by `choices` or
    `convert`, repeats kept once in the order given; at most `max_items`. `every` is a
    word that stands for all the choices (`status=any`). Absent or empty: None."""

    choices: tuple[str, ...] = ()
    every: str | None = None
    max_items: int = 100
    item_schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    convert: Callable[[str], str] | None = None

    def schema(self) -> dict[str, Any]:
        items = ({"type": "string", "enum": [*self.choices, *([self.every] if self.every else [])]}
                 if self.choices else self.item_schema)
        return {"type": "array", "items": items, "maxItems": self.max_items}

    def style(self) -> dict[str, Any]:
        return {"style": "form", "explode": False}  # one parameter, values separated by commas

    def parse(self, raw: str | None) -> tuple[str, ...] | None:
        if raw is None or raw == "":
            return None
        items = [item.strip() for item in raw.split(",")]
        if "" in items:
            raise BadRequest(f"{self.name}: an empty value in the list (two commas, or one at an end)")
        values = list(dict.fromkeys(self.convert(item) if self.convert else item for item in items))
        if len(values) > self.max_items:
            raise BadRequest(f"{self.name}: at most {self.max_items} values")
        if self.choices:
            allowed = [*self.choices, *([self.every] if self.every else [])]
            wrong = [value for value in values if value not in allowed]
            if wrong:
                raise BadRequest(f"{self.name}: must be one of {', '.join(allowed)} (got {wrong[0]!r})")
        if self.every is not None and self.every in values:
            return self.choices
        return tuple(values)


def check_query(arguments: dict[str, list[bytes]], declared: tuple[Param, ...]) -> None:
    """A 400 naming every query parameter the operation does not declare, and every
    one sent more than once (only the last would count: `status=a&status=b` is
    `status=a,b`)."""
    names = {param.name for param in declared}
    problems = []
    for name, values in arguments.items():
        if name not in names:
            problems.append(f"{name or '(a parameter without a name)'}: unknown query parameter")
        elif len(values) > 1:
            problems.append(f"{name}: sent more than once"
                            + ("; send one list separated by commas" if isinstance(
                                next(p for p in declared if p.name == name), ListParam) else ""))
    if problems:
        raise BadRequest("; ".join(problems))


PAGE = IntParam("page", "Page number, from 1; a page past the end is an empty list.", 1, 10**9, 1)
LIMIT = IntParam("limit", "Items per page.", 1, 100, 20)


@dataclass(frozen=True)
class PathParam:
    """One capture group of a route's regex, in order: its name in the document."""

    name: str
    schema: dict[str, Any]
    description: str


@dataclass(frozen=True)
class Form:
    """A `multipart/form-data` body: one file part and a few text fields."""

    file: str
    file_description: str
    fields: tuple[Param, ...] = ()

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(param.name for param in self.fields)


@dataclass(frozen=True)
class RawBody:
    """An answer that is not the envelope (a file, a page, the document itself), or a
    request body that is not JSON (a CSV or NDJSON feed). `also`: further content types
    of the same body (an export in CSV or NDJSON)."""

    content_type: str
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string", "format": "binary"})
    also: tuple[str, ...] = ()

    @property
    def content_types(self) -> tuple[str, ...]:
        return (self.content_type, *self.also)


# ---- operations --------------------------------------------------------------------------

@dataclass(frozen=True)
class Operation:
    summary: str
    description: str
    data: ModelChoice | RawBody
    status: tuple[int, ...] = (200,)
    body: ModelChoice | None = None
    form: Form | None = None
    query: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    raw: RawBody | None = None  # a request body that is not JSON

    def model_for(self, choice: ModelChoice | None, route_kwargs: dict[str, Any]) -> type[pydantic.BaseModel] | None:
        """The model a declaration names, for a route with these keyword arguments."""
        if choice is None:
            return None
        if isinstance(choice, type):
            return choice
        return choice(route_kwargs)


def operation(
    *,
    data: ModelChoice | RawBody,
    status: tuple[int, ...] = (200,),
    body: ModelChoice | None = None,
    form: Form | None = None,
    query: tuple[Param, ...] = (),
    errors: tuple[int, ...] = (),
    raw: RawBody | None = None,
) -> Callable[[Method], Method]:
    """Declare a handler method for the OpenAPI document and for its own validation.

    The summary is the first line of the method's docstring, the rest its description.
    `data` is the model of the envelope's `data` (or a `RawBody`); `status` the success
    codes; `errors` error codes beyond those every route of its kind answers.
    """

    def declare(method: Method) -> Method:
        doc = inspect.getdoc(method)
        if not doc:
            raise DeclarationError(f"{method.__qualname__}: a declared operation needs a docstring")
        summary, _, description = doc.partition("\n")
        setattr(method, OPERATION_ATTRIBUTE, Operation(
            summary=summary.strip(), description=description.strip(), data=data,
            status=status, body=body, form=form, query=query, errors=errors, raw=raw,
        ))
        return method

    return declare


def implemented_methods(handler: type[tornado.web.RequestHandler]) -> list[str]:
    """The methods `handler` implements (`get`, `post`, …): those it does not answer 405."""
    return [m for m in METHODS if getattr(handler, m) is not getattr(tornado.web.RequestHandler, m)]


def allow_header(handler: type[tornado.web.RequestHandler]) -> str:
    """The `Allow` header of a 405 from `handler`: its methods, HEAD with GET."""
    names = [m.upper() for m in implemented_methods(handler)]
    if "GET" in names:
        names.insert(1, "HEAD")
    return ", ".join(names)


def declared(handler: type[Any], method: str) -> Operation | None:
    """The declaration of `handler`'s method (`get`, `post`, …); HEAD is GET's."""
    name = "get" if method.lower() == "head" else method.lower()
    found = getattr(getattr(handler, name, None), OPERATION_ATTRIBUTE, None)
    return found if isinstance(found, Operation) else None


def id_param(name: str, what: str) -> PathParam:
    """A numeric id in the path (`{id}`, `{variantId}`); one no row can have is a 404."""
    return PathParam(name, {"type": "integer", "minimum": 1, "maximum": MAX_ID}, f"The {what}'s id")
