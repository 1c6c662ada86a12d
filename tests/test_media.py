"""Product media: by URL (with the SSRF guard) and by upload, renditions, public files.

An image server runs in the test process on 127.0.0.1 (and 127.0.0.2 for redirects
from an allowed host to a refused one) and records every request it gets, so the
refusal tests can assert that nothing reached it.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest
import tornado.httpserver
import tornado.iostream
import tornado.netutil
import tornado.web
from PIL import Image

from store.db import Database
from tests.factories import bomb_png, draw, local_path, multipart, store_product, upload

# ---- images -------------------------------------------------------------------------------

def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# ---- the image server ------------------------------------------------------------------------

@dataclass
class Served:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunks: int = 0  # stream the body in this many chunks, without a Content-Length


class ImageServer:
    """Serves `routes[path]` and records each path asked for."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.routes: dict[str, Served] = {}
        self.requests: list[str] = []
        sockets = tornado.netutil.bind_sockets(0, host)
        self.port = sockets[0].getsockname()[1]
        self.server = tornado.httpserver.HTTPServer(
            tornado.web.Application([(r"/.*", _ServeHandler, {"owner": self})]))
        self.server.add_sockets(sockets)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def add(self, path: str, body: bytes = b"", **kw: Any) -> str:
        self.routes[path] = Served(body, **kw)
        return self.url(path)


class _ServeHandler(tornado.web.RequestHandler):
    def initialize(self, owner: ImageServer) -> None:
        self.owner = owner

    async def get(self) -> None:
        self.owner.requests.append(self.request.path)
        served = self.owner.routes.get(self.request.path)
        if served is None:
            raise tornado.web.HTTPError(404)
        if served.delay:
            await asyncio.sleep(served.delay)
        self.set_status(served.status)
        for name, value in served.headers.items():
            self.set_header(name, value)
        try:
            if served.chunks:
                size = len(served.body) // served.chunks + 1
                for start in range(0, len(served.body), size):
                    self.write(served.body[start:start + size])
                    await self.flush()
            self.finish(served.body)
        except tornado.iostream.StreamClosedError:
            pass  # the fetcher hung up (a body past the cap): what the test wants


@pytest.fixture
def images(io_loop: Any) -> Iterator[ImageServer]:
    server = ImageServer("127.0.0.1")
    yield server
    server.server.stop()


@pytest.fixture
def far(io_loop: Any) -> Iterator[ImageServer]:
    """A second server, on 127.0.0.2, that tests treat as a public host."""
    server = ImageServer("127.0.0.2")
    yield server
    server.server.stop()


@pytest.fixture
def settings(settings: Any) -> Any:
    settings.allow_private_urls = True  # the image server is on loopback
    settings.fetch_timeout = 1.0
    return settings


@pytest.fixture
def product(db: Database, org_id: int) -> int:
    return store_product(db, org_id, "Lamp", "LAMP-1", status="active")


def stored_media(db: Database) -> tuple[int, int]:
    return (db.execute_sql("SELECT count(*) FROM media").fetchone()[0],
            db.execute_sql("SELECT count(*) FROM media_file").fetchone()[0])


# ---- adding by URL ------------------------------------------------------------------------------

async def test_media_by_url_is_stored_with_a_webp_rendition(api: Any, anon: Any, images: ImageServer,
                                                            product: int) -> None:
    original = draw(1, (2400, 1200), "JPEG", quality=90)
    url = images.add("/photo.jpg", original, headers={"Content-Type": "text/plain"})
    before = (await api.get(f"/api/products/{product}")).data["updated_at"]

    response = await api.post(f"/api/products/{product}/media",
                              {"file_url": url, "alt_text": "A lamp", "position": 0})
    assert response.code == 201, response.body
    item = response.data
    assert item["format"] == "jpeg" and (item["width"], item["height"]) == (2400, 1200)
    assert item["bytes"] == len(original) and item["alt_text"] == "A lamp" and item["position"] == 0
    assert item["source_url"] == url and item["product_id"] == product
    assert item["url"].endswith(".webp") and item["created_at"].endswith("Z")

    shown = (await api.get(f"/api/products/{product}")).data
    assert shown["images"] == [item["url"]]
    assert shown["updated_at"] > before

    served = await anon.client.fetch(local_path(item["url"]), raise_error=False)
    assert served.code == 200
    assert served.headers["Content-Type"] == "image/webp"
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert decode(served.body).size == (1600, 800)
    first = await api.get(local_path(item["original_url"]))
    assert first.code == 200 and first.raw == original
    assert first.headers["Content-Type"] == "image/jpeg"


