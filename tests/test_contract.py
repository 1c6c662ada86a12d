"""Every response under /api/ is the envelope, with rate-limit headers, whatever happens.

The walk enumerates `micropim.routes()`, so a route added to the table is covered here
without editing this file; a route whose path has a new kind of placeholder fails
`test_every_route_placeholder_has_a_sample` until a sample value is added below.
"""

from __future__ import annotations

import json
import socket
from typing import Any, Iterator

import pytest
import tornado.web

import micropim
from handlers.spec import RawBody, declared
from handlers.app import Application
from handlers.base import JSON_BODY_LIMIT, BaseHandler
from store import orgs
from store.db import Database

ID_GROUP = micropim.ID
BARCODE_GROUP = r"([^/]+)"  # a barcode or a locale
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ENVELOPE_KEYS = {"status", "data", "error"}
RATE_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
MISSING_ID = 9_000_000_000_000_000_000  # 19 digits, matches the route, no row has it
EAN = "5940000000011"


class ExplodingHandler(BaseHandler):
    """A route that fails the way real bugs do: a Python error and an SQL error."""

    def get(self) -> None:
        raise RuntimeError("secret-detail: should only be in the server log")

    def post(self) -> None:
        self.db.execute_sql("SELEC * FROM api_key")  # malformed SQL: sqlite raises


@pytest.fixture
def app(settings: micropim.Settings) -> Iterator[Application]:
    application = micropim.make_app(settings)
    application.add_handlers(r".*", [(r"/api/test-explode", ExplodingHandler)])
    yield application
    application.close()


# ---- helpers ---------------------------------------------------------------------------

def assert_envelope(response: Any, code: int | None = None) -> dict[str, Any]:
    """The body is exactly the envelope and agrees with the status code."""
    context = f"{response.code} {response.raw[:300]!r}"
    if code is not None:
        assert response.code == code, context
    body = response.body
    assert isinstance(body, dict), context
    assert set(body) == ENVELOPE_KEYS, context
    assert response.headers["Content-Type"].startswith("application/json"), context
    if response.code < 400:
        assert body["status"] == 1 and body["error"] is None, context
    else:
        assert body["status"] == 0 and body["data"] is None, context
        assert isinstance(body["error"], str) and body["error"], context
    assert type(body["status"]) is int
    for name in RATE_HEADERS:
        value = response.headers.get(name)
        assert value is not None and value.isdigit(), f"{name} missing: {context}"
    return body


def route_table() -> list[tuple[str, type[tornado.web.RequestHandler]]]:
    """The API's routes; the public media files (`/media/...`) are not the envelope's,
    and neither is the public OpenAPI document (`requires_key = False`: no key, the raw
    document; tests/test_openapi.py checks it and walks every route against it)."""
    return [(route[0], route[1]) for route in micropim.routes()
            if route[0].startswith("/api/") and getattr(route[1], "requires_key", True)]


def implements(handler: type[tornado.web.RequestHandler], method: str) -> bool:
    base = getattr(tornado.web.RequestHandler, method.lower())
    return getattr(handler, method.lower()) is not base


def fill(pattern: str, ids: dict[str, int], default_id: int) -> str:
    """A concrete path for a route pattern: the resource's sample id, a sample barcode."""
    parts = pattern.split("/")
    path = pattern.replace(ID_GROUP, str(ids.get(parts[2], default_id)), 1)
    # A nested resource's id (/api/products/{id}/media/{mediaId}) is that resource's sample.
    path = path.replace(ID_GROUP, str(ids.get(parts[-2], default_id)))
    # The other free-form segments: a translation's locale, a product's barcode.
    return path.replace(BARCODE_GROUP, "de" if "/translations/" in pattern else EAN)


