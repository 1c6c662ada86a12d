"""The image-embedding index: a coarse bit-vector search in sqlite-vec, re-ranked exactly.

Two copies of each embedding, both keyed by media id:
- `image_vec` (sqlite-vec vec0, partitioned by organization): a SimHash code, the
  signs of 2560 fixed random projections (320 bytes). A Hamming KNN over these is the
  coarse search; the partition key means an organization's search never reads
  another's rows.
- `image_embedding`: the vector as int8 (largest component scaled to 127; 1280 bytes
  where float32 would take 5120), with its product. The coarse candidates are
  re-ranked by exact cosine against these, grouped to one entry per product (its best
  image), archived products dropped.

The index records the model (dimension and digest) it holds in `image_index`. An
empty index adopts whatever model writes to it first; a non-empty one refuses
vectors and queries of another model (`StaleIndex`) until `reset_index(db)` (what
`micropim reindex` starts with) empties it for the new one. The tables are made by
migrations 6, 8 and 10.

Every write runs in the caller's write transaction.
"""

from __future__ import annotations

import functools
import json
from typing import Sequence

import numpy as np

from store.db import Database
from store.values import utcnow

# Coarse candidates per query; grown while too few distinct products come out.
COARSE_K = 128
MAX_K = 4096  # sqlite-vec's limit on k
CODE_BITS = 2560  # bits of the coarse code of a new index (recorded with it; migration 10)
PROJECTION_SEED = 20260401


class StaleIndex(ValueError):
    """The index holds embeddings of another model: run `micropim reindex`."""


def index_model(db: Database) -> tuple[int, str] | None:
    """(dim, digest) of the model the index holds, or None before the first embedding."""
    row = _index_row(db)
    return (row[0], row[1]) if row else None


def _index_row(db: Database) -> tuple[int, str, int] | None:
    row = db.execute_sql("SELECT dim, digest, code_bits FROM image_index WHERE id = 1").fetchone()
    return (int(row[0]), str(row[1]), int(row[2])) if row else None


def count_embeddings(db: Database) -> int:
    return int(db.execute_sql("SELECT count(*) FROM image_embedding").fetchone()[0])


def reset_index(db: Database, dim: int, digest: str) -> None:
    """Empty the index and set it up for the model (`dim`, `digest`): the first step
    of a reindex after a model change. Runs in the caller's transaction."""
    if dim < 1:
        raise ValueError(f"embedding size must be positive, got {dim}")
    db.execute_sql("DELETE FROM image_vec")
    db.execute_sql("DELETE FROM image_embedding")
    db.execute_sql(
        "INSERT INTO image_index (id, dim, digest, code_bits, created_at) VALUES (1, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET dim = excluded.dim, digest = excluded.digest,"
        " code_bits = excluded.code_bits, created_at = excluded.created_at",
        (dim, digest, CODE_BITS, utcnow()),
    )


def _has_embeddings(db: Database) -> bool:
    return db.execute_sql("SELECT 1 FROM image_embedding LIMIT 1").fetchone() is not None


def _check(held: tuple[int, str] | None, dim: int, digest: str) -> None:
    """StaleIndex unless the index (holding model `held`) is for (`dim`, `digest`)."""
    if held != (dim, digest):
        raise StaleIndex(
            "the image index holds embeddings of another image model; run `micropim reindex`"
            if held else "the image index is empty")


def _as_vector(vector: np.ndarray) -> np.ndarray:
    """A finite 1-d float32 vector with unit length."""
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(v))
    if not np.isfinite(v).all() or norm == 0.0:
        raise ValueError("embedding must be finite and non-zero")
    return v / norm


@functools.lru_cache(maxsize=4)
def _projection(dim: int, bits: int) -> np.ndarray:
    """A fixed random Gaussian projection of `dim`-d vectors onto `bits` directions,
    seeded by the sizes, so every process and every index of those sizes uses the
    same one."""
    rng = np.random.default_rng([PROJECTION_SEED, dim, bits])
    return rng.standard_normal((bits, dim), dtype=np.float32)


def _codes(matrix: np.ndarray, bits: int) -> list[bytes]:
    """The coarse codes of the rows of `matrix` (see `_code`)."""
    packed = np.packbits(matrix @ _projection(matrix.shape[1], bits).T > 0, axis=1)
    return [row.tobytes() for row in packed]


def _code(v: np.ndarray, bits: int) -> bytes:
    """The coarse code: the signs of `bits` random projections (SimHash).

    The share of differing bits between two codes estimates the angle between the
    vectors (angle / pi) whatever the data looks like, with no statistics of the data
    set to keep. Embeddings are never negative, so they lie within 90 degrees of each
    other and near neighbours differ by a few degrees: a long code keeps that estimate
    fine: 2560 bits keep nine in ten of the exact top 10 among 128 candidates at
    100k catalogue-like vectors, where 1280 keep eight (README, bench/imagesearch.py)."""
    return np.packbits(_projection(v.size, bits) @ v > 0).tobytes()


def _int8(v: np.ndarray) -> bytes:
    scale = 127.0 / float(np.abs(v).max())
    return np.round(v * scale).astype(np.int8).tobytes()