async def test_served_media_carry_a_strong_etag_and_answer_304(api: Any, anon: Any, product: int) -> None:
    item = (await upload(api, product, draw(2))).data
    path = local_path(item["url"])
    served = await anon.client.fetch(path)
    etag = served.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = await anon.client.fetch(path, headers={"If-None-Match": etag}, raise_error=False)
    assert again.code == 304 and again.body == b""
    stale = await anon.client.fetch(path, headers={"If-None-Match": '"nope"'}, raise_error=False)
    assert stale.code == 200 and stale.body == served.body
    head = await anon.client.fetch(path, method="HEAD")
    assert head.code == 200 and head.headers["ETag"] == etag


@pytest.mark.parametrize("path", [
    "/media/AAAAAAAAAAAAAAAAAAAAAAAA.webp", "/media/AAAAAAAAAAAAAAAAAAAAAAAA/original",
    "/media/", "/media/1.webp", "/media/../api/products", "/media/x/y/z",
])
async def test_unknown_media_are_a_plain_404(anon: Any, path: str) -> None:
    response = await anon.client.fetch(path, raise_error=False)
    assert response.code == 404
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.body == b"not found\n"


async def test_thumbnails_come_in_fixed_widths_and_are_kept(db: Database, api: Any, anon: Any, product: int,
                                                            app: Any) -> None:
    item = (await upload(api, product, draw(3, (1000, 500)))).data
    path = local_path(item["url"])
    for width in (160, 320, 640):
        served = await anon.client.fetch(f"{path}?w={width}")
        assert decode(served.body).size == (width, width // 2)
        assert served.headers["ETag"] and "immutable" in served.headers["Cache-Control"]
    # Kept by the one writer thread after the answer: wait for what it has queued.
    await app.db.write(lambda db: None)
    assert stored_media(db) == (1, 5)  # original, rendition, three thumbnails
    again = await anon.client.fetch(f"{path}?w=320")
    assert decode(again.body).size == (320, 160)
    assert stored_media(db) == (1, 5)
    for bad in ("100", "abc", "-160", "320.0", "", "１６０"):
        response = await anon.client.fetch(f"{path}?w={bad}", raise_error=False)
        assert response.code == 400, bad
        assert response.body == b"w: must be one of 160, 320, 640\n"


async def test_exif_orientation_is_applied_to_the_rendition(api: Any, anon: Any, product: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    original = draw(4, (300, 100), "JPEG", exif=exif.tobytes())
    item = (await upload(api, product, original)).data
    assert (item["width"], item["height"]) == (100, 300)
    served = await anon.client.fetch(local_path(item["url"]))
    assert decode(served.body).size == (100, 300)


@pytest.mark.parametrize("fmt, mode", [("PNG", "RGBA"), ("GIF", "P"), ("WEBP", "RGB"), ("JPEG", "L")])
async def test_every_accepted_format_is_taken(api: Any, product: int, fmt: str, mode: str) -> None:
    image = Image.new(mode, (64, 48))
    out = io.BytesIO()
    image.save(out, fmt)
    response = await upload(api, product, out.getvalue())
    assert response.code == 201, response.body
    assert response.data["format"] == fmt.lower()


async def test_a_multi_picture_jpeg_is_a_jpeg(api: Any, anon: Any, product: int) -> None:
    """Phone cameras write MPO: a JPEG with more pictures indexed behind the first."""
    out = io.BytesIO()
    Image.new("RGB", (60, 40), (200, 0, 0)).save(
        out, "MPO", save_all=True, append_images=[Image.new("RGB", (60, 40), (0, 200, 0))])
    item = (await upload(api, product, out.getvalue())).data
    assert item["format"] == "jpeg" and (item["width"], item["height"]) == (60, 40)
    original = await api.get(local_path(item["original_url"]))
    assert original.headers["Content-Type"] == "image/jpeg" and original.raw == out.getvalue()


# ---- uploads --------------------------------------------------------------------------------------

async def test_upload_takes_alt_text_and_position(api: Any, product: int) -> None:
    first = await upload(api, product, draw(5))
    second = await upload(api, product, draw(6, fmt="WEBP"), alt_text="Side view", position="0")
    assert first.code == second.code == 201
    assert second.data["alt_text"] == "Side view" and second.data["position"] == 0
    assert second.data["source_url"] is None
    listed = (await api.get(f"/api/products/{product}/media")).data
    assert [m["id"] for m in listed["media"]] == [second.data["id"], first.data["id"]]
    assert [m["position"] for m in listed["media"]] == [0, 1] and listed["total"] == 2


@pytest.mark.parametrize("fields, files, message", [
    ({}, {}, "file: is required"),
    ({"file": "text"}, {}, "file: must be a file part (with a filename)"),
    ({"colour": "red"}, {"file": ("a.png", b"x")}, "colour: unknown field"),
    ({"position": "first"}, {"file": ("a.png", None)}, "position: must be an integer"),
    ({"position": "-1"}, {"file": ("a.png", None)}, "position: must be between 0 and 10000"),
    ({"alt_text": "x" * 501}, {"file": ("a.png", None)}, "alt_text: must be at most 500 characters"),
    ({}, {"file": ("a.txt", b"hello, not an image")},
     "file: not an image in an accepted format (JPEG, PNG, WebP or GIF)"),
    ({}, {"file": ("a.png", b"")}, "file: the file is empty"),
])
async def test_bad_uploads_are_400_naming_the_field(db: Database, api: Any, product: int,
                                                    fields: dict[str, str], files: dict[str, Any],
                                                    message: str) -> None:
    files = {name: (filename, data if data is not None else draw(7)) for name, (filename, data) in files.items()}
    body, content_type = multipart(fields, files)
    response = await api.call("POST", f"/api/products/{product}/media", raw=body,
                              headers={"Content-Type": content_type})
    assert response.code == 400, response.body
    assert response.error == message
    assert stored_media(db) == (0, 0)


async def test_malformed_multipart_is_400(api: Any, product: int) -> None:
    response = await api.call("POST", f"/api/products/{product}/media", raw=b"--x\r\nnonsense",
                              headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert response.code == 400
    assert response.error.startswith("body: malformed multipart/form-data")


async def test_an_upload_over_20_mb_is_400_naming_file(db: Database, api: Any, product: int) -> None:
    body, content_type = multipart({}, {"file": ("big.png", draw(8) + b"\0" * (25 * 1024 * 1024))})
    response = await api.call("POST", f"/api/products/{product}/media", raw=body,
                              headers={"Content-Type": content_type})
    assert response.code == 400
    assert response.error == "file: the file is larger than 20 MB"
    # Just over the cap, inside the multipart allowance: the file part itself is measured.
    body, content_type = multipart({}, {"file": ("big.png", b"\0" * (20 * 1024 * 1024 + 1))})
    response = await api.call("POST", f"/api/products/{product}/media", raw=body,
                              headers={"Content-Type": content_type})
    assert response.code == 400
    assert response.error == "file: the file is larger than 20 MB"
    assert stored_media(db) == (0, 0)


async def test_an_oversized_multipart_body_to_a_method_without_a_form_is_a_400(
        db: Database, api: Any, product: int) -> None:
    """The upload routes' other methods (no form declared) refuse it by name, not a 500."""
    body, content_type = multipart({}, {"file": ("big.png", b"\0" * (25 * 1024 * 1024))})
    for method, path in (("PUT", f"/api/products/{product}/media"),
                         ("DELETE", "/api/products/image-search")):
        response = await api.call(method, path, raw=body, headers={"Content-Type": content_type})
        assert response.code in (400, 405), (method, path, response.code, response.raw[:200])
        assert response.body["status"] == 0 and response.body["error"]
    assert stored_media(db) == (0, 0)


async def test_a_json_body_keeps_its_1_mb_limit(api: Any, product: int) -> None:
    raw = json.dumps({"file_url": "http://x.test/" + "a" * (1024 * 1024)}).encode()
    response = await api.call("POST", f"/api/products/{product}/media", raw=raw)
    assert response.code == 413


# ---- bad JSON bodies ----------------------------------------------------------------------------

@pytest.mark.parametrize("body, message", [
    ({}, "file_url: is required"),
    ({"file_url": ""}, "file_url: must not be empty"),
    ({"file_url": 5}, "file_url: must be a string"),
    ({"file_url": "http://x.test/a.png", "extra": 1}, "extra: unknown field"),
    ({"file_url": "http://x.test/a.png", "position": -1}, "position: must be at least 0"),
    ({"file_url": "http://x.test/a.png", "position": "1"}, "position: must be an integer"),
    ({"file_url": "http://x.test/a.png", "position": 10_001}, "position: must be at most 10000"),
    ({"file_url": "http://x.test/a.png", "alt_text": 3}, "alt_text: must be a string"),
    ({"file_url": "http://x.test/a.png", "alt_text": "x" * 501}, "alt_text: must be at most 500 characters"),
    ({"file_url": "http://x.test/" + "a" * 2048}, "file_url: must be at most 2048 characters"),
])
async def test_bad_media_bodies_are_400_naming_the_field(db: Database, api: Any, images: ImageServer,
                                                         product: int, body: dict[str, Any],
                                                         message: str) -> None:
    response = await api.post(f"/api/products/{product}/media", body)
    assert response.code == 400
    assert response.error == message
    assert images.requests == [] and stored_media(db) == (0, 0)


# ---- what a fetched URL may answer -----------------------------------------------------------------

def _truncated_jpeg() -> bytes:
    data = draw(9, (800, 600), "JPEG", quality=95)
    return data[: len(data) // 2]


@pytest.mark.parametrize("served, message", [
    (Served(b"<html>not an image</html>", headers={"Content-Type": "image/png"}),
     "file_url: not an image in an accepted format (JPEG, PNG, WebP or GIF)"),
    (Served(_truncated_jpeg()), "file_url: the image cannot be decoded"),
    (Served(_truncated_jpeg() + b"\xff\xd9"), "file_url: the image cannot be decoded"),  # an end marker too
    (Served(bomb_png()), "file_url: the image has more than 50 megapixels"),
    (Served(bomb_png(8000, 7000)), "file_url: the image has more than 50 megapixels"),
    (Served(b"\0" * (25 * 1024 * 1024)), "file_url: the file is larger than 20 MB"),
    (Served(b"\0" * (25 * 1024 * 1024), chunks=50), "file_url: the file is larger than 20 MB"),
    (Served(draw(10), status=404), "file_url: the server answered HTTP 404"),
    (Served(draw(10), status=500), "file_url: the server answered HTTP 500"),
    (Served(draw(10), delay=3.0), "file_url: no complete answer within 1 seconds"),
    (Served(b"", status=302), "file_url: redirect (302) without a Location"),
])
async def test_bad_fetches_are_400_and_store_nothing(db: Database, api: Any, images: ImageServer,
                                                     product: int, served: Served, message: str) -> None:
    images.routes["/file"] = served
    before = (await api.get(f"/api/products/{product}")).data["updated_at"]
    response = await api.post(f"/api/products/{product}/media", {"file_url": images.url("/file")})
    assert response.code == 400
    assert response.error.startswith(message), response.error
    assert images.requests == ["/file"]
    assert stored_media(db) == (0, 0)
    assert (await api.get(f"/api/products/{product}")).data["updated_at"] == before


@pytest.mark.parametrize("served", [
    Served(b"\0" * (25 * 1024 * 1024)),  # refused on its Content-Length
    Served(b"\0" * (25 * 1024 * 1024), chunks=50),  # refused as it streams in
    Served(draw(10), status=500),
    Served(b"<html>not an image</html>"),
])
async def test_a_refused_fetch_is_not_logged_as_a_crash(api: Any, images: ImageServer, product: int,
                                                       caplog: Any, served: Served) -> None:
    """The client gets its 400; the log gets at most a line, never a traceback."""
    images.routes["/file"] = served
    with caplog.at_level(logging.INFO):
        response = await api.post(f"/api/products/{product}/media", {"file_url": images.url("/file")})
        await asyncio.sleep(0.05)  # the fetch's connection is closed after the answer
    assert response.code == 400
    served_500 = lambda r: r.name == "tornado.access" and "GET /file" in r.getMessage()  # noqa: E731
    crashes = [r for r in caplog.records
               if (r.levelno >= logging.ERROR or r.exc_info) and not served_500(r)]
    assert not crashes, caplog.text


async def test_redirects_are_followed_up_to_three(api: Any, images: ImageServer, product: int) -> None:
    images.add("/img", draw(11))
    for hop in range(1, 5):
        images.add(f"/r{hop}", status=302, headers={"Location": "/img" if hop == 1 else f"/r{hop - 1}"})
    response = await api.post(f"/api/products/{product}/media", {"file_url": images.url("/r3")})
    assert response.code == 201, response.body
    assert images.requests == ["/r3", "/r2", "/r1", "/img"]
    images.requests.clear()
    response = await api.post(f"/api/products/{product}/media", {"file_url": images.url("/r4")})
    assert response.code == 400
    assert response.error == "file_url: more than 3 redirects"
    assert images.requests == ["/r4", "/r3", "/r2", "/r1"]


# ---- SSRF ----------------------------------------------------------------------------------------

@pytest.fixture
def guarded(app: Any) -> Any:
    app.images.fetcher.allow_private = False
    return app


@pytest.mark.parametrize("host", [
    "127.0.0.1", "localhost", "2130706433", "0x7f000001", "0x7f.1", "127.1", "0177.0.0.1",
    "[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::127.0.0.1]", "0.0.0.0", "[::]",
])
async def test_loopback_in_any_spelling_is_refused(db: Database, api: Any, guarded: Any, images: ImageServer,
                                                   product: int, host: str) -> None:
    images.add("/img.png", draw(12))
    response = await api.post(f"/api/products/{product}/media",
                              {"file_url": f"http://{host}:{images.port}/img.png"})
    assert response.code == 400, response.body
    assert response.error.startswith("file_url: refused: host "), response.error
    assert "not a public address" in response.error
    assert images.requests == [] and stored_media(db) == (0, 0)


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/a.png", "http://192.168.1.1/a.png",
    "http://172.16.0.1/a.png", "http://100.64.0.1/a.png", "http://224.0.0.1/a.png",
    "http://240.0.0.1/a.png", "http://[fe80::1]/a.png", "http://[fc00::1]/a.png",
    "http://[::ffff:169.254.169.254]/a.png", "http://[64:ff9b::a00:1]/a.png",
    "http://[2002:7f00:1::]/a.png",
])
async def test_private_and_special_addresses_are_refused(db: Database, api: Any, guarded: Any, product: int,
                                                         url: str) -> None:
    response = await api.post(f"/api/products/{product}/media", {"file_url": url})
    assert response.code == 400
    assert response.error.startswith("file_url: refused: host "), response.error
    assert stored_media(db) == (0, 0)


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "gopher://127.0.0.1:70/_x", "ftp://example.com/a.png",
    "data:image/png;base64,AAAA", "//example.com/a.png", "javascript:alert(1)",
])
async def test_only_http_and_https_are_fetched(api: Any, product: int, url: str) -> None:
    response = await api.post(f"/api/products/{product}/media", {"file_url": url})
    assert response.code == 400
    assert response.error == "file_url: only http and https URLs can be fetched"