@pytest.fixture
def sample_ids(db: Database, api: Any, org_id: int) -> dict[str, int]:
    """One row of every resource, so that id routes reach their handler's real work."""
    from search import imaging
    from store import attributes, categories, imports, media, translations, variants, webhooks
    from store.products import write as products
    from store.reference import BRANDS, SUPPLIERS, VAT_RATES, WAREHOUSES
    from tests.factories import draw

    picture = imaging.prepare_upright(draw(1), "file")[0]
    with db.writing():
        product = products.create_product(db, org_id, {"name": "Mug", "sku": "MUG-1", "ean": EAN})
        translations.put_translation(db, org_id, product["id"], "de", {"name": "Becher"})  # fill()'s locale
        return {
            "products": product["id"],
            "product-attributes": attributes.create_attribute(
                db, org_id, {"name": "Colour", "type": "text"})["id"],
            "variants": variants.create_variant(db, org_id, product["id"], {"sku": "MUG-1-V"})["id"],
            "media": media.add_media(db, org_id, product["id"], picture, "", None, None),
            "brands": BRANDS.create(db, org_id, {"name": "Brand"})["id"],
            "suppliers": SUPPLIERS.create(db, org_id, {"name": "Supplier"})["id"],
            "vat-rates": VAT_RATES.create(db, org_id, {"name": "Std", "rate": 19, "country_code": "RO"})["id"],
            "warehouses": WAREHOUSES.create(db, org_id, {"name": "Second", "code": "SEC"})["id"],
            "categories": categories.create_category(db, org_id, {"name": "Mugs"})["id"],
            "imports": imports.create_job(db, org_id, "products", "csv", False, False, 0)["id"],
            # a private address: its test ping is refused at once, nothing is sent
            "webhooks": webhooks.create_webhook(db, org_id, {"url": "http://127.0.0.1:9/", "events": ["*"]})["id"],
        }


# ---- the route table -------------------------------------------------------------------

def test_every_route_placeholder_has_a_sample() -> None:
    for pattern, _ in route_table():
        assert pattern.startswith("/api/"), pattern
        path = fill(pattern, {}, 1)
        assert "(" not in path and "[" not in path, f"add a sample value for {pattern}"


async def test_every_route_and_method_answers_the_envelope(api: Any, sample_ids: dict[str, int]) -> None:
    seen = 0
    for pattern, handler in route_table():
        path = fill(pattern, sample_ids, 1)
        # DELETE last, so the other methods still find the row.
        for method in sorted(METHODS, key=lambda m: m == "DELETE"):
            body = {} if method in ("POST", "PUT", "PATCH") else None
            response = await api.call(method, path, body)
            raw = declared(handler, method)
            if raw is not None and isinstance(raw.data, RawBody) and response.code == 200:
                # The bodies that are not the envelope: the image file as uploaded, the
                # exports; each is what its declaration says.
                assert any(response.headers["Content-Type"].startswith(kind.rstrip("*"))
                           for kind in raw.data.content_types), response.headers
                seen += 1
                continue
            assert_envelope(response)
            if implements(handler, method):
                assert response.code in (200, 201, 400), (method, path, response.body)
            else:
                assert response.code == 405, (method, path, response.body)
                assert response.error == f"method {method} not allowed on {path}"
            seen += 1
    assert seen == len(route_table()) * len(METHODS)


async def test_every_id_route_answers_404_for_a_missing_id(api: Any) -> None:
    nouns = {"products": "product", "brands": "brand", "suppliers": "supplier",
             "vat-rates": "VAT rate", "warehouses": "warehouse", "categories": "category",
             "product-attributes": "attribute"}
    checked = 0
    for pattern, handler in route_table():
        if ID_GROUP not in pattern:
            continue
        path = fill(pattern, {}, MISSING_ID)
        for method in METHODS:
            if not implements(handler, method):
                continue
            body = [] if path.endswith("/stock") else {}
            response = await api.call(method, path, body if method in ("PUT", "PATCH") else None)
            assert_envelope(response, 404)
            noun = nouns.get(pattern.split("/")[2])
            if noun:
                assert response.error == f"{noun} {MISSING_ID} not found", (method, path)
            checked += 1
    assert checked >= 15


async def test_ids_beyond_int64_are_404_not_500(api: Any) -> None:
    for path in ("/api/products/9223372036854775808", "/api/brands/9999999999999999999",
                 "/api/products/0", "/api/warehouses/0"):
        response = await api.get(path)
        assert_envelope(response, 404)
        assert response.error.endswith(" not found")