def add_embedding(db: Database, org_id: int, product_id: int, media_id: int, vector: np.ndarray,
                  digest: str) -> None:
    """Index (or re-index) media item `media_id` of product `product_id`.

    `digest` names the model that made `vector`. An empty index is set up for that
    model; a non-empty index of another model raises StaleIndex. Runs in the caller's
    transaction."""
    add_embeddings(db, org_id, [(product_id, media_id, vector)], digest)


def add_embeddings(db: Database, org_id: int, items: Sequence[tuple[int, int, np.ndarray]],
                   digest: str) -> None:
    """`add_embedding` for many (product id, media id, vector) items at once, the
    coarse codes computed in one matrix product (what a reindex wants)."""
    latest = {media_id: i for i, (_, media_id, _) in enumerate(items)}
    if len(latest) < len(items):  # the same media twice: the last one counts
        items = [items[i] for i in sorted(latest.values())]
    if not items:
        return
    matrix = np.stack([_as_vector(vector) for _, _, vector in items])
    dim = matrix.shape[1]
    row = _index_row(db)
    if row is None or row[:2] != (dim, digest):
        if _has_embeddings(db):
            _check(None if row is None else row[:2], dim, digest)
        reset_index(db, dim, digest)
        row = (dim, digest, CODE_BITS)
    codes = _codes(matrix, row[2])
    media_ids = [media_id for _, media_id, _ in items]
    conn = db.connection()
    conn.executemany("DELETE FROM image_embedding WHERE media_id = ?", [(m,) for m in media_ids])
    conn.executemany(
        "INSERT INTO image_embedding (media_id, org_id, product_id, vector) VALUES (?, ?, ?, ?)",
        [(media_id, org_id, product_id, _int8(v))
         for (product_id, media_id, _), v in zip(items, matrix)],
    )
    conn.executemany(
        "INSERT INTO image_vec (rowid, org_id, embedding) VALUES (?, ?, vec_bit(?))",
        [(media_id, org_id, code) for media_id, code in zip(media_ids, codes)],
    )


def remove_embedding(db: Database, media_id: int) -> None:
    """Forget media item `media_id` (nothing happens if it was never indexed)."""
    db.execute_sql("DELETE FROM image_embedding WHERE media_id = ?", (media_id,))


def _coarse(db: Database, org_id: int, code: bytes, k: int) -> list[int]:
    rows = db.execute_sql(
        "SELECT rowid FROM image_vec WHERE embedding MATCH vec_bit(?) AND k = ? AND org_id = ?",
        (code, k, org_id),
    ).fetchall()
    return [int(row[0]) for row in rows]


def _rerank(db: Database, org_id: int, media_ids: list[int], v: np.ndarray) -> dict[int, float]:
    """Each live product's best exact cosine among the candidate media."""
    rows = db.execute_sql(
        # CROSS JOIN fixes the order: the few candidates drive primary-key lookups
        # (left to SQLite, it may walk every embedding instead).
        "SELECT e.product_id, e.vector FROM json_each(?) AS c"
        " CROSS JOIN image_embedding e ON e.media_id = c.value"
        " CROSS JOIN product p ON p.id = e.product_id"
        " WHERE e.org_id = ? AND p.org_id = ? AND p.status != 'archived'",
        (json.dumps(media_ids), org_id, org_id),
    ).fetchall()
    if not rows:
        return {}
    matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.int8)
    matrix = matrix.reshape(len(rows), -1).astype(np.float32)
    scores = (matrix @ v) / np.maximum(np.linalg.norm(matrix, axis=1), 1e-12)
    best: dict[int, float] = {}
    for (product_id, _), score in zip(rows, scores.tolist()):
        if score > best.get(product_id, -2.0):
            best[product_id] = score
    return best


def search_products(db: Database, org_id: int, vector: np.ndarray, limit: int,
                    digest: str) -> list[tuple[int, float]]:
    """The `limit` products of `org_id` whose images best match `vector`, best first,
    as (product id, score): one entry per product (its best image), archived products
    left out.

    The score is the cosine similarity of the query and that image, in [-1, 1] (in
    [0, 1] for the built-in model, whose features are never negative), computed from
    the int8 copy (within about 0.005 of the float value) and rounded to 4 places.
    Raises StaleIndex when the index holds another model's embeddings."""
    if limit < 1:
        return []
    v = _as_vector(vector)
    row = _index_row(db)
    if row is None:
        return []
    held = row[:2]
    if held != (v.size, digest):
        if not _has_embeddings(db):
            return []  # emptied: the next embedding sets it up for the new model
        _check(held, v.size, digest)
    code = _code(v, row[2])
    k = max(COARSE_K, 4 * limit)
    while True:
        k = min(k, MAX_K)
        candidates = _coarse(db, org_id, code, k)
        best = _rerank(db, org_id, candidates, v)
        # Enough products, or nothing more to find: done. Otherwise (many images per
        # product, or archived products among the candidates) look further.
        if len(best) >= limit or len(candidates) < k or k == MAX_K:
            break
        k *= 4
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [(product_id, round(score, 4)) for product_id, score in ranked]