@pytest.mark.parametrize("url, message", [
    ("http://example.com/a.png\r\nX-Injected: 1", "file_url: must not contain spaces or control characters"),
    ("http://example.com/a b.png", "file_url: must not contain spaces or control characters"),
    ("http://exa\u0000mple.com/a.png", "file_url: must not contain spaces or control characters"),
    ("http://" + "\u00e9" * 64 + ".com/a.png", "file_url: not a valid URL"),
    ("http:///a.png", "file_url: the URL has no host"),
    ("http://user:pw@example.com/a.png", "file_url: URLs with a user name or password are not fetched"),
    ("http://example.com:99999/a.png", "file_url: not a valid URL"),
])
async def test_odd_urls_are_400(api: Any, product: int, url: str, message: str) -> None:
    response = await api.post(f"/api/products/{product}/media", {"file_url": url})
    assert response.code == 400
    assert response.error.startswith(message), response.error


async def test_a_redirect_from_an_allowed_host_to_loopback_is_refused(
    db: Database, api: Any, guarded: Any, images: ImageServer, far: ImageServer, product: int
) -> None:
    # 127.0.0.2 plays a public host; every other address stays refused.
    guarded.images.fetcher.allowed = lambda address: str(address) == "127.0.0.2"
    inner = images.add("/secret.png", draw(13))
    far.add("/ok.png", draw(14))
    far.add("/go", status=302, headers={"Location": "/ok.png"})
    far.add("/escape", status=301, headers={"Location": inner})

    allowed = await api.post(f"/api/products/{product}/media", {"file_url": far.url("/go")})
    assert allowed.code == 201, allowed.body
    refused = await api.post(f"/api/products/{product}/media", {"file_url": far.url("/escape")})
    assert refused.code == 400
    assert refused.error == "file_url: refused: host '127.0.0.1' is not a public address"
    assert images.requests == []
    assert far.requests == ["/go", "/ok.png", "/escape"]
    assert stored_media(db) == (1, 2)