async def test_barcode_route_answers_404_for_an_unknown_barcode(api: Any) -> None:
    response = await api.get(f"/api/products/barcode/{EAN}")
    assert_envelope(response, 404)
    assert response.error == f"no product with barcode {EAN}"


@pytest.mark.parametrize("path", [
    "/api/nope", "/api", "/api/", "/nope", "/api/products/", "/api/products/abc",
    "/api/products/1/nope", "/api/products/99999999999999999999", "/api/brands/1/2",
    "/api/vat_rates", "/api/products/barcode/", "/static/../api/products",
])
async def test_unknown_paths_are_a_404_envelope(api: Any, anon: Any, path: str) -> None:
    for client in (api, anon):
        for method in ("GET", "POST", "DELETE"):
            response = await client.call(method, path, {} if method == "POST" else None)
            assert_envelope(response, 404)
            assert response.error.startswith("no such endpoint: "), response.body


# ---- authentication --------------------------------------------------------------------

async def _walk_all(client: Any, ids: dict[str, int], code: int, message: str, **kw: Any) -> int:
    count = 0
    for pattern, _ in route_table():
        path = fill(pattern, ids, 1)
        for method in METHODS:
            body = {} if method in ("POST", "PUT", "PATCH") else None
            response = await client.call(method, path, body, **kw)
            assert_envelope(response, code)
            assert response.error == message, (method, path)
            count += 1
    return count


async def test_no_key_is_401_on_every_route_and_method(anon: Any, sample_ids: dict[str, int]) -> None:
    count = await _walk_all(anon, sample_ids, 401, "missing API key: send it in the X-API-KEY header")
    assert count == len(route_table()) * len(METHODS)


@pytest.mark.parametrize("key", [
    "mpk_notarealkeyatall", "mpk_", "not-even-prefixed", "x" * 300, "mpk_" + "a" * 300,
])
async def test_a_bad_key_is_401_on_every_route(anon: Any, sample_ids: dict[str, int], key: str) -> None:
    await _walk_all(anon, sample_ids, 401, "invalid API key", key=key)


async def test_a_key_with_a_right_prefix_and_wrong_rest_is_401(api: Any) -> None:
    forged = api.key[:12] + ("A" if api.key[12] != "A" else "B") + api.key[13:]
    response = await api.get("/api/products", key=forged)
    assert_envelope(response, 401)
    assert response.error == "invalid API key"


async def test_a_revoked_key_is_401_everywhere(db: Database, api: Any, sample_ids: dict[str, int]) -> None:
    assert (await api.get("/api/products")).code == 200
    with db.writing():
        orgs.revoke_key(db, api.key)
    await _walk_all(api, sample_ids, 401, "invalid API key")


async def test_revoking_one_key_leaves_the_others(db: Database, api: Any, org_id: int) -> None:
    with db.writing():
        second = orgs.create_key(db, org_id)
    with db.writing():
        orgs.revoke_key(db, api.key)
    assert (await api.get("/api/products", key=second)).code == 200
    assert (await api.get("/api/products")).code == 401


async def test_a_disabled_organization_is_403_everywhere(
    db: Database, api: Any, other_api: Any, org_id: int, sample_ids: dict[str, int]
) -> None:
    with db.writing():
        orgs.set_org_active(db, org_id, False)
    await _walk_all(api, sample_ids, 403, "no organization access")
    # Other organizations are unaffected, and re-enabling restores access.
    assert (await other_api.get("/api/products")).code == 200
    with db.writing():
        orgs.set_org_active(db, org_id, True)
    assert (await api.get("/api/products")).code == 200


async def test_an_organization_that_is_gone_is_403(db: Database, api: Any, org_id: int) -> None:
    db.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        db.execute_sql("DELETE FROM organization WHERE id = ?", (org_id,))
    finally:
        db.execute_sql("PRAGMA foreign_keys = ON")
    response = await api.get("/api/brands")
    assert_envelope(response, 403)
    assert response.error == "no organization access"


# ---- 405 ---------------------------------------------------------------------------------

