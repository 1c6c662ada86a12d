"""The photo index: embeddings stored in the SQLite file, searched in process (faiss).

The file is the source of truth (a backup copy searches the same):
- `image_embedding`: per media item its organization, product and embedding as
  float16 (int8 for embeddings written before migration 14, read as such until
  `micropim reindex`); `image_index` names the model they come from (dimension and
  digest); `image_index_state` holds each organization's cells (centroids) so that a
  start rebuilds the index without k-means;
- `image_change`: every embedding written or removed, by any process (triggers).

`ImageIndex` is the application's in-memory index (`search.ann.AnnIndex`: one index
per organization, exact search for small ones, IVF over float16 vectors for large
ones). It is loaded from the file when the application starts, on a thread of its
own; until then a search waits for it (a few seconds at 100k images). Before each
search it applies what `image_change` says was written since, so an image added or
removed, by this server or another process, is found (or no longer found) at once,
and nothing is rebuilt per write. An organization whose images have grown or drifted
past its cells' training (`search.ann.Sizing`) is retrained on a background thread
while searches go on, and its new cells are stored.

Writes (`add_embedding`, `reset_index`, …) run in the caller's write transaction. An
empty index adopts whatever model writes to it first; a non-empty one refuses vectors
and queries of another model (`StaleIndex`) until `reset_index()` (what `micropim
reindex` starts with) empties it for the new one.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from search.ann import AnnIndex, Hit, Sizing, TrainingState, release_free_memory
from store.db import Database
from store.values import utcnow

log = logging.getLogger("micropim.search")

LOAD_CHUNK = 10_000  # embeddings read per query when the index loads (~25 MB)
LOAD_WAIT = 60.0  # seconds a search waits for the index to load
PRUNE_AFTER = 5_000  # applied change entries kept before they are deleted
CODE_BITS = 2560  # what `image_index.code_bits` records (migration 8; no longer searched)


class StaleIndex(ValueError):
    """The index holds embeddings of another model: run `micropim reindex`."""


class IndexLoading(RuntimeError):
    """The index has not finished loading (a start with very many images)."""


# ---- storage ----------------------------------------------------------------------------

def index_model(db: Database) -> tuple[int, str] | None:
    """(dim, digest) of the model the index holds, or None before the first embedding."""
    row = db.execute_sql("SELECT dim, digest FROM image_index WHERE id = 1").fetchone()
    return (int(row[0]), str(row[1])) if row else None


def count_embeddings(db: Database) -> int:
    return int(db.execute_sql("SELECT count(*) FROM image_embedding").fetchone()[0])


def reset_index(db: Database, dim: int, digest: str) -> None:
    """Empty the index and set it up for the model (`dim`, `digest`): the first step
    of a reindex after a model change (the cells are trained again)."""
    if dim < 1:
        raise ValueError(f"embedding size must be positive, got {dim}")
    db.execute_sql("DELETE FROM image_embedding")
    db.execute_sql("DELETE FROM image_index_state")
    db.execute_sql(
        "INSERT INTO image_index (id, dim, digest, code_bits, created_at) VALUES (1, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET dim = excluded.dim, digest = excluded.digest,"
        " created_at = excluded.created_at", (dim, digest, CODE_BITS, utcnow()))


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


def add_embedding(db: Database, org_id: int, product_id: int, media_id: int, vector: np.ndarray,
                  digest: str) -> None:
    """Store (or replace) the embedding of media item `media_id` of product `product_id`.

    `digest` names the model that made `vector`. An empty index is set up for that
    model; a non-empty index of another model raises StaleIndex."""
    add_embeddings(db, org_id, [(product_id, media_id, vector)], digest)


def add_embeddings(db: Database, org_id: int, items: Sequence[tuple[int, int, np.ndarray]],
                   digest: str) -> None:
    """`add_embedding` for many (product id, media id, vector) items at once."""
    latest = {media_id: i for i, (_, media_id, _) in enumerate(items)}
    if len(latest) < len(items):  # the same media twice: the last one counts
        items = [items[i] for i in sorted(latest.values())]
    if not items:
        return
    matrix = np.stack([_as_vector(vector) for _, _, vector in items])
    dim = matrix.shape[1]
    held = index_model(db)
    if held != (dim, digest):
        if _has_embeddings(db):
            _check(held, dim, digest)
        reset_index(db, dim, digest)
    rows = matrix.astype(np.float16)
    db.connection().executemany(
        "INSERT INTO image_embedding (media_id, org_id, product_id, vector) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (media_id) DO UPDATE SET org_id = excluded.org_id,"
        " product_id = excluded.product_id, vector = excluded.vector",
        [(media_id, org_id, product_id, row.tobytes()) for (product_id, media_id, _), row in zip(items, rows)])


def remove_embedding(db: Database, media_id: int) -> None:
    """Forget media item `media_id` (nothing happens if it was never indexed)."""
    db.execute_sql("DELETE FROM image_embedding WHERE media_id = ?", (media_id,))


def decode(blob: bytes, dim: int) -> np.ndarray:
    """A stored embedding: float16, or an int8 copy from before migration 14."""
    if len(blob) == 2 * dim:
        return np.frombuffer(blob, np.float16)
    v = np.frombuffer(blob, np.int8).astype(np.float32)
    return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float16)


def store_states(db: Database, states: dict[int, TrainingState], exact: Sequence[int] = ()) -> None:
    """Keep the organizations' trained cells (a retrain's outcome), and forget those of
    the organizations in `exact` (shrunk back to exact search)."""
    if exact:
        db.execute_sql(f"DELETE FROM image_index_state WHERE org_id IN ({','.join('?' * len(exact))})",
                       list(exact))
    now = utcnow()
    db.connection().executemany(
        "INSERT INTO image_index_state (org_id, state, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (org_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
        [(org_id, state.to_bytes(), now) for org_id, state in states.items()])


def _prune(db: Database, seq: int) -> None:
    db.execute_sql("DELETE FROM image_change WHERE seq <= ?", (seq,))


# ---- the in-memory index -------------------------------------------------------------------

@dataclass(frozen=True)
class _Loaded:
    ann: AnnIndex
    model: tuple[int, str]  # (dim, digest) it holds
    seq: int  # the last change it holds


# The model the file's index holds and its change log's ends, in one statement.
_STATE_SQL = ("SELECT (SELECT dim FROM image_index WHERE id = 1), (SELECT digest FROM image_index WHERE id = 1),"
              " (SELECT coalesce(max(seq), 0) FROM image_change), (SELECT coalesce(min(seq), 0) FROM image_change)")


class ImageIndex:
    """The application's photo index (see the module's docstring). `start()` loads it
    on a thread of its own; every method may be called from any thread."""

    def __init__(self, db: Database, sizing: Sizing | None = None) -> None:
        self.db = db
        self.sizing = sizing or Sizing()
        self._loaded: _Loaded | None = None
        self._ready = threading.Event()
        self._sync_lock = threading.Lock()
        self._retraining: threading.Thread | None = None
        self._thread: threading.Thread | None = None
        self._pruned = 0  # the change log's entries up to here are deleted
        self._check_due = True  # whether the shards may need retraining (after a change)
        self.error: BaseException | None = None

    def start(self) -> None:
        """Load the index from the file on a thread of its own."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._load_now, name="micropim-image-index", daemon=True)
            self._thread.start()

    def _load_now(self) -> None:
        try:
            self._loaded = self._load()
        except BaseException as exc:  # searches say so instead of waiting for ever
            log.exception("the image index could not be loaded")
            self.error = exc
        finally:
            self._ready.set()

    def _load(self) -> _Loaded | None:
        """Read every embedding in one snapshot, an organization and a chunk at a time;
        then give back this connection's page cache and the chunks' freed memory."""
        db = self.db
        try:
            return self._read_all()
        finally:
            db.execute_sql("PRAGMA shrink_memory")  # this connection's page cache: the rows read
            release_free_memory()  # the chunks' rows, freed in pieces glibc would keep

    def _read_all(self) -> _Loaded | None:
        db = self.db
        with db.atomic():
            model = index_model(db)
            seq = int(db.execute_sql("SELECT coalesce(max(seq), 0) FROM image_change").fetchone()[0])
            if model is None:
                return None
            dim = model[0]
            states = {int(org): TrainingState.from_bytes(bytes(blob)) for org, blob in
                      db.execute_sql("SELECT org_id, state FROM image_index_state")}
            ann = AnnIndex(dim, self.sizing)
            for (org_id,) in db.execute_sql("SELECT DISTINCT org_id FROM image_embedding").fetchall():
                state = states.get(int(org_id))
                if state is not None and state.centroids.shape[1] != dim:
                    state = None
                ann.load_shard(int(org_id), functools.partial(self._chunks, int(org_id), dim), state)
        log.info("image index loaded: %d images", len(ann))
        return _Loaded(ann, model, seq)

    def _chunks(self, org_id: int, dim: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        last = 0
        while True:
            rows = self.db.execute_sql(
                "SELECT media_id, product_id, vector FROM image_embedding WHERE org_id = ? AND media_id > ?"
                " ORDER BY media_id LIMIT ?", (org_id, last, LOAD_CHUNK)).fetchall()
            if not rows:
                return
            last = int(rows[-1][0])
            yield (np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows], np.int64),
                   np.stack([decode(bytes(r[2]), dim) for r in rows]))

    def wait(self, timeout: float = LOAD_WAIT) -> None:
        """Until the index has loaded (IndexLoading past `timeout`)."""
        if not self._ready.wait(timeout):
            raise IndexLoading("the image index is still loading; retry in a moment")
        if self.error is not None:
            raise IndexLoading(f"the image index could not be loaded ({type(self.error).__name__})")

    def sync(self) -> _Loaded | None:
        """Apply what the file holds that the index does not yet: the changes since its
        last one, or everything again when the model changed (a reindex). When nothing
        changed, that is one query."""
        self.start()
        self.wait()
        db = self.db
        state = db.execute_sql(_STATE_SQL).fetchone()
        model = None if state[0] is None else (int(state[0]), str(state[1]))
        loaded = self._loaded
        if loaded is not None and model == loaded.model and int(state[2]) == loaded.seq:
            if self._check_due:
                self._maybe_retrain(loaded)
            return loaded
        with self._sync_lock, db.atomic():
            state = db.execute_sql(_STATE_SQL).fetchone()
            model = None if state[0] is None else (int(state[0]), str(state[1]))
            seq, first = int(state[2]), int(state[3])
            loaded = self._loaded
            if loaded is None or model != loaded.model or first > loaded.seq + 1:
                # Another model (a reindex), or changes this index never saw were
                # deleted already (another server on the file): everything again.
                self._loaded = loaded = self._load()
            elif seq != loaded.seq:
                self._loaded = loaded = self._apply(loaded, seq)
            self._check_due = True
        self._maybe_retrain(loaded)
        return loaded

    def _apply(self, loaded: _Loaded, seq: int) -> _Loaded:
        db, dim = self.db, loaded.model[0]
        changed = {int(media_id): bool(removed) for media_id, removed in db.execute_sql(
            "SELECT media_id, removed FROM image_change WHERE seq > ? AND seq <= ? ORDER BY seq",
            (loaded.seq, seq))}
        gone = [media_id for media_id, removed in changed.items() if removed]
        if gone:
            loaded.ann.remove(gone)
        added = [media_id for media_id, removed in changed.items() if not removed]
        for start in range(0, len(added), 500):
            chunk = added[start:start + 500]
            rows = db.execute_sql(
                f"SELECT media_id, org_id, product_id, vector FROM image_embedding"
                f" WHERE media_id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
            if rows:
                loaded.ann.add([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                               np.stack([decode(bytes(r[3]), dim) for r in rows]).astype(np.float32))
        if seq - self._pruned >= PRUNE_AFTER:
            db.submit_write(_prune, seq)  # applied: the file keeps the embeddings themselves
            self._pruned = seq
        return _Loaded(loaded.ann, loaded.model, seq)

    def _maybe_retrain(self, loaded: _Loaded | None) -> None:
        """Retrain the shards that need it on a thread of their own. Checked after a
        change only; while a retrain runs, the check waits for the next search after it."""
        if loaded is None or (self._retraining is not None and self._retraining.is_alive()):
            return
        self._check_due = False
        due = list(loaded.ann.retrain_reasons())
        if not due:
            return
        ann = loaded.ann

        def run() -> None:
            try:
                done = ann.retrain(due)
                states = {org: state for org, state in ann.training_states().items() if org in done}
                exact = [org for org in done if org not in states]
                if states or exact:
                    self.db.submit_write(store_states, states, exact).result()
                    log.info("image index retrained for %d organization(s)", len(done))
            except Exception:
                log.exception("image index retrain failed")
            finally:
                self._check_due = True  # what was added meanwhile may want another

        self._retraining = threading.Thread(target=run, name="micropim-image-retrain", daemon=True)
        self._retraining.start()

    def retraining(self) -> threading.Thread | None:
        """The retrain running now, if any (tests wait for it)."""
        return self._retraining if self._retraining is not None and self._retraining.is_alive() else None

    # ---- searching ------------------------------------------------------------------------

    def _ann(self, v: np.ndarray, digest: str) -> AnnIndex | None:
        loaded = self.sync()
        held = None if loaded is None else loaded.model
        if held != (v.size, digest):
            if loaded is None or not len(loaded.ann):
                return None  # emptied: the next embedding sets it up for the new model
            _check(held, v.size, digest)
        assert loaded is not None
        return loaded.ann

    def search_products(self, org_id: int, vector: np.ndarray, limit: int, digest: str,
                        exclude_product: int | None = None) -> list[tuple[int, float]]:
        """The `limit` products of `org_id` whose images best match `vector`, best first,
        as (product id, score): one entry per product (its best image), archived
        products left out. The score is the cosine similarity of the query and that
        image (in [0, 1] for the built-in model), rounded to 4 places. Raises StaleIndex
        when the index holds another model's embeddings."""
        if limit < 1:
            return []
        v = _as_vector(vector)
        ann = self._ann(v, digest)
        if ann is None:
            return []
        k = limit
        while True:
            hits = ann.search_products(org_id, v, k, exclude_product=exclude_product)
            live = self._live(org_id, hits)
            # Enough products once archived ones are left out, or nothing more to find.
            if len(live) >= limit or len(hits) < k or k >= ann.count(org_id):
                break
            k *= 4
        return [(hit.product_id, round(float(hit.score), 4)) for hit in live[:limit]]

    def _live(self, org_id: int, hits: list[Hit]) -> list[Hit]:
        if not hits:
            return []
        ids = json.dumps(sorted({hit.product_id for hit in hits}))
        live = {int(row[0]) for row in self.db.execute_sql(
            "SELECT p.id FROM json_each(?) c CROSS JOIN product p ON p.id = c.value"
            " WHERE p.org_id = ? AND p.status != 'archived'", (ids, org_id))}
        return [hit for hit in hits if hit.product_id in live]

    def similar(self, org_id: int, product_id: int, limit: int) -> list[tuple[int, float]]:
        """The products that look most like `product_id`: for each other product, its
        best score against any of this product's images; the product itself and
        archived ones left out. (Stored vectors against stored vectors: whichever model
        made them, they are one model's.)"""
        loaded = self.sync()
        if loaded is None:
            return []
        dim, digest = loaded.model
        rows = self.db.execute_sql("SELECT vector FROM image_embedding WHERE product_id = ? AND org_id = ?",
                                   (product_id, org_id)).fetchall()
        if not rows:
            return []
        best: dict[int, float] = {}
        for (blob,) in rows:
            vector = decode(bytes(blob), dim).astype(np.float32)
            for other, score in self.search_products(org_id, vector, limit, digest, exclude_product=product_id):
                best[other] = max(best.get(other, -2.0), score)
        return sorted(best.items(), key=lambda item: (-item[1], item[0]))[:limit]

    def near(self, org_id: int, vector: np.ndarray, digest: str, threshold: float,
             exclude_product: int, limit: int = 5) -> list[tuple[int, float]]:
        """Other products with an image scoring at least `threshold` against `vector`."""
        found = self.search_products(org_id, vector, limit, digest, exclude_product=exclude_product)
        return [(product_id, score) for product_id, score in found if score >= threshold]

    def stats(self) -> dict[str, Any]:
        loaded = self._loaded
        return {"images": 0 if loaded is None else len(loaded.ann),
                "organizations": {} if loaded is None else loaded.ann.stats()}

