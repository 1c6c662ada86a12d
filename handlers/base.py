"""What every API request shares: rate limit, API key, body parsing, the envelope.

Every response under /api/ is `{"status", "data", "error"}`; `envelope()` builds it for
success and `write_error()` for every failure, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import logging
import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pydantic
import tornado.web

from handlers.spec import LIMIT, PAGE, DeclarationError, Operation, Param, allow_header, check_query, declared
from store import orgs
from store.db import Database, is_busy
from store.errors import ApiError, BadRequest, StoreError
from store.values import utcnow

if TYPE_CHECKING:  # handlers.app builds on this module
    from handlers.app import Application
    from search.pipeline import Images

log = logging.getLogger("micropim.api")

JSON_BODY_LIMIT = 1024 * 1024
Model = TypeVar("Model", bound=pydantic.BaseModel)


def to_json(data: Any) -> str:
    """The API's JSON encoding: compact, UTF-8 characters kept as they are."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def envelope(data: Any = None, error: str | None = None) -> str:
    if error:
        return to_json({"status": 0, "data": None, "error": error})
    return envelope_raw(to_json(data))


def envelope_raw(data_json: str) -> str:
    """The success envelope around data that is already JSON text."""
    return f'{{"status":1,"data":{data_json},"error":null}}'


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


# Decimal holds exponents up to about 10^18; JSON's grammar has no limit.
JSON_EXPONENT = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?[eE]([+-]?)[0-9]+")
BEYOND_DECIMAL = "999999999999999999"


def json_decimal(text: str) -> Decimal:
    """A JSON number with a fraction or an exponent as an exact Decimal.

    A number whose exponent is past what Decimal holds (`1e99999999999999999999999`)
    becomes one with Decimal's largest exponent of the same signs, so that the field
    it was sent in refuses it with its own message ("must be less than ..."), as it
    refuses `1e1000000`; no field takes either. Zero stays zero whatever its exponent."""
    try:
        return Decimal(text)
    except InvalidOperation:
        match = JSON_EXPONENT.fullmatch(text)
        if match is None:
            raise ValueError(f"{text[:40]} is not a number") from None
        if not (match.group(1) + (match.group(2) or "")).strip("0"):
            return Decimal(0)
        sign = "-" if text.startswith("-") else ""
        return Decimal(f"{sign}1e{match.group(3)}{BEYOND_DECIMAL}")


