"""What many tests make: organizations and keys, products (over HTTP or in the store),
pictures drawn with Pillow, multipart uploads, and a counter of SQL statements."""

from __future__ import annotations

import io
import struct
import uuid
import zlib
from contextlib import contextmanager
from typing import Any, Iterator

from PIL import Image, ImageDraw

from store import orgs
from store.db import Database
from store.products import write

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ---- the store -------------------------------------------------------------------------

def make_org(db: Database, name: str) -> int:
    with db.writing():
        return orgs.get_or_create_org(db, name)


def make_key(db: Database, org_id: int) -> str:
    with db.writing():
        return orgs.create_key(db, org_id)


def store_product(db: Database, org_id: int, name: str, sku: str, **fields: Any) -> int:
    """A product written straight into the store; answers its id."""
    with db.writing():
        return int(write.create_product(db, org_id, {"name": name, "sku": sku, **fields})["id"])


@contextmanager
def count_queries(db: Database) -> Iterator[list[str]]:
    """Collect every SQL statement run, on any thread, while the block runs.

        with count_queries(db) as seen:
            await api.get("/api/categories/tree")
        assert len(seen) <= 5, seen
    """
    seen: list[str] = []
    with db.tracer(seen.append):
        yield seen


# ---- over HTTP ---------------------------------------------------------------------------

async def post_product(api: Any, name: str, sku: str, **fields: Any) -> dict[str, Any]:
    """A product created through the API (201 asserted); answers the product."""
    response = await api.post("/api/products", {"name": name, "sku": sku, **fields})
    assert response.code == 201, response.body
    return dict(response.data)


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     .encode() + value.encode() + b"\r\n")
    for name, (filename, data) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


async def upload(api: Any, product_id: int, data: bytes, **fields: str) -> Any:
    """POST a file to the product's media (the raw response)."""
    body, content_type = multipart(fields, {"file": ("photo.bin", data)})
    return await api.call("POST", f"/api/products/{product_id}/media", raw=body,
                          headers={"Content-Type": content_type})


def local_path(url: str) -> str:
    """The path of an absolute URL under the tests' public URL."""
    assert url.startswith(("http://pim.test/media/", "http://pim.test/api/")), url
    return url.removeprefix("http://pim.test")


# ---- pictures ----------------------------------------------------------------------------

def draw(seed: int, size: tuple[int, int] = (400, 300), fmt: str = "PNG", **save: Any) -> bytes:
    """A distinct picture per seed: a coloured background with a few shapes."""
    image = Image.new("RGB", size, ((seed * 70) % 256, (seed * 130) % 256, (seed * 200) % 256))
    pen = ImageDraw.Draw(image)
    w, h = size
    for i in range(3):
        box = ((seed * 37 + i * 53) % (w // 2), (seed * 17 + i * 41) % (h // 2))
        pen.ellipse([box, (box[0] + w // 3, box[1] + h // 3)],
                    fill=((seed + i) * 90 % 256, (i * 120) % 256, 255 - (seed * 30) % 256))
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG header claiming 10 gigapixels in a few bytes."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (PNG_MAGIC + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b""))
