"""Image-search benchmark: retrieval quality, embedding time, index latency and recall.

Run from the repository root:

    .venv/bin/python bench/imagesearch.py [--images N] [--sizes 10000,100000]
                                          [--queries Q] [--db-dir DIR] [--skip-retrieval]
                                          [--data clustered,continuum] [--serve]

(`--sizes 10000,100000,1000000 --data clustered --queries 30` adds 1M: ~15 minutes,
2.6 GB of temporary database and ~6 GB of memory, the benchmark's own copy of the
vectors included.)

What it does, in one run:

1. Retrieval: draws N (default 100) product-like images with Pillow (a body shape, a
   second shape, stripes and a label of text, in varied colours, on studio white or a
   coloured backdrop), indexes them as one product each in a fresh database, then
   searches with five altered copies of each (centre crop 80 %, resize to 40 %, JPEG
   quality 40, white padding, horizontal flip) and prints recall@1 per alteration and
   overall, for GeM (p = 3) pooling, the embedding the model uses, and for average
   pooling of the same features, for comparison.
2. Embedding time: ms per image at batch 1, from a decoded 800x800 picture and from
   JPEG bytes (decode included), median of 30.
3. Index: for each size, a fresh database with that many products of one organization
   (plus 1 % as many of another, to keep the partition honest), one image each, whose
   vectors are synthetic but shaped like real embeddings (non-negative mixes of the
   embeddings of 200 generated images: `clustered` in families like a catalogue,
   `continuum` without structure, the hard case); Q queries (default 200) are perturbed copies
   of random indexed vectors. The index is loaded as a server start loads it
   (`search.vectors.ImageIndex`; a first start trains its cells in the background, a
   second one reads them back). Prints insert rate, search p50/p99 (the whole
   `search_products` call: the change-log check, the in-process search, the archived
   filter) at limit 10, recall@10 against exact float32 search over the same
   organization, how often the vector the query was made from comes first, the
   database size, the start-up load time, the index's memory, and a search right
   after a write.

Targets (issue 4): embed <= 20 ms; search <= 25 ms at 100k with recall@10 >= 0.99,
<= 250 ms at 1M.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from search import vectors  # noqa: E402
from search.ann import Sizing, release_free_memory  # noqa: E402
from search.imaging import upright_image  # noqa: E402
from search.model import ImageModel, ImageModels  # noqa: E402
from search.pipeline import QUERY_DECODE_SIDE  # noqa: E402
from store.db import Database, open_database  # noqa: E402
from store.orgs import get_or_create_org  # noqa: E402
from store.values import utcnow  # noqa: E402

WORDS = ["AQUA", "TERRA", "nova", "Linen", "BOLT", "Mira", "Zest", "Orbit", "Kite", "Pulse"]


# ---- generated images ----------------------------------------------------------------

def draw_product(seed: int) -> Image.Image:
    """A product-like picture: body, accent shape, stripes and a text label."""
    rng = np.random.default_rng(seed)

    def colour() -> tuple[int, int, int]:
        return tuple(int(c) for c in rng.integers(0, 256, 3))  # type: ignore[return-value]

    w, h = int(rng.integers(500, 900)), int(rng.integers(500, 900))
    studio = rng.random() < 0.7
    image = Image.new("RGB", (w, h), (255, 255, 255) if studio else colour())
    draw = ImageDraw.Draw(image)
    box = (w * rng.uniform(0.1, 0.3), h * rng.uniform(0.1, 0.3),
           w * rng.uniform(0.7, 0.9), h * rng.uniform(0.7, 0.9))
    body = colour()
    kind = seed % 4
    if kind == 0:
        draw.ellipse(box, fill=body)
    elif kind == 1:
        draw.rounded_rectangle(box, radius=int(min(w, h) * 0.08), fill=body)
    elif kind == 2:
        draw.polygon([(box[0], box[3]), ((box[0] + box[2]) / 2, box[1]), (box[2], box[3])], fill=body)
    else:
        draw.rectangle(box, fill=body)
        draw.ellipse((box[0], box[1] - h * 0.08, box[2], box[1] + h * 0.08), fill=body)
    for _ in range(int(rng.integers(1, 4))):
        y = rng.uniform(box[1], box[3])
        draw.rectangle((box[0], y, box[2], y + h * rng.uniform(0.01, 0.05)), fill=colour())
    cx, cy = rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])
    r = min(w, h) * rng.uniform(0.04, 0.12)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour())
    font = ImageFont.load_default(size=int(min(w, h) * rng.uniform(0.05, 0.1)))
    draw.text(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), str(rng.choice(WORDS)),
              fill=colour(), font=font, anchor="mm")
    return image


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return upright_image(buffer.getvalue(), "image", QUERY_DECODE_SIDE)


def _pad(image: Image.Image) -> Image.Image:
    w, h = image.size
    canvas = Image.new("RGB", (int(w * 1.5), int(h * 1.3)), (255, 255, 255))
    canvas.paste(image, (int(w * 0.1), int(h * 0.2)))
    return canvas


def _crop(image: Image.Image) -> Image.Image:
    w, h = image.size
    return image.crop((int(w * 0.1), int(h * 0.1), int(w * 0.9), int(h * 0.9)))


ALTERATIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "crop": _crop,
    "resize": lambda im: im.resize((im.width * 2 // 5, im.height * 2 // 5), Image.Resampling.BILINEAR),
    "jpeg40": lambda im: _jpeg(im, 40),
    "pad": _pad,
    "flip": lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
}


def _embed_with(model: ImageModel, output: str, images: list[Image.Image]) -> np.ndarray:
    saved = model.output
    model.output = output
    try:
        return model.embed(images)
    finally:
        model.output = saved


def retrieval(model: ImageModel, count: int, workdir: str) -> None:
    """Prints recall@1 of altered queries."""
    originals = [draw_product(seed) for seed in range(count)]
    queries = {name: [alter(im) for im in originals] for name, alter in ALTERATIONS.items()}
    print(f"\n== retrieval: {count} generated images, {len(ALTERATIONS)} alterations each ==")
    for output in ("pooled", "gem"):
        db = open_database(os.path.join(workdir, f"retrieval-{output}.db"))
        org = _org(db, "Bench")
        index = _embed_with(model, output, originals)
        product_ids = _products(db, org, count)
        digest = f"bench-{output}"
        with db.writing():
            for media_id, (product_id, vector) in enumerate(zip(product_ids, index), start=1):
                vectors.add_embedding(db, org, product_id, media_id, vector, digest=digest)
        found_by = vectors.ImageIndex(db)
        hits_all = 0
        line = []
        for name, images in queries.items():
            embedded = _embed_with(model, output, images)
            hits = sum(
                found_by.search_products(org, q, 1, digest)[0][0] == product_ids[i]
                for i, q in enumerate(embedded)
            )
            hits_all += hits
            line.append(f"{name} {hits / count:.3f}")
        label = "GeM p=3" if output == "gem" else "average pool"
        label += " (used)" if output == model.output else " (comparison)"
        print(f"{label:26s} R@1 {hits_all / (count * len(queries)):.3f}  ({', '.join(line)})")
        db.close()


def embed_timing(model: ImageModel) -> None:
    picture = draw_product(12345).resize((800, 800))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    for _ in range(3):
        model.embed([picture])
    decoded, from_bytes = [], []
    for _ in range(30):
        start = time.perf_counter()
        model.embed([picture])
        decoded.append(time.perf_counter() - start)
        start = time.perf_counter()
        model.embed([upright_image(data, "image", QUERY_DECODE_SIDE)])
        from_bytes.append(time.perf_counter() - start)
    print(f"\n== embedding (batch 1, {os.cpu_count()} cores) ==")
    print(f"decoded 800x800 image: {np.median(decoded) * 1000:.1f} ms/image;"
          f" from JPEG bytes: {np.median(from_bytes) * 1000:.1f} ms/image (target <= 20 ms)")


# ---- index at scale ------------------------------------------------------------------

def _org(db: Database, name: str) -> int:
    with db.writing():
        return get_or_create_org(db, name)


def _products(db: Database, org_id: int, count: int) -> list[int]:
    """`count` bare products of `org_id`, inserted directly (benchmark setup only)."""
    now = utcnow()
    first = int(db.execute_sql("SELECT coalesce(max(id), 0) FROM product").fetchone()[0]) + 1
    ids = list(range(first, first + count))
    with db.writing():
        db.connection().executemany(
            "INSERT INTO product (id, org_id, sku, slug, name, status, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, 'active', ?, ?)",
            [(i, org_id, f"B-{i}", f"b-{i}", f"Bench {i}", now, now) for i in ids],
        )
    return ids


def continuum(base: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Vectors shaped like embeddings: non-negative mixes of three real ones with
    random weights and per-channel texture. A hard case: every vector has hundreds
    of near-equidistant neighbours, so the 2nd-10th places are near ties."""
    picks = rng.integers(0, len(base), (count, 3))
    weights = rng.dirichlet((1.0, 1.0, 1.0), count).astype(np.float32)
    out = np.einsum("nk,nkd->nd", weights, base[picks])
    out += np.abs(rng.normal(0, 0.02, out.shape)).astype(np.float32)
    out *= rng.lognormal(0, 0.3, out.shape).astype(np.float32)  # per-channel texture
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def clustered(base: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Catalogue-like vectors: families (mixes as in `continuum`) of five images on
    average (angles, colours of one product), each a variation of its family's."""
    families = continuum(base, max(1, count // 5), rng)
    out = families[rng.integers(0, len(families), count)]
    out = out * rng.lognormal(0, 0.15, out.shape).astype(np.float32)
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


DATA = {"clustered": clustered, "continuum": continuum}
CHUNK = 100_000  # vectors generated, inserted and exactly searched per step


def generate(kind: str, base: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """`size` vectors of `kind` as float16 (2.5 GB at 1M rather than 5), made in chunks
    so the mixing never holds more than one chunk's temporaries."""
    data = np.empty((size, base.shape[1]), np.float16)
    if kind == "clustered":
        families = np.concatenate([continuum(base, min(CHUNK, size // 5 - i), rng)
                                   for i in range(0, max(1, size // 5), CHUNK)])
    for offset in range(0, size, CHUNK):
        n = min(CHUNK, size - offset)
        if kind == "clustered":
            out = families[rng.integers(0, len(families), n)]
            out = out * rng.lognormal(0, 0.15, out.shape).astype(np.float32)
            chunk = out / np.linalg.norm(out, axis=1, keepdims=True)
        else:
            chunk = continuum(base, n, rng)
        data[offset:offset + n] = chunk
    return data


def exact_top(data: np.ndarray, q: np.ndarray, k: int = 10) -> np.ndarray:
    """Indexes of the `k` best rows of `data` by exact cosine (float32, in chunks)."""
    best_i, best_s = np.empty(0, np.int64), np.empty(0, np.float32)
    for offset in range(0, len(data), CHUNK):
        scores = data[offset:offset + CHUNK].astype(np.float32) @ q
        top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
        best_i = np.concatenate([best_i, top + offset])
        best_s = np.concatenate([best_s, scores[top]])
    return best_i[np.argsort(-best_s)[:k]]


def index_scale(base: np.ndarray, size: int, queries: int, workdir: str, kind: str, digest: str,
                serve: bool = False) -> None:
    """One size and set: build, load as a start does, search, and (with `serve`) run a
    server on it. The vectors are stored under the model's `digest`, so that a server
    with that model searches them."""
    rng = np.random.default_rng(size)
    path = os.path.join(workdir, f"index-{size}.db")
    db = open_database(path)
    org, other = _org(db, "Bench"), _org(db, "Other")
    data = generate(kind, base, size, rng)
    ids = _products(db, org, size)
    other_ids = _products(db, other, max(1, size // 100))
    start = time.perf_counter()
    batch = 10_000
    for offset in range(0, size, batch):
        with db.writing():
            vectors.add_embeddings(db, org, [(ids[i], i + 1, data[i].astype(np.float32))
                                             for i in range(offset, min(size, offset + batch))], digest)
    insert_s = time.perf_counter() - start
    with db.writing():
        vectors.add_embeddings(db, other, [(product_id, size + j + 1, data[j].astype(np.float32))
                                           for j, product_id in enumerate(other_ids)], digest)
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    mapped = 1 << 30
    reads = [_read_seconds(db, size) for size in (0, mapped, 0, mapped)]  # both warm: the best of two
    read_plain, read_mapped = min(reads[0::2]), min(reads[1::2])
    db.execute_sql("PRAGMA mmap_size = 0")  # as the store keeps it
    # A start: the server's index loads from the file (stored cells, if any), then
    # trains the organizations that need it in the background.
    release_free_memory()
    rss_before = _rss_mb()
    start = time.perf_counter()
    index = vectors.ImageIndex(db)
    _loaded(index)
    load_s = time.perf_counter() - start
    retrain_s = 0.0
    retrain = index.retraining()
    if retrain is not None:
        retrain.join()
        retrain_s = time.perf_counter() - start - load_s
        # ... and the next start reads the cells it stored: no k-means.
        del index, retrain
        gc.collect()
        release_free_memory()
        rss_before = _rss_mb()
        start = time.perf_counter()
        index = vectors.ImageIndex(db)
        _loaded(index)
        load_s = time.perf_counter() - start
    rss_mb = _rss_mb() - rss_before
    picks = rng.integers(0, size, queries)
    noise = np.abs(rng.normal(0, 0.01, (queries, data.shape[1]))).astype(np.float32)
    qs = data[picks].astype(np.float32) + noise
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    for q in qs[:5]:  # warm the page cache
        index.search_products(org, q, 10, digest)
    times, recall, first = [], [], 0
    for q, pick in zip(qs, picks):
        t0 = time.perf_counter()
        found = index.search_products(org, q, 10, digest)
        times.append(time.perf_counter() - t0)
        truth = {ids[i] for i in exact_top(data, q)}
        recall.append(len(truth & {pid for pid, _ in found}) / 10)
        first += bool(found) and found[0][0] == ids[pick]
    # A search right after a write: the index applies the change log first.
    after = []
    for j in range(20):
        with db.writing():
            vectors.add_embedding(db, org, ids[j], 10 * size + j, data[j].astype(np.float32), digest)
        t0 = time.perf_counter()
        index.search_products(org, qs[j], 10, digest)
        after.append(time.perf_counter() - t0)
    size_mb = os.path.getsize(path) / 1e6
    print(f"{kind:>9} {size:>9,} images: insert {size / insert_s:,.0f}/s; search p50 "
          f"{np.percentile(times, 50) * 1000:.1f} ms, p99 {np.percentile(times, 99) * 1000:.1f} ms;"
          f" recall@10 {np.mean(recall):.4f} (min {min(recall):.1f}); source first"
          f" {first / len(qs):.3f}; db {size_mb:,.0f} MB")
    print(f"{'':>9} {'':>9}         start-up load {load_s:.2f} s"
          + (f" (first start: k-means in the background {retrain_s:.1f} s)" if retrain_s else "")
          + f"; memory the load took {rss_mb:,.0f} MB; reading the rows {read_mapped:.2f} s"
          f" memory-mapped, {read_plain:.2f} s not; search after a write p50 {np.percentile(after, 50) * 1000:.1f} ms")
    db.close()
    if serve:
        server_rss(path, qs[0])
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)


def _loaded(index: vectors.ImageIndex) -> None:
    """Until the index has loaded, however long that takes (a search gives up after
    `vectors.LOAD_WAIT`, which a million images exceed)."""
    index.start()
    index.wait(timeout=24 * 3600)
    index.sync()


def server_rss(path: str, query: np.ndarray) -> None:
    """Start `micropim serve` on the file, search by photo once (the model loaded and the
    index ready) and print the server's resident memory and its peak."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = os.path.join(root, "micropim.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MICROPIM_") or k == "MICROPIM_MODEL_CACHE"}
    made = subprocess.run([sys.executable, script, "create-key", "--org", "Bench", "--db", path],
                          capture_output=True, text=True, env=env, check=True)
    key = made.stdout.splitlines()[-1]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, script, "serve", "--db", path, "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        picture = io.BytesIO()
        draw_product(7).save(picture, "JPEG", quality=90)
        boundary = "micropimbench"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"q.jpg\"\r\n"
                f"Content-Type: image/jpeg\r\n\r\n").encode() + picture.getvalue() + f"\r\n--{boundary}--\r\n".encode()
        started = time.perf_counter()
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/products/image-search", data=body, method="POST",
                    headers={"X-API-KEY": key, "Content-Type": f"multipart/form-data; boundary={boundary}"})
                with urllib.request.urlopen(request, timeout=120) as answer:
                    answer.read()
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.perf_counter() - started > 1200:
                    raise
                time.sleep(0.2)
        ready = time.perf_counter() - started
        status = dict(line.split(":", 1) for line in open(f"/proc/{server.pid}/status") if ":" in line)
        rss, anon, peak = (int(status[name].split()[0]) / 1024 for name in ("VmRSS", "RssAnon", "VmHWM"))
        print(f"{'':>9} {'':>9}         server: first photo search answered {ready:.1f} s after start;"
              f" RSS {rss:,.0f} MB ({anon:,.0f} MB its own, the rest mapped files: libraries, the model; peak {peak:,.0f} MB)"
              f" with the model loaded")
    finally:
        server.terminate()
        server.wait(timeout=60)


def _read_seconds(db: Database, mmap_size: int) -> float:
    """Seconds to read every embedding as the index's load does, at this mmap_size."""
    db.execute_sql(f"PRAGMA mmap_size = {mmap_size}")
    start = time.perf_counter()
    last = 0
    while True:
        rows = db.execute_sql("SELECT media_id, product_id, vector FROM image_embedding WHERE media_id > ?"
                              " ORDER BY media_id LIMIT ?", (last, vectors.LOAD_CHUNK)).fetchall()
        if not rows:
            break
        last = int(rows[-1][0])
    return time.perf_counter() - start


def _rss_mb() -> float:
    """Resident memory now, in MB (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=100, help="generated images for retrieval")
    parser.add_argument("--sizes", default="10000,100000",
                        help="comma-separated index sizes (e.g. 10000,100000,1000000)")
    parser.add_argument("--queries", type=int, default=200, help="queries per index size")
    parser.add_argument("--data", default="clustered,continuum",
                        help="synthetic vector sets for step 3: clustered, continuum or both")
    parser.add_argument("--db-dir", help="directory for the benchmark databases (default: a temp dir)")
    parser.add_argument("--serve", action="store_true",
                        help="also start `micropim serve` on each index and print its RSS with the model loaded")
    parser.add_argument("--skip-retrieval", action="store_true",
                        help="skip step 1")
    args = parser.parse_args()
    workdir = args.db_dir or tempfile.mkdtemp(prefix="micropim-imagebench-")
    os.makedirs(workdir, exist_ok=True)
    try:
        model = ImageModels(None, workdir).get()
        if not args.skip_retrieval:
            retrieval(model, args.images, workdir)
        base = model.embed([draw_product(seed) for seed in range(1000, 1200)])
        embed_timing(model)
        print(f"\n== index (in process: exact float16 up to {Sizing().exact_max:,} images an"
              f" organization, IVF above), {args.queries} queries, limit 10 ==")
        for size in (int(s) for s in args.sizes.split(",") if s.strip()):
            for kind in args.data.split(","):
                index_scale(base, size, args.queries, workdir, kind.strip(), model.digest, args.serve)
    finally:
        if not args.db_dir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