def parse_json(body: bytes) -> Any:
    """JSON with exact decimals; raises BadRequest naming the body."""
    if not body.strip():
        raise BadRequest("body: a JSON body is required")
    try:
        return json.loads(body.decode("utf-8"), parse_float=json_decimal, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise BadRequest("body: must be UTF-8 encoded JSON") from None
    except ValueError as exc:
        raise BadRequest(f"body: malformed JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("body: malformed JSON: nested too deeply") from None


def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "body"


def _message(error: Any) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if error.get("input", ...) is None and kind.endswith("_type"):
        return "must not be null"
    messages = {
        "missing": "is required",
        "extra_forbidden": "unknown field",
        "string_type": "must be a string",
        "int_type": "must be an integer",
        "int_parsing": "must be an integer",
        "bool_type": "must be true or false",
        "list_type": "must be a list",
        "dict_type": "must be an object",
        "model_type": "must be an object",
        "model_attributes_type": "must be an object",
        "string_too_short": "must not be empty"
        if ctx.get("min_length") == 1 else f"must be at least {ctx.get('min_length')} characters",
        "string_too_long": f"must be at most {ctx.get('max_length')} characters",
        "too_long": f"must have at most {ctx.get('max_length')} items",
        "too_short": f"must have at least {ctx.get('min_length')} items",
        "greater_than_equal": f"must be at least {ctx.get('ge')}",
        "greater_than": f"must be greater than {ctx.get('gt')}",
        "less_than_equal": f"must be at most {ctx.get('le')}",
        "literal_error": f"must be one of {ctx.get('expected')}",
        "enum": f"must be one of {ctx.get('expected')}",
        "string_pattern_mismatch": "has an invalid format",
    }
    if kind in messages:
        return messages[kind]
    message = str(error["msg"]).removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def validation_message(exc: pydantic.ValidationError) -> str:
    """`"price: must not be negative; sku: is required"`: each problem names its field."""
    return "; ".join(f"{_location(error['loc'])}: {_message(error)}" for error in exc.errors())


def validate(model: type[Model], data: Any) -> Model:
    if not isinstance(data, dict) and not issubclass(model, pydantic.RootModel):
        raise BadRequest("body: must be a JSON object")
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise BadRequest(validation_message(exc)) from None


@tornado.web.stream_request_body
class BaseHandler(tornado.web.RequestHandler):
    """Base for every /api/ handler."""

    #: Largest request body this handler accepts, in bytes.
    max_body_bytes = JSON_BODY_LIMIT
    #: False for the few routes that answer without an API key.
    requires_key = True
    #: The methods that change nothing, which a read-only key may call: GET and HEAD,
    #: and POST where it only computes an answer (image search).
    read_methods: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS"})

    #: The route's keyword arguments, for declarations that depend on them (handlers.spec).
    route_kwargs: dict[str, Any] = {}

    org_id: int

    @property
    def app(self) -> Application:
        """The application context (handlers.app)."""
        return cast("Application", self.application)

    @property
    def db(self) -> Database:
        return self.app.db

    @property
    def images(self) -> Images:
        return self.app.images

    def initialize(self) -> None:
        self._chunks: list[bytes] = []
        self._body_bytes = 0
        self._rate_headers: dict[str, str] = {}

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "private, no-cache")
        for name, value in getattr(self, "_rate_headers", {}).items():
            self.set_header(name, value)

    # -- the request ---------------------------------------------------------------

    def prepare(self) -> None:
        self.app.webhooks.request_started()  # deliveries give way to requests
        self._rate_limit()
        if self.requires_key:
            self._authenticate()
        declared = self.request.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise ApiError(413, f"body: request body exceeds {self.max_body_bytes} bytes")
        self._check_query()

    def _check_query(self) -> None:
        """Unknown (or repeated) query parameters are a 400 naming them, as unknown body
        fields are: `?limt=5` must not answer the default page as if it were asked for.
        HEAD is checked against GET's declaration; a method without a declaration is
        left to answer its 405."""
        op = declared(type(self), self.request.method or "")
        if op is not None:
            check_query(self.request.query_arguments, op.query)

    def data_received(self, chunk: bytes) -> None:
        self._body_bytes += len(chunk)
        if self._body_bytes <= self.max_body_bytes:
            self._chunks.append(chunk)

    @property
    def body(self) -> bytes:
        if self._body_bytes > self.max_body_bytes:
            raise ApiError(413, f"body: request body exceeds {self.max_body_bytes} bytes")
        return b"".join(self._chunks)

    def _rate_limit(self) -> None:
        if not self._charge():
            kind = "read" if self._is_read() else "write"
            raise ApiError(429, f"rate limit exceeded: too many {kind} requests; retry later")

    def _is_read(self) -> bool:
        return self.request.method in ("GET", "HEAD", "OPTIONS")

    def _charge(self) -> bool:
        """Take a token from the client's bucket and set the RateLimit headers."""
        bucket = self.app.rate_limiter.bucket(self.request.remote_ip or "", not self._is_read())
        allowed = bucket.take()
        self._rate_headers = {
            "RateLimit-Limit": str(bucket.capacity),
            "RateLimit-Remaining": str(bucket.remaining),
            "RateLimit-Reset": str(bucket.reset_after()),
        }
        if not allowed:
            self._rate_headers["Retry-After"] = str(bucket.retry_after())
        for name, value in self._rate_headers.items():
            self.set_header(name, value)
        return allowed

    def _authenticate(self) -> None:
        key = self.request.headers.get("X-API-KEY", "")
        if not key:
            raise ApiError(401, "missing API key: send it in the X-API-KEY header")
        caller = self.db.quick(orgs.authenticate, key)
        if caller is None:
            raise ApiError(401, "invalid API key")
        now = utcnow()
        if caller.expired(now):
            raise ApiError(401, "expired API key")
        if not caller.org_active:
            raise ApiError(403, "no organization access")
        self._note_use(caller, now)
        if not caller.can_write and self.request.method not in self.read_methods:
            raise ApiError(403, "this API key is read-only")
        self.org_id = caller.org_id

    def _note_use(self, caller: orgs.Caller, now: str) -> None:
        """Record the key's use, at most once a minute per key, from the writer thread
        without waiting: a request never pays for it, and a refused write (the lock held
        elsewhere) is tried again a minute later."""
        if self.db.key_uses.due(caller.key_id):
            self.db.submit_write(orgs.record_key_use, caller.key_id, now, long=False).add_done_callback(
                _log_unrecorded)

    def operation(self) -> Operation:
        """This method's declaration (`@operation`); reading what it does not declare is a bug."""
        found = declared(type(self), self.request.method or "")
        if found is None:
            raise DeclarationError(f"{type(self).__name__}.{(self.request.method or '').lower()}"
                                   " reads its request without an @operation declaration")
        return found

    def body_model(self, model: type[Model]) -> type[Model]:
        """`model`, if it is the body model this method declares (else a 500: fix the declaration)."""
        op = self.operation()
        if op.model_for(op.body, self.route_kwargs) is not model:
            raise DeclarationError(f"{type(self).__name__}: body {model.__name__} is not the declared one")
        return model

    def json_body(self, model: type[Model]) -> Model:
        return validate(self.body_model(model), parse_json(self.body))

    def arg(self, param: Param) -> Any:
        """A query parameter, parsed by its declaration (a 400 naming it when bad)."""
        # By identity: a dataclass `in` compares every field of every earlier parameter.
        if not any(known is param for known in self.operation().query):
            raise DeclarationError(f"{type(self).__name__}: query parameter {param.name!r} is not declared")
        return param.parse(self._query_text(param.name))

    def _query_text(self, name: str) -> str | None:
        """The last value of a query parameter as sent (spaces around it dropped).

        Not Tornado's `get_query_argument`, which turns some control characters into
        spaces and strips others: a `search` of `lamp%00shade` would search for
        "lamp shade". The parameter's declaration refuses them instead."""
        sent = self.request.query_arguments.get(name)
        if not sent:
            return None
        try:
            return sent[-1].decode("utf-8").strip(" ")
        except UnicodeDecodeError:
            raise BadRequest(f"{name}: must be UTF-8 text") from None

    def page_args(self) -> tuple[int, int]:
        page, limit = self.arg(PAGE), self.arg(LIMIT)
        assert page is not None and limit is not None
        return page, limit

    async def head(self, *args: str) -> None:
        """HEAD is GET without the body (Tornado drops it); a read like GET."""
        result = self.get(*args)  # RequestHandler.get answers 405 where there is none
        if result is not None:
            await result

    # -- the response --------------------------------------------------------------

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(envelope(data))

    def reply_raw(self, data_json: str) -> None:
        """Answer 200 with data that is already encoded (see `store.cache`)."""
        self.finish(envelope_raw(data_json))

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, StoreError):
            status_code = exc.status
        elif is_busy(exc):
            status_code = 503
        if not self._rate_headers:
            # Tornado refuses a method it does not know (TRACE, ...) before prepare()
            # runs; that request still costs a token and still gets the headers.
            self._charge()
        if status_code == 503:
            self._rate_headers["Retry-After"] = "1"  # kept by set_default_headers
        super().send_error(status_code, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, StoreError):
            message = exc.message
        elif isinstance(exc, tornado.web.HTTPError) and status_code < 500:
            message = exc.log_message or self._reason.lower()
            if status_code == 405:
                message = f"method {self.request.method} not allowed on {self.request.path}"
                self.set_header("Allow", allow_header(type(self)))
        elif status_code < 500:
            message = self._reason.lower()
        elif is_busy(exc):
            message = "the database is busy with another write; retry in a moment"
        else:
            message = "internal server error"
        self.finish(envelope(error=message))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, StoreError) or (
            isinstance(value, tornado.web.HTTPError) and value.status_code < 500
        ):
            return  # an expected answer, not a crash
        if is_busy(value):
            log.warning("503 %s %s: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)


def _log_unrecorded(done: Any) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.warning("a key's last use was not recorded: %s", done.exception())


class NotFoundHandler(BaseHandler):
    """Unknown paths: a 404 envelope, before any key check."""

    requires_key = False

    def prepare(self) -> None:
        super().prepare()
        raise ApiError(404, f"no such endpoint: {self.request.path}")
