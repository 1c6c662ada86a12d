"""The image-embedding index: a coarse bit-vector search in sqlite-vec, re-ranked exactly.

Two copies of each embedding, both keyed by media id:
- `image_vec` (sqlite-vec vec0, partitioned by organization): one bit per dimension,
  set where the component is above the vector's own mean. A Hamming KNN over these
  160-byte codes is the coarse search; the partition key means an organization's
  search never reads another's rows.
- `image_embedding`: the vector as int8 (largest component scaled to 127; 1280 bytes
  where float32 would take 5120), with its product. The coarse candidates are
  re-ranked by exact cosine against these, grouped to one entry per product (its best
  image), archived products dropped.

The index records the model (dimension and digest) it holds in `image_index`. An
empty index adopts whatever model writes to it first; a non-empty one refuses
vectors and queries of another model (`StaleIndex`) until `reset_index()` (what
`micropim reindex` starts with) empties it for the new one.

Every write runs in the caller's transaction on the store's `db`.
"""

from __future__ import annotations

import json

import numpy as np

from store.db import db, utcnow

# Coarse candidates per query; grown while too few distinct products come out.
COARSE_K = 128
MAX_K = 4096  # sqlite-vec's limit on k
CHUNK_SIZE = 4096  # vec0 rows per chunk: fewer, larger chunks scan faster


class StaleIndex(ValueError):
    """The index holds embeddings of another model: run `micropim reindex`."""


def _vec_table_sql(dim: int) -> list[str]:
    return [
        f"CREATE VIRTUAL TABLE image_vec USING vec0("
        f"org_id INTEGER PARTITION KEY, embedding BIT[{dim}], chunk_size={CHUNK_SIZE})",
        # Deleting an embedding (directly, or by cascade from its product) removes
        # its coarse code too.
        "CREATE TRIGGER image_embedding_ad AFTER DELETE ON image_embedding BEGIN"
        " DELETE FROM image_vec WHERE rowid = old.media_id; END",
    ]


def index_model() -> tuple[int, str] | None:
    """(dim, digest) of the model the index holds, or None before the first embedding."""
    row = db.execute_sql("SELECT dim, digest FROM image_index WHERE id = 1").fetchone()
    return (int(row[0]), str(row[1])) if row else None


def count_embeddings() -> int:
    return int(db.execute_sql("SELECT count(*) FROM image_embedding").fetchone()[0])


def reset_index(dim: int, digest: str) -> None:
    """Empty the index and set it up for the model (`dim`, `digest`): the first step
    of a reindex after a model change. Runs in the caller's transaction."""
    if dim < 8 or dim % 8:
        raise ValueError(f"embedding size must be a positive multiple of 8, got {dim}")
    db.execute_sql("DROP TRIGGER IF EXISTS image_embedding_ad")
    db.execute_sql("DROP TABLE IF EXISTS image_vec")
    db.execute_sql("DELETE FROM image_embedding")
    for statement in _vec_table_sql(dim):
        db.execute_sql(statement)
    db.execute_sql(
        "INSERT INTO image_index (id, dim, digest, created_at) VALUES (1, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET dim = excluded.dim, digest = excluded.digest,"
        " created_at = excluded.created_at",
        (dim, digest, utcnow()),
    )


def _current_digest(digest: str | None) -> str:
    if digest is not None:
        return digest
    from search.model import get_model

    return get_model().digest


def _check(dim: int, digest: str) -> None:
    held = index_model()
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


def _code(v: np.ndarray) -> bytes:
    """The coarse code: one bit per component, set above the vector's mean.

    The model's features are never negative (ReLU6), so the usual sign bit would be
    all ones; thresholding each vector at its own mean marks its strong channels and
    needs no statistics of the data set."""
    return np.packbits(v > v.mean()).tobytes()


def _int8(v: np.ndarray) -> bytes:
    scale = 127.0 / float(np.abs(v).max())
    return np.round(v * scale).astype(np.int8).tobytes()


def add_embedding(org_id: int, product_id: int, media_id: int, vector: np.ndarray,
                  digest: str | None = None) -> None:
    """Index (or re-index) media item `media_id` of product `product_id`.

    `digest` names the model that made `vector` (default: the process's model). An
    empty index is set up for that model; a non-empty index of another model raises
    StaleIndex. Runs in the caller's transaction."""
    v = _as_vector(vector)
    digest = _current_digest(digest)
    if index_model() != (v.size, digest):
        if db.execute_sql("SELECT 1 FROM image_embedding LIMIT 1").fetchone():
            _check(v.size, digest)
        reset_index(v.size, digest)
    db.execute_sql("DELETE FROM image_embedding WHERE media_id = ?", (media_id,))
    db.execute_sql(
        "INSERT INTO image_embedding (media_id, org_id, product_id, vector) VALUES (?, ?, ?, ?)",
        (media_id, org_id, product_id, _int8(v)),
    )
    db.execute_sql(
        "INSERT INTO image_vec (rowid, org_id, embedding) VALUES (?, ?, vec_bit(?))",
        (media_id, org_id, _code(v)),
    )


def remove_embedding(media_id: int) -> None:
    """Forget media item `media_id` (nothing happens if it was never indexed)."""
    db.execute_sql("DELETE FROM image_embedding WHERE media_id = ?", (media_id,))


def _coarse(org_id: int, code: bytes, k: int) -> list[int]:
    rows = db.execute_sql(
        "SELECT rowid FROM image_vec WHERE embedding MATCH vec_bit(?) AND k = ? AND org_id = ?",
        (code, k, org_id),
    ).fetchall()
    return [int(row[0]) for row in rows]


def _rerank(org_id: int, media_ids: list[int], v: np.ndarray) -> dict[int, float]:
    """Each live product's best exact cosine among the candidate media."""
    rows = db.execute_sql(
        "SELECT e.product_id, e.vector FROM image_embedding e"
        " JOIN product p ON p.id = e.product_id"
        " WHERE e.media_id IN (SELECT value FROM json_each(?))"
        " AND e.org_id = ? AND p.org_id = ? AND p.status != 'archived'",
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


def search_products(org_id: int, vector: np.ndarray, limit: int,
                    digest: str | None = None) -> list[tuple[int, float]]:
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
    held = index_model()
    if held is None:
        return []
    _check(v.size, _current_digest(digest))
    code = _code(v)
    k = max(COARSE_K, 4 * limit)
    while True:
        k = min(k, MAX_K)
        candidates = _coarse(org_id, code, k)
        best = _rerank(org_id, candidates, v)
        # Enough products, or nothing more to find: done. Otherwise (many images per
        # product, or archived products among the candidates) look further.
        if len(best) >= limit or len(candidates) < k or k == MAX_K:
            break
        k *= 4
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [(product_id, round(score, 4)) for product_id, score in ranked]