async def test_non_ascii_paths_are_percent_encoded(api: Any, images: ImageServer, product: int) -> None:
    images.add("/caf%C3%A9/l%C3%A4mpe.png", draw(17))
    url = f"http://127.0.0.1:{images.port}/café/lämpe.png"
    response = await api.post(f"/api/products/{product}/media", {"file_url": url})
    assert response.code == 201, response.body
    assert images.requests == ["/caf%C3%A9/l%C3%A4mpe.png"]
    assert response.data["source_url"] == url


async def test_allow_private_urls_lifts_only_the_address_check(api: Any, images: ImageServer,
                                                               product: int) -> None:
    images.add("/img.png", draw(15))
    response = await api.post(f"/api/products/{product}/media", {"file_url": images.url("/img.png")})
    assert response.code == 201
    response = await api.post(f"/api/products/{product}/media", {"file_url": "file:///etc/hostname"})
    assert response.error == "file_url: only http and https URLs can be fetched"


# ---- order, patch, delete ------------------------------------------------------------------------------

async def _three(api: Any, product: int) -> list[dict[str, Any]]:
    return [(await upload(api, product, draw(20 + i), alt_text=f"#{i}")).data for i in range(3)]


async def _order(api: Any, product: int) -> list[str]:
    listed = (await api.get(f"/api/products/{product}/media")).data["media"]
    assert [m["position"] for m in listed] == list(range(len(listed)))
    shown = (await api.get(f"/api/products/{product}")).data["images"]
    assert shown == [m["url"] for m in listed]
    return [m["alt_text"] for m in listed]


