"""ANN image-index benchmark (search/ann.py): latency, recall, memory, persistence.

Run from the repository root (heavy: run it under `nice -n 10` on a shared machine):

    .venv/bin/python bench/ann.py [--sizes 10000,100000,1000000] [--data clustered,continuum]
                                  [--queries 200] [--split-sizes S] [--exact-sizes S]
                                  [--no-persist] [--no-retrain] [--cache DIR]

The vector sets are bench/imagesearch.py's, made by its own functions with the same
seeds and in the same order as its step 3 (`generate(kind, base, size,
default_rng(size))`, then the query picks and noise from the same generator), so the
figures compare with its lines. The organization "Bench" holds `size` images; a second
organization holds copies of 1 % of them, so any leak across organizations would show
as lost recall. Recall@10 is against exact float32 search over Bench's vectors.

Per size and set it prints one line like bench/imagesearch.py's, then:
- build: seconds (k-means included) and RSS growth of the process;
- writes: one add and one remove on the built index;
- persistence (`to_parts` chunks in BLOB rows of a fresh SQLite file): write time, file
  bytes per image; then, in a fresh process (the server's start-up): read + load time
  and that process's peak RSS; and the other start-up path, from a table of float16
  vectors (one row per image) plus stored centroids (`build(..., trained=...)`);
- retrain: time to rebuild the shard with the index live.
Then, per size in --split-sizes, organizations holding 90 % and 10 % of the images:
one shard per organization (what search/ann.py does) against one shared IVF index
filtered by organization with a faiss IDSelector. And for --exact-sizes, exhaustive
search latency with 1 and 2 concurrent searching threads: where exact search stops
meeting the latency targets.

Targets (issue 15): 10k p50 <= 3 ms, R@10 >= 0.995; 100k p50 <= 10 ms, p99 <= 30 ms,
R@10 >= 0.99 on both sets; 1M p50 <= 50 ms, R@10 >= 0.99, RSS <= 3 GB, <= 6 KB of
SQLite file per image.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from search.ann import AnnIndex, Sizing, TrainingState, usable_cores  # noqa: E402

BENCH, OTHER = 1, 2


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    """VmHWM: unlike ru_maxrss it restarts at exec, so a child does not report the
    parent's size."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def load_base() -> np.ndarray:
    """The 200 model embeddings bench/imagesearch.py mixes its vectors from."""
    from bench.imagesearch import draw_product
    from search import model

    cache = tempfile.gettempdir()
    # The model's entry point is being refactored on main (configure/get_model
    # becoming ImageModels): take whichever this tree has.
    if hasattr(model, "ImageModels"):
        image_model = model.ImageModels(None, cache).get()
    else:
        model.configure(None, cache)
        image_model = model.get_model()
    return image_model.embed([draw_product(seed) for seed in range(1000, 1200)])


