"""Why photo search no longer uses a sqlite-vec `vec0` table: its storage, insert rate
and KNN time against the float16 BLOB column and the in-process exact scan.

Run from the repository root:

    .venv/bin/python bench/vec0.py [--rows 100000] [--dim 1280] [--queries 20]

Builds two fresh files of `--rows` random unit vectors: a `vec0` table of float32
vectors (the only element type sqlite-vec's KNN takes for cosine here) and a table
holding each vector as a float16 BLOB (what `image_embedding` holds). Prints per file
the bytes per row and the insert rate, then the time of one top-10 query: sqlite-vec's
KNN (`MATCH … AND k = 10`, a brute-force scan of the table) and faiss's exact inner
product over the same vectors as float16 (what a small organization's search is).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import faiss
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from store.db import Database  # noqa: E402

BATCH = 5_000


def _vectors(rows: int, dim: int, seed: int) -> np.ndarray:
    x = np.abs(np.random.default_rng(seed).normal(size=(rows, dim))).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _fill(db: Database, sql: str, rows: list[tuple[int, bytes]]) -> float:
    start = time.perf_counter()
    for offset in range(0, len(rows), BATCH):
        with db.atomic():
            db.connection().executemany(sql, rows[offset:offset + BATCH])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=1280)
    parser.add_argument("--queries", type=int, default=20)
    args = parser.parse_args()
    data = _vectors(args.rows, args.dim, 1)
    queries = _vectors(args.queries, args.dim, 2)
    with tempfile.TemporaryDirectory(prefix="micropim-vec0-") as folder:
        vec = Database(os.path.join(folder, "vec0.db"))
        vec.execute_sql(f"CREATE VIRTUAL TABLE v USING vec0(embedding float[{args.dim}] distance_metric=cosine)")
        seconds = _fill(vec, "INSERT INTO v (rowid, embedding) VALUES (?, ?)",
                        [(i + 1, row.tobytes()) for i, row in enumerate(data)])
        vec.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        size = os.path.getsize(os.path.join(folder, "vec0.db"))
        print(f"vec0 float32:  {size / args.rows:,.0f} bytes/row, {args.rows / seconds:,.0f} inserts/s")
        blob = Database(os.path.join(folder, "blob.db"))
        blob.execute_sql("CREATE TABLE e (id INTEGER PRIMARY KEY, vector BLOB NOT NULL)")
        halves = data.astype(np.float16)
        seconds = _fill(blob, "INSERT INTO e (id, vector) VALUES (?, ?)",
                        [(i + 1, row.tobytes()) for i, row in enumerate(halves)])
        blob.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        size = os.path.getsize(os.path.join(folder, "blob.db"))
        print(f"float16 BLOB:  {size / args.rows:,.0f} bytes/row, {args.rows / seconds:,.0f} inserts/s")
        times = []
        for q in queries:
            start = time.perf_counter()
            vec.execute_sql("SELECT rowid, distance FROM v WHERE embedding MATCH ? AND k = 10",
                            (q.tobytes(),)).fetchall()
            times.append(time.perf_counter() - start)
        print(f"vec0 KNN, top 10 of {args.rows:,}: median {np.median(times) * 1000:.1f} ms")
        index = faiss.IndexScalarQuantizer(args.dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        index.add(data)
        times = []
        for q in queries:
            start = time.perf_counter()
            index.search(q.reshape(1, -1), 10)
            times.append(time.perf_counter() - start)
        print(f"faiss exact float16, top 10 of {args.rows:,}: median {np.median(times) * 1000:.1f} ms")
        vec.close()
        blob.close()


if __name__ == "__main__":
    main()
