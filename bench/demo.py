"""Demo catalog benchmark: how long `serve --demo` takes to start, and whether its
photos find their products.

Run from the repository root:

    .venv/bin/python bench/demo.py [--count N] [--queries Q] [--no-serve]

1. `micropim serve --demo` in a subprocess on a fresh database, timed from launch to
   the printed demo key: first with an empty image-model cache (the built-in model is
   built from its weights: "cold"), then again on another fresh database with the
   cache now filled ("warm"), with the CPU seconds the server and its drawing workers
   used in all. Skipped with --no-serve.
2. The seed in this process on a fresh database: seconds per stage and the database
   size.
3. Image search over that catalog: Q products (default 60), each queried with altered
   copies of its photo (a crop, a third of the size, JPEG at quality 50, tilted 8
   degrees, mirrored). Prints recall@1 (the product itself comes first) per
   alteration, and the share of the next four results that are the same kind of
   product (a shirt finds shirts).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from PIL import Image, ImageOps  # noqa: E402

ALTERATIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "crop 10%": lambda im: im.crop((im.width // 10, im.height // 10,
                                    im.width - im.width // 10, im.height - im.height // 10)),
    "third size": lambda im: im.resize((im.width // 3, im.height // 3)),
    "jpeg q50": lambda im: im,  # encoded at quality 50 below
    "tilt 8 deg": lambda im: im.rotate(8, Image.Resampling.BICUBIC, fillcolor=im.getpixel((2, 2))),
    "mirror": ImageOps.mirror,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def time_serve(db: str, model_cache: str) -> tuple[float, float]:
    """Seconds from launching `serve --demo` to its printed key, and the CPU seconds
    it and its worker processes used in all (on a busy machine the wall time says
    more about the neighbours than about the demo)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MICROPIM_")}
    env["MICROPIM_MODEL_CACHE"] = model_cache
    began = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "micropim.py"), "serve", "--demo", "--db", db,
         "--port", str(free_port())],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    wall = None
    try:
        for line in process.stdout:
            if line.startswith("Demo API key:"):
                wall = time.perf_counter() - began
                break
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    if wall is None:
        raise SystemExit(f"serve --demo ended without a key (status {process.returncode})")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return Image.open(io.BytesIO(out.getvalue()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--no-serve", action="store_true")
    args = parser.parse_args()

    from search import demo
    from search.demo.photos import draw_product
    from search.model import ImageModels
    from search.vectors import search_products
    from store.db import open_database

    with tempfile.TemporaryDirectory() as tmp:
        print(f"CPUs: {os.cpu_count()} ({len(os.sched_getaffinity(0))} usable;"
              f" {demo.WORKERS} drawing workers)")
        if not args.no_serve:
            cache = os.path.join(tmp, "model-cache")
            os.makedirs(cache)
            for label, name in (("cold", "cold.db"), ("warm", "warm.db")):
                wall, cpu = time_serve(os.path.join(tmp, name), cache)
                print(f"serve --demo, launch to key, {label} model cache: {wall:.1f} s"
                      f" ({cpu:.1f} CPU s in all; load average {os.getloadavg()[0]:.1f})")

        path = os.path.join(tmp, "demo.db")
        db = open_database(path)
        models = ImageModels(None, tmp)
        models.get()  # built or loaded before the clock starts: the stages alone
        outcome = demo.seed(db, models, args.count)
        stages = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in outcome.seconds.items())
        print(f"seed of {args.count} (+{len(demo.VARIABLE)} variable) products,"
              f" {outcome.images} images: {sum(outcome.seconds.values()):.1f} s ({stages})")
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        print(f"database: {os.path.getsize(path) / 1e6:.1f} MB")

        org = demo.demo_org_id(db)
        model = models.get()
        rows = db.execute_sql(
            "SELECT id, sku FROM product WHERE org_id = ? AND status != 'archived'"
            " AND product_type = 'simple' ORDER BY id", (org,)).fetchall()
        step = max(1, len(rows) // args.queries)
        sample = rows[::step][:args.queries]
        hits = {name: 0 for name in ALTERATIONS}
        kin = {name: 0 for name in ALTERATIONS}
        for product_id, sku in sample:
            n = int(re.sub(r"\D", "", sku)) - 1
            kind = demo.KINDS[n % len(demo.KINDS)]
            colour = demo.COLOURS[(n // len(demo.KINDS)) % len(demo.COLOURS)]
            photo = draw_product(kind.noun[0], colour[0], n)
            for name, alter in ALTERATIONS.items():
                query = alter(photo)
                query = jpeg(query, 50 if name == "jpeg q50" else 90)
                found = search_products(db, org, model.embed([query])[0], 5, model.digest)
                hits[name] += found[0][0] == product_id
                skus = dict(db.execute_sql(
                    f"SELECT id, sku FROM product WHERE id IN ({','.join('?' * len(found))})",
                    [pid for pid, _ in found]).fetchall())
                kin[name] += sum(skus[pid][:3] == kind.prefix for pid, _ in found[1:5])
        print(f"image search over the demo, {len(sample)} products:")
        for name in ALTERATIONS:
            print(f"  {name:<11} recall@1 {hits[name] / len(sample):.3f}"
                  f"   same kind among the next 4: {kin[name] / (4 * len(sample)):.2f}")
        db.close()


if __name__ == "__main__":
    main()