def make_set(kind: str, base: np.ndarray, size: int, queries: int,
             cache: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(data float16, query vectors, picks, exact top-10 per query) as imagesearch makes them."""
    from bench.imagesearch import exact_top, generate

    path = os.path.join(cache, f"{kind}-{size}-{queries}.npz") if cache else None
    if path and os.path.exists(path):
        z = np.load(path)
        return z["data"], z["qs"], z["picks"], z["truth"]
    rng = np.random.default_rng(size)
    data = generate(kind, base, size, rng)
    picks = rng.integers(0, size, queries)
    noise = np.abs(rng.normal(0, 0.01, (queries, data.shape[1]))).astype(np.float32)
    qs = data[picks].astype(np.float32) + noise
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    truth = exact_many(data, qs)
    for j in range(min(3, queries)):  # the batched truth is imagesearch's exact_top
        assert set(truth[j].tolist()) == set(exact_top(data, qs[j]).tolist())
    if path:
        np.savez(path, data=data, qs=qs, picks=picks, truth=truth)
    return data, qs, picks, truth


def exact_many(data: np.ndarray, qs: np.ndarray, k: int = 10) -> np.ndarray:
    """Exact float32 top-k rows for every query (BLAS, in chunks of 100k rows)."""
    best_s = np.full((len(qs), 0), -np.inf, np.float32)
    best_i = np.zeros((len(qs), 0), np.int64)
    for offset in range(0, len(data), 100_000):
        scores = qs @ data[offset:offset + 100_000].astype(np.float32).T
        top = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
        best_s = np.concatenate([best_s, np.take_along_axis(scores, top, 1)], 1)
        best_i = np.concatenate([best_i, top + offset], 1)
    order = np.argsort(-best_s, 1)[:, :k]
    return np.take_along_axis(best_i, order, 1)


def timed_queries(search: Callable[[np.ndarray], list[int]], qs: np.ndarray,
                  truth: np.ndarray) -> tuple[np.ndarray, list[float], list[list[int]]]:
    for q in qs[:5]:
        search(q)
    times, recall, found_all = [], [], []
    for q, t in zip(qs, truth):
        t0 = time.perf_counter()
        found = search(q)
        times.append(time.perf_counter() - t0)
        recall.append(len(set(t.tolist()) & set(found)) / len(t))
        found_all.append(found)
    return np.array(times), recall, found_all


def concurrent_p50(search: Callable[[np.ndarray], object], qs: np.ndarray, threads: int) -> float:
    times: list[float] = []

    def run() -> None:
        for q in qs:
            t0 = time.perf_counter()
            search(q)
            times.append(time.perf_counter() - t0)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return float(np.percentile(times, 50) * 1000)


def ms(times: np.ndarray, p: float) -> float:
    return float(np.percentile(times, p) * 1000)


# ---- main measurement ------------------------------------------------------------------

def index_scale(kind: str, base: np.ndarray, size: int, queries: int, args: argparse.Namespace,
                workdir: str) -> None:
    data, qs, picks, truth = make_set(kind, base, size, queries, args.cache)
    other = max(1, size // 100)
    media = np.arange(1, size + 1, dtype=np.int64)  # media id = row + 1, product = media id
    other_media = np.arange(size + 1, size + other + 1, dtype=np.int64)
    ids = np.concatenate([media, other_media])
    orgs = np.concatenate([np.full(size, BENCH), np.full(other, OTHER)])
    rows = np.concatenate([np.arange(size), np.arange(other)])  # the other org copies rows

    before = rss_mb()
    t0 = time.perf_counter()
    # build() wants one array of vectors: the other organization's copies are gathered
    # on the fly by row, without a second copy of the data set.
    index = AnnIndex.build(ids, orgs, ids, _Rows(data, rows))
    build_s = time.perf_counter() - t0
    grown = rss_mb() - before
    stats = index.stats()[BENCH]

    def search(q: np.ndarray) -> list[int]:
        return [h.media_id - 1 for h in index.search(BENCH, q, 10)]

    times, recall, found = timed_queries(search, qs, truth)
    first = np.mean([bool(f) and f[0] == p for f, p in zip(found, picks)])
    leaks = sum(m >= size for f in found for m in f)
    two = concurrent_p50(search, qs[:100], 2)
    mode = "exact" if stats["exact"] else f"IVF{stats['nlist']} nprobe {stats['nprobe']}"
    print(f"{kind:>9} {size:>9,} images: build {build_s:.1f} s ({mode}); search p50 {ms(times, 50):.1f} ms,"
          f" p99 {ms(times, 99):.1f} ms; recall@10 {np.mean(recall):.4f} (min {min(recall):.1f});"
          f" source first {first:.3f}; 2 threads p50 {two:.1f} ms; RSS {grown:+,.0f} MB;"
          f" foreign hits {leaks}", flush=True)

    fresh = data[:1].astype(np.float32)
    t0 = time.perf_counter()
    index.add([10**12], [BENCH], [10**12], fresh)
    add_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    index.remove([10**12])
    remove_ms = (time.perf_counter() - t0) * 1000
    print(f"{'':>9} writes: add 1 vector {add_ms:.2f} ms, remove {remove_ms:.2f} ms", flush=True)

    if not args.no_persist:
        persistence(index, data, ids, orgs, rows, size, qs[:20], workdir, args.page_size)
    if not args.no_retrain:
        t0 = time.perf_counter()
        before = rss_mb()
        rebuilt = index.retrain([BENCH])
        print(f"{'':>9} retrain (rebuild of the {size:,}-image shard, index live): "
              f"{time.perf_counter() - t0:.1f} s, RSS {rss_mb() - before:+,.0f} MB after; "
              f"rebuilt {rebuilt}; recall after {_recall(index, qs, truth):.4f}", flush=True)
    del index


def _recall(index: AnnIndex, qs: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len({h.media_id - 1 for h in index.search(BENCH, q, 10)} & set(t.tolist())) / 10
                          for q, t in zip(qs, truth)]))


class _Rows:
    """data[rows[i]] as if it were an array of len(rows) rows (only what build() uses)."""

    def __init__(self, data: np.ndarray, rows: np.ndarray) -> None:
        self.data, self.rows = data, rows
        self.shape = (len(rows), data.shape[1])
        self.dtype = data.dtype

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: Any) -> np.ndarray:
        return self.data[self.rows[index]]


def persistence(index: AnnIndex, data: np.ndarray, ids: np.ndarray, orgs: np.ndarray,
                rows: np.ndarray, size: int, qs: np.ndarray, workdir: str, page_size: int) -> None:
    images = len(ids)
    path = os.path.join(workdir, f"ann-{size}.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE ann_part (seq INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    t0 = time.perf_counter()
    seq = [0]

    def sink(part: bytes) -> None:
        conn.execute("INSERT INTO ann_part (seq, data) VALUES (?, ?)", (seq[0], part))
        seq[0] += 1

    with conn:
        index.write_parts(sink)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    write_s = time.perf_counter() - t0
    parts_bytes = conn.execute("SELECT sum(length(data)) FROM ann_part").fetchone()[0]
    conn.close()
    parts_file = os.path.getsize(path)

    # The other start-up path's tables, in a file of their own: one row per image
    # (float16 vector) + the centroids. A 2,560-byte row fills a 4 KiB page alone.
    rows_path = os.path.join(workdir, f"rows-{size}.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(rows_path + suffix):
            os.remove(rows_path + suffix)
    conn = sqlite3.connect(rows_path)
    conn.execute(f"PRAGMA page_size = {page_size}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE image_vec (media_id INTEGER PRIMARY KEY, org_id INTEGER NOT NULL,"
                 " product_id INTEGER NOT NULL, vec BLOB NOT NULL)")
    conn.execute("CREATE TABLE ann_training (org_id INTEGER PRIMARY KEY, state BLOB NOT NULL)")
    t0 = time.perf_counter()
    with conn:
        for start in range(0, images, 20_000):
            chunk = slice(start, start + 20_000)
            vecs = np.ascontiguousarray(data[rows[chunk]], np.float16)
            conn.executemany("INSERT INTO image_vec VALUES (?, ?, ?, ?)",
                             zip(ids[chunk].tolist(), orgs[chunk].tolist(), ids[chunk].tolist(),
                                 (v.tobytes() for v in vecs)))
        for org, state in index.training_states().items():
            conn.execute("INSERT INTO ann_training VALUES (?, ?)", (org, state.to_bytes()))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    rows_s = time.perf_counter() - t0
    conn.close()
    rows_file = os.path.getsize(rows_path)

    expected = [[(h.media_id, h.score) for h in index.search(BENCH, q, 10)] for q in qs]
    np.save(os.path.join(workdir, "qs.npy"), qs)
    loaded = _child(["--child-load", path, "--child-queries", os.path.join(workdir, "qs.npy")])
    rebuilt = _child(["--child-rebuild", rows_path, "--child-queries", os.path.join(workdir, "qs.npy")])
    same = loaded["results"] == [[list(x) for x in r] for r in expected]
    same_rebuilt = rebuilt["results"] == loaded["results"]
    print(f"{'':>9} persist to_parts: {parts_bytes / images:,.0f} bytes/image in chunks,"
          f" SQLite file {parts_file / images:,.0f} bytes/image; write {write_s:.1f} s", flush=True)
    print(f"{'':>9} start-up from chunks (fresh process): read {loaded['read_s']:.2f} s,"
          f" load {loaded['load_s']:.2f} s, ready {loaded['read_s'] + loaded['load_s']:.2f} s;"
          f" peak RSS {loaded['peak_rss_mb']:,.0f} MB (after import {loaded['base_rss_mb']:,.0f});"
          f" first search {loaded['first_ms']:.1f} ms; results identical {same}", flush=True)
    print(f"{'':>9} start-up from float16 rows + stored centroids (fresh process, no k-means):"
          f" rows {rows_file / images:,.0f} bytes/image at page size {page_size} (write {rows_s:.1f} s); read {rebuilt['read_s']:.2f} s,"
          f" build {rebuilt['load_s']:.2f} s, ready {rebuilt['read_s'] + rebuilt['load_s']:.2f} s;"
          f" peak RSS {rebuilt['peak_rss_mb']:,.0f} MB; results as from chunks {same_rebuilt}", flush=True)
    print(f"{'':>9} both persisted (rows + chunks): {(parts_file + rows_file) / images:,.0f} bytes/image", flush=True)
    for p in (path, rows_path):
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(p + suffix):
                os.remove(p + suffix)


def _child(extra: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, os.path.abspath(__file__), *extra], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def child(args: argparse.Namespace) -> None:
    """Start-up in a fresh process: what a server restart costs."""
    base_rss = rss_mb()
    conn = sqlite3.connect(args.child_load or args.child_rebuild)
    t0 = time.perf_counter()
    if args.child_load:
        # Stream: one chunk in memory at a time, read time counted within load.
        cursor = conn.execute("SELECT data FROM ann_part ORDER BY seq")
        read_s = 0.0
        index = AnnIndex.from_parts(row[0] for row in cursor)
        load_s = time.perf_counter() - t0
    else:
        n = conn.execute("SELECT count(*) FROM image_vec").fetchone()[0]
        ids = np.empty(n, np.int64)
        orgs = np.empty(n, np.int64)
        prods = np.empty(n, np.int64)
        vecs = np.empty((n, 1280), np.float16)
        for i, (m, o, p, v) in enumerate(conn.execute("SELECT media_id, org_id, product_id, vec FROM image_vec")):
            ids[i], orgs[i], prods[i] = m, o, p
            vecs[i] = np.frombuffer(v, np.float16)
        trained = {org: TrainingState.from_bytes(blob)
                   for org, blob in conn.execute("SELECT org_id, state FROM ann_training")}
        read_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        index = AnnIndex.build(ids, orgs, prods, vecs, trained=trained)
        del vecs
        load_s = time.perf_counter() - t1
    qs = np.load(args.child_queries)
    t0 = time.perf_counter()
    index.search(BENCH, qs[0], 10)
    first_ms = (time.perf_counter() - t0) * 1000
    results = [[[h.media_id, h.score] for h in index.search(BENCH, q, 10)] for q in qs]
    print(json.dumps({"read_s": read_s, "load_s": load_s, "peak_rss_mb": peak_rss_mb(),
                      "base_rss_mb": base_rss, "first_ms": first_ms, "results": results}))


# ---- organizations: 90 % / 10 % --------------------------------------------------------

def split(kind: str, base: np.ndarray, size: int, queries: int, args: argparse.Namespace) -> None:
    """Organization A holds 90 % of the images, B 10 %: per-organization shards against
    one shared IVF index filtered by organization (faiss IDSelectorBatch)."""
    import faiss

    data, _, _, _ = make_set(kind, base, size, queries, args.cache)
    rng = np.random.default_rng(size + 1)
    in_b = rng.random(size) < 0.1
    ids = np.arange(size, dtype=np.int64)
    orgs = np.where(in_b, 2, 1)
    q_rng = np.random.default_rng(size + 2)
    qsets = {}
    for org in (1, 2):
        rows = np.flatnonzero(orgs == org)
        picks = rows[q_rng.integers(0, len(rows), queries)]
        qs = data[picks].astype(np.float32) + np.abs(q_rng.normal(0, 0.01, (queries, data.shape[1]))).astype(np.float32)
        qs /= np.linalg.norm(qs, axis=1, keepdims=True)
        qsets[org] = (qs, rows[exact_many(data[rows], qs)])

    t0 = time.perf_counter()
    index = AnnIndex.build(ids, orgs, ids, data)
    shard_s = time.perf_counter() - t0
    stats = index.stats()
    for org in (1, 2):
        qs, truth = qsets[org]
        times, recall, found = timed_queries(
            lambda q, o=org: [h.media_id for h in index.search(o, q, 10)], qs, truth)
        foreign = sum(orgs[m] != org for f in found for m in f)
        s = stats[org]
        mode = "exact" if s["exact"] else f"IVF{s['nlist']} nprobe {s['nprobe']}"
        print(f"{kind:>9} {size:>9,} split, one shard per org, org {'A 90%' if org == 1 else 'B 10%'}"
              f" ({s['count']:,}, {mode}): p50 {ms(times, 50):.2f} ms, p99 {ms(times, 99):.2f} ms,"
              f" recall@10 {np.mean(recall):.4f}; foreign hits {foreign}", flush=True)
    print(f"{'':>9} one shard per org: build both {shard_s:.1f} s", flush=True)
    del index

    # The alternative: one index for everybody, sized for the total, filtered.
    sizing = Sizing()
    nlist = sizing.nlist_for(size) or sizing.exact_lists
    t0 = time.perf_counter()
    shared = AnnIndex.build(ids, np.ones(size, np.int64), ids, data)
    shard = shared._shards[1]  # the benchmark reaches inside to reuse the same lists
    shared_s = time.perf_counter() - t0
    members = {org: np.ascontiguousarray(ids[orgs == org]) for org in (1, 2)}  # kept alive
    selectors = {org: faiss.IDSelectorBatch(len(m), faiss.swig_ptr(m)) for org, m in members.items()}
    nprobe = sizing.nprobe_for(nlist, size) if not shard.exact else shard.nlist
    for org in (1, 2):
        qs, truth = qsets[org]
        sel = selectors[org]

        def search(q: np.ndarray, sel: Any = sel) -> list[int]:
            params = faiss.SearchParametersIVF(sel=sel, nprobe=nprobe)
            _, labels = shard.index.search(q.reshape(1, -1), 10, params=params)
            return [int(m) for m in labels[0] if m >= 0]

        times, recall, _ = timed_queries(search, qs, truth)
        print(f"{kind:>9} {size:>9,} split, shared index + IDSelector filter, org {'A 90%' if org == 1 else 'B 10%'}"
              f" (IVF{shard.nlist} nprobe {nprobe} of all {size:,}): p50 {ms(times, 50):.2f} ms,"
              f" p99 {ms(times, 99):.2f} ms, recall@10 {np.mean(recall):.4f}", flush=True)
    print(f"{'':>9} shared index: build {shared_s:.1f} s", flush=True)


# ---- exact search: where it stops being fast enough ----------------------------------

def exact_scaling(kind: str, base: np.ndarray, sizes: list[int], args: argparse.Namespace) -> None:
    biggest = max(sizes)
    data, _, _, _ = make_set(kind, base, 100_000 if biggest <= 100_000 else 1_000_000, 10, args.cache)
    qs = data[np.random.default_rng(3).integers(0, min(len(data), min(sizes)), 100)].astype(np.float32)
    for n in sizes:
        ids = np.arange(n)
        line = []
        for label, min_scan in (("1 thread", 10**12), ("2 threads", 0)):
            index = AnnIndex.build(ids, np.ones(n), ids, data[:n],
                                   sizing=Sizing(exact_max=10**9, parallel_min_scan=min_scan))

            def search(q: np.ndarray) -> object:
                return index.search(1, q, 10)

            for q in qs[:5]:
                search(q)
            times = []
            for q in qs:
                t0 = time.perf_counter()
                search(q)
                times.append(time.perf_counter() - t0)
            two = concurrent_p50(search, qs, 2)
            line.append(f"{label} per query: p50 {ms(np.array(times), 50):.2f} ms, p99"
                        f" {ms(np.array(times), 99):.2f} ms, 2 concurrent queries p50 {two:.2f} ms")
            del index
        print(f"exact search {n:>9,} images: " + "; ".join(line), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--data", default="clustered,continuum")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--split-sizes", default=None, help="sizes for the 90/10 split (default --sizes)")
    parser.add_argument("--exact-sizes", default="10000,20000,30000,50000,100000")
    parser.add_argument("--no-persist", action="store_true")
    parser.add_argument("--page-size", type=int, default=4096,
                        help="SQLite page size of the float16-rows file (the store uses 4096)")
    parser.add_argument("--no-retrain", action="store_true")
    parser.add_argument("--cache", help="directory keeping generated sets between runs")
    parser.add_argument("--child-load", help=argparse.SUPPRESS)
    parser.add_argument("--child-rebuild", help=argparse.SUPPRESS)
    parser.add_argument("--child-queries", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_load or args.child_rebuild:
        child(args)
        return
    import faiss

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    kinds = [k.strip() for k in args.data.split(",") if k.strip()]
    split_sizes = sizes if args.split_sizes is None else [int(s) for s in args.split_sizes.split(",") if s.strip()]
    exact_sizes = [int(s) for s in args.exact_sizes.split(",") if s.strip()]
    if args.cache:
        os.makedirs(args.cache, exist_ok=True)
    print(f"faiss {faiss.__version__}, SIMD {faiss.SIMDConfig.get_level_name()}, {usable_cores()} cores;"
          f" load average {os.getloadavg()[0]:.2f} at start", flush=True)
    base = load_base()
    with tempfile.TemporaryDirectory(prefix="micropim-annbench-") as workdir:
        print(f"\n== index, {args.queries} queries, top 10 ==", flush=True)
        for size in sizes:
            for kind in kinds:
                index_scale(kind, base, size, args.queries, args, workdir)
                print(f"{'':>9} (load average {os.getloadavg()[0]:.2f})", flush=True)
        if split_sizes:
            print("\n== organizations holding 90 % and 10 % of the images ==", flush=True)
            for size in split_sizes:
                split(kinds[-1], base, size, args.queries, args)
        if exact_sizes:
            print("\n== exhaustive (exact) search ==", flush=True)
            exact_scaling(kinds[0], base, exact_sizes, args)
    print(f"\nload average {os.getloadavg()[0]:.2f} at end", flush=True)


if __name__ == "__main__":
    main()