async def test_patch_moves_an_item_and_shifts_the_others(api: Any, product: int) -> None:
    a, b, c = await _three(api, product)
    assert await _order(api, product) == ["#0", "#1", "#2"]
    before = (await api.get(f"/api/products/{product}")).data["updated_at"]
    moved = await api.patch(f"/api/products/{product}/media/{c['id']}", {"position": 0})
    assert moved.code == 200 and moved.data["position"] == 0
    assert await _order(api, product) == ["#2", "#0", "#1"]
    assert (await api.get(f"/api/products/{product}")).data["updated_at"] > before
    await api.patch(f"/api/products/{product}/media/{c['id']}", {"position": 99})
    assert await _order(api, product) == ["#0", "#1", "#2"]
    await api.patch(f"/api/products/{product}/media/{a['id']}", {"position": 1, "alt_text": "front"})
    assert await _order(api, product) == ["#1", "front", "#2"]
    await api.patch(f"/api/products/{product}/media/{a['id']}", {"alt_text": None})
    assert await _order(api, product) == ["#1", "", "#2"]


async def test_delete_closes_up_positions(db: Database, api: Any, anon: Any, product: int) -> None:
    a, b, c = await _three(api, product)
    before = (await api.get(f"/api/products/{product}")).data["updated_at"]
    response = await api.delete(f"/api/products/{product}/media/{b['id']}")
    assert response.code == 200 and response.data["id"] == b["id"]
    assert await _order(api, product) == ["#0", "#2"]
    assert (await api.get(f"/api/products/{product}")).data["updated_at"] > before
    assert (await anon.client.fetch(local_path(b["url"]), raise_error=False)).code == 404
    assert (await api.delete(f"/api/products/{product}/media/{b['id']}")).code == 404
    assert stored_media(db) == (2, 4)