async def test_unimplemented_methods_are_405_naming_method_and_path(api: Any) -> None:
    response = await api.post("/api/channels", {"channels": []})
    assert_envelope(response, 405)
    assert response.error == "method POST not allowed on /api/channels"
    response = await api.delete("/api/products")
    assert_envelope(response, 405)
    assert response.error == "method DELETE not allowed on /api/products"


async def test_a_method_tornado_does_not_know_is_a_405_envelope(api: Any) -> None:
    response = await api.call("TRACE", "/api/products")
    assert_envelope(response, 405)
    assert response.error == "method TRACE not allowed on /api/products"


# ---- 413 ---------------------------------------------------------------------------------

def _big_json_body() -> bytes:
    body = json.dumps({"name": "x" * (JSON_BODY_LIMIT + 10)}).encode()
    assert len(body) > JSON_BODY_LIMIT
    return body


async def test_a_body_over_1_mb_with_content_length_is_413(api: Any) -> None:
    for method, path in (("POST", "/api/brands"), ("PUT", "/api/channels"),
                         ("POST", "/api/products")):
        response = await api.call(method, path, raw=_big_json_body())
        assert_envelope(response, 413)
        assert response.error == f"body: request body exceeds {JSON_BODY_LIMIT} bytes"
    assert (await api.get("/api/brands")).data["brands"] == []


async def test_a_body_of_exactly_1_mb_is_not_413(api: Any) -> None:
    prefix, suffix = b'{"name": "b", "description": "', b'"}'
    body = prefix + b"d" * (JSON_BODY_LIMIT - len(prefix) - len(suffix)) + suffix
    assert len(body) == JSON_BODY_LIMIT
    response = await api.call("POST", "/api/brands", raw=body)
    assert_envelope(response, 400)  # too long a description, but the body was read
    assert response.error == "description: must be at most 2000 characters"


async def test_a_chunked_body_over_1_mb_is_413(api: Any) -> None:
    """No Content-Length: the size is counted as the body streams in."""
    payload = _big_json_body()

    async def producer(write: Any) -> None:
        for start in range(0, len(payload), 64 * 1024):
            await write(payload[start:start + 64 * 1024])

    response = await api.client.fetch(
        "/api/brands", method="POST", body_producer=producer, raise_error=False,
        headers={"X-API-KEY": api.key},
    )
    assert "Content-Length" not in response.request.headers
    body = json.loads(response.body)
    assert response.code == 413
    assert body == {"status": 0, "data": None,
                    "error": f"body: request body exceeds {JSON_BODY_LIMIT} bytes"}
    for name in RATE_HEADERS:
        assert response.headers[name].isdigit()
    assert (await api.get("/api/brands")).data["brands"] == []


