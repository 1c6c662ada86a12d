"""Media benchmark: the cost of adding an image and of an image search, in-process.

Run from the repository root:

    .venv/bin/python bench/media.py [--images N] [--repeat R]

1. Off-loop work per image, median of --repeat runs: checking and decoding, the WebP
   rendition and the embedding (`search.pipeline.Images._prepare`) for a 12-megapixel
   camera JPEG, a 1600x1600 PNG and a 800x600 JPEG; and the query side of image search
   (`Images._search` without the index: reduced-size decode and embed).
2. Starts the application (made before step 1: its image model is the one timed
   there) on 127.0.0.1 in this process with a fresh database in a temporary
   directory, uploads N images (default 100) through
   `POST /api/products/{id}/media`, then times `POST /api/products/image-search` and a
   public `GET /media/...webp`, printing p50 and p99 of each over the requests.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import variants as variants_bench  # noqa: E402  (its median_ms)

if TYPE_CHECKING:
    import socket

    from handlers.app import Application
    from search.pipeline import Images


def picture(seed: int, size: tuple[int, int], fmt: str) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))  # type: ignore[arg-type]
    pen = ImageDraw.Draw(image)
    w, h = size
    for _ in range(20):
        x, y = rng.randrange(w), rng.randrange(h)
        pen.ellipse([x, y, x + rng.randrange(10, w // 2), y + rng.randrange(10, h // 2)],
                    fill=tuple(rng.randrange(256) for _ in range(3)))  # type: ignore[arg-type]
    out = io.BytesIO()
    image.save(out, fmt, quality=90) if fmt == "JPEG" else image.save(out, fmt)
    return out.getvalue()


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm up (the model loads on first use)
    return variants_bench.median_ms(fn, repeat)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="f"\r\n\r\n'
            .encode() + data + f"\r\n--{boundary}--\r\n".encode())
    return body, f"multipart/form-data; boundary={boundary}"


def off_loop_costs(images: Images, repeat: int) -> None:
    """`images`: the application's image side (its model, and how it prepares an upload)."""
    from search.imaging import upright_image
    from search.pipeline import QUERY_DECODE_SIDE

    print("off-loop work per image (median ms)")
    for label, data in (
        ("12 MP camera JPEG 4032x3024", picture(1, (4032, 3024), "JPEG")),
        ("PNG 1600x1600", picture(2, (1600, 1600), "PNG")),
        ("JPEG 800x600", picture(3, (800, 600), "JPEG")),
    ):
        add = median_ms(lambda: images._prepare(data, "file"), repeat)
        query = median_ms(lambda: images.models.get().embed([upright_image(data, "image", QUERY_DECODE_SIDE)]),
                          repeat)
        print(f"  {label:30s} add (check, rendition, embed) {add:7.1f}   query (decode, embed) {query:6.1f}")


async def http_costs(app: Application, sockets: list[socket.socket], images: int, repeat: int) -> None:
    import tornado.httpclient
    import tornado.httpserver

    import micropim
    from store import orgs
    from store.products.write import create_product

    db = app.db
    with db.writing():
        org = orgs.get_or_create_org(db, "Bench")
        key = orgs.create_key(db, org)
    port = sockets[0].getsockname()[1]
    server = tornado.httpserver.HTTPServer(app, max_body_size=micropim.MAX_BODY_BYTES)
    server.add_sockets(sockets)
    client = tornado.httpclient.AsyncHTTPClient()
    base = f"http://127.0.0.1:{port}"

    upload_ms, urls = [], []
    for seed in range(images):
        with db.writing():
            product = create_product(db, org, {"name": f"P{seed}", "sku": f"B-{seed}", "status": "active"})
        body, ctype = multipart("file", picture(seed, (800, 600), "JPEG"))
        start = time.perf_counter()
        response = await client.fetch(f"{base}/api/products/{product['id']}/media", method="POST",
                                      body=body, headers={"X-API-KEY": key, "Content-Type": ctype})
        upload_ms.append((time.perf_counter() - start) * 1000)
        urls.append(json.loads(response.body)["data"]["url"])

    search_ms = []
    for seed in range(repeat):
        body, ctype = multipart("image", picture(seed % images, (800, 600), "JPEG"))
        start = time.perf_counter()
        await client.fetch(f"{base}/api/products/image-search", method="POST", body=body,
                           headers={"X-API-KEY": key, "Content-Type": ctype})
        search_ms.append((time.perf_counter() - start) * 1000)

    file_ms = []
    for i in range(repeat * 5):
        start = time.perf_counter()
        await client.fetch(urls[i % len(urls)])
        file_ms.append((time.perf_counter() - start) * 1000)

    print(f"HTTP, one client, {images} images indexed (ms)")
    for label, values in (("POST media (multipart 800x600 JPEG)", upload_ms),
                          ("POST image-search (800x600 JPEG)", search_ms),
                          ("GET /media/{token}.webp", file_ms)):
        print(f"  {label:38s} p50 {percentile(values, 0.5):7.1f}   p99 {percentile(values, 0.99):7.1f}")
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    import tornado.netutil

    import micropim
    from search.model import ImageModels

    folder = tempfile.mkdtemp(prefix="micropim-bench-media-")
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    port = sockets[0].getsockname()[1]
    # The built-in model from the user's cache (or MICROPIM_MODEL_CACHE), as the first
    # step loaded it, rather than built again for the temporary database.
    app = micropim.make_app(micropim.Settings(
        database=os.path.join(folder, "bench.db"), read_limit=10**6, write_limit=10**6,
        public_url=f"http://127.0.0.1:{port}",
        image_models=ImageModels(None, os.environ.get("MICROPIM_MODEL_CACHE"))))
    try:
        off_loop_costs(app.images, args.repeat)
        asyncio.run(http_costs(app, sockets, args.images, args.repeat))
    finally:
        app.close()


if __name__ == "__main__":
    main()