async def test_insert_at_a_position_shifts_the_rest(api: Any, product: int) -> None:
    await _three(api, product)
    await upload(api, product, draw(30), alt_text="new", position="1")
    assert await _order(api, product) == ["#0", "new", "#1", "#2"]
    await upload(api, product, draw(31), alt_text="last", position="50")
    assert (await _order(api, product))[-1] == "last"


@pytest.mark.parametrize("body, message", [
    ({"position": -1}, "position: must be at least 0"),
    ({"position": None}, "position: must not be null"),
    ({"position": 1.5}, "position: must be an integer"),
    ({"alt_text": 1}, "alt_text: must be a string"),
    ({"url": "x"}, "url: unknown field"),
])
async def test_bad_patches_are_400(api: Any, product: int, body: dict[str, Any], message: str) -> None:
    item = (await upload(api, product, draw(32))).data
    response = await api.patch(f"/api/products/{product}/media/{item['id']}", body)
    assert response.code == 400
    assert response.error == message


# ---- organizations ----------------------------------------------------------------------------------

async def test_another_organizations_product_and_media_are_404(api: Any, other_api: Any,
                                                                images: ImageServer, product: int) -> None:
    item = (await upload(api, product, draw(40))).data
    theirs = (await other_api.post("/api/products", {"name": "Theirs", "sku": "T-1"})).data["id"]
    mine_for_them = f"/api/products/{product}/media"
    for response in (
        await other_api.get(mine_for_them),
        await other_api.post(mine_for_them, {"file_url": images.url("/x.png")}),
        await upload(other_api, product, draw(41)),
        await other_api.get(f"{mine_for_them}/{item['id']}"),
        await other_api.patch(f"{mine_for_them}/{item['id']}", {"alt_text": "x"}),
        await other_api.delete(f"{mine_for_them}/{item['id']}"),
    ):
        assert response.code == 404
        assert response.error == f"product {product} not found"
    # Their own product with my media id: the media is not theirs.
    for response in (
        await other_api.get(f"/api/products/{theirs}/media/{item['id']}"),
        await other_api.patch(f"/api/products/{theirs}/media/{item['id']}", {"position": 0}),
        await other_api.delete(f"/api/products/{theirs}/media/{item['id']}"),
    ):
        assert response.code == 404
        assert response.error == f"media {item['id']} not found"
    assert images.requests == []
    assert (await api.get(f"/api/products/{product}/media")).data["total"] == 1