def _raw_exchange(port: int, request: bytes, then_send: bytes = b"", timeout: float = 10) -> bytes:
    """Send `request`, then `then_send` (ignoring a reset), and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        try:
            sock.sendall(then_send)
        except OSError:
            pass  # the server may close before it has read everything we send
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


async def test_an_oversized_declared_body_gets_the_envelope_on_the_connection(
    api: Any, http_server_client: Any, io_loop: Any
) -> None:
    """The 413 is answered from the headers alone: the client reads it on the socket."""
    port = http_server_client.get_http_port()
    size = JSON_BODY_LIMIT * 5
    head = (
        f"POST /api/brands HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-KEY: {api.key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    ).encode()
    raw = await io_loop.run_in_executor(None, _raw_exchange, port, head, b"{" + b" " * 4096)
    status_line, _, rest = raw.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413"), raw[:200]
    headers_raw, _, body = rest.partition(b"\r\n\r\n")
    headers = dict(line.lower().split(b": ", 1) for line in headers_raw.split(b"\r\n"))
    length = int(headers[b"content-length"])
    assert json.loads(body[:length]) == {
        "status": 0, "data": None, "error": f"body: request body exceeds {JSON_BODY_LIMIT} bytes"}
    assert headers[b"ratelimit-limit"].isdigit()


# ---- 429 ---------------------------------------------------------------------------------

async def test_429_is_the_envelope_on_every_route_and_method(
    api: Any, app: Application, sample_ids: dict[str, int]
) -> None:
    limiter = app.rate_limiter
    for pattern, _ in route_table():
        path = fill(pattern, sample_ids, 1)
        for method in METHODS:
            write = method not in ("GET", "HEAD", "OPTIONS")
            limiter.bucket("127.0.0.1", write).tokens = 0.0  # the FakeClock never refills
            body = {} if method in ("POST", "PUT", "PATCH") else None
            response = await api.call(method, path, body)
            assert_envelope(response, 429)
            kind = "write" if write else "read"
            assert response.error == f"rate limit exceeded: too many {kind} requests; retry later"
            assert response.headers["Retry-After"].isdigit()
            assert response.headers["RateLimit-Remaining"] == "0"
            limiter.bucket("127.0.0.1", write).tokens = float(limiter.limits[write])


# ---- 500 ---------------------------------------------------------------------------------

@pytest.mark.parametrize("method, error", [("GET", "RuntimeError"), ("POST", "OperationalError")])
async def test_a_crash_is_a_500_envelope_without_details(
    api: Any, caplog: Any, method: str, error: str
) -> None:
    response = await api.call(method, "/api/test-explode", {} if method == "POST" else None)
    assert_envelope(response, 500)
    assert response.body == {"status": 0, "data": None, "error": "internal server error"}
    text = response.raw.decode()
    for leak in ("Traceback", "secret-detail", "SELEC", "api_key", "File ", ".py", error):
        assert leak not in text
    # ... but the server log has the exception with its traceback.
    crashes = [r for r in caplog.records if r.exc_info and r.exc_info[0].__name__ == error]
    assert len(crashes) == 1, caplog.text
    assert crashes[0].exc_info[2] is not None


async def test_expected_errors_are_not_logged_as_crashes(api: Any, caplog: Any) -> None:
    await api.get("/api/brands/123456")
    await api.post("/api/brands", {})
    await api.get("/api/products", key="mpk_wrong")
    assert not [r for r in caplog.records if r.exc_info], caplog.text


async def test_a_crash_needs_a_key_first(anon: Any) -> None:
    response = await anon.get("/api/test-explode")
    assert_envelope(response, 401)


# ---- success shapes ------------------------------------------------------------------------

async def test_successful_responses_carry_rate_headers_with_the_read_and_write_limits(
    api: Any, settings: micropim.Settings
) -> None:
    read = await api.get("/api/brands")
    assert_envelope(read, 200)
    assert read.headers["RateLimit-Limit"] == str(settings.read_limit)
    write = await api.post("/api/brands", {"name": "Acme"})
    assert_envelope(write, 201)
    assert write.headers["RateLimit-Limit"] == str(settings.write_limit)
    assert "Retry-After" not in write.headers


async def test_malformed_bodies_are_400_envelopes(api: Any) -> None:
    cases = [
        (b"", "body: a JSON body is required"),
        (b"   ", "body: a JSON body is required"),
        (b"[1, 2]", "body: must be a JSON object"),
        (b'"text"', "body: must be a JSON object"),
        (b"\xff\xfe", "body: must be UTF-8 encoded JSON"),
    ]
    for raw, message in cases:
        response = await api.call("POST", "/api/brands", raw=raw)
        assert_envelope(response, 400)
        assert response.error == message
    for raw in (b"{", b'{"name": NaN}', b"{'name': 'x'}", b'{"name": "x"} trailing'):
        response = await api.call("POST", "/api/brands", raw=raw)
        assert_envelope(response, 400)
        assert response.error.startswith("body: malformed JSON"), response.error
    assert (await api.get("/api/brands")).data["brands"] == []


async def test_head_is_a_read_without_a_body(api: Any, anon: Any) -> None:
    created = await api.post("/api/products", {"name": "Lamp", "sku": "L-1"})
    for path in ("/api/products", f"/api/products/{created.data['id']}", "/api/channels"):
        response = await api.call("HEAD", path)
        assert response.code == 200, path
        assert response.raw == b""
        assert response.headers["RateLimit-Limit"] == "100000"
    assert (await anon.call("HEAD", "/api/products")).code == 401
    assert (await api.call("HEAD", "/api/products/999")).code == 404