async def test_media_of_another_product_is_404_under_this_one(api: Any, product: int) -> None:
    item = (await upload(api, product, draw(42))).data
    other = (await api.post("/api/products", {"name": "Other", "sku": "O-1"})).data["id"]
    response = await api.get(f"/api/products/{other}/media/{item['id']}")
    assert response.code == 404 and response.error == f"media {item['id']} not found"


async def test_the_deadline_covers_the_redirects_too(db: Database, api: Any, images: ImageServer,
                                                     product: int) -> None:
    images.add("/img", draw(16), delay=0.4)
    images.add("/r1", status=302, headers={"Location": "/img"}, delay=0.4)
    images.add("/r2", status=302, headers={"Location": "/r1"}, delay=0.4)
    response = await api.post(f"/api/products/{product}/media", {"file_url": images.url("/r2")})
    assert response.code == 400
    assert response.error == "file_url: no complete answer within 1 seconds"
    assert stored_media(db) == (0, 0)


async def test_originals_keep_their_metadata_behind_the_key(api: Any, anon: Any, other_api: Any,
                                                            product: int) -> None:
    """An original keeps EXIF (a phone's GPS position); only the renditions are public."""
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    photo = draw(9, (320, 200), "JPEG", exif=exif.tobytes())
    item = (await upload(api, product, photo)).data
    path = local_path(item["original_url"])
    assert path == f"/api/products/{product}/media/{item['id']}/original"

    mine = await api.get(path)
    assert mine.code == 200 and mine.raw == photo and b"SecretCam" in mine.raw
    again = await api.get(path, headers={"If-None-Match": mine.headers["ETag"]})
    assert again.code == 304
    assert (await anon.get(path)).code == 401
    theirs = await other_api.get(path)
    assert theirs.code == 404 and theirs.error == f"product {product} not found"
    missing = await api.get(f"/api/products/{product}/media/999999/original")
    assert missing.code == 404 and missing.error == "media 999999 not found"
    # The public rendition has no metadata, and there is no public original.
    rendition = await anon.client.fetch(local_path(item["url"]))
    assert b"SecretCam" not in rendition.body
    token = item["url"].rsplit("/", 1)[1].removesuffix(".webp")
    public = await anon.client.fetch(f"/media/{token}/original", raise_error=False)
    assert public.code == 404
