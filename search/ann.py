"""An in-process approximate-nearest-neighbour index for image search (faiss).

What it holds: unit-length embeddings keyed by int64 media id, each with the
organization and the product it belongs to. What it answers: the best images of one
organization for a query vector, (media_id, product_id, score) best first, score being
the cosine similarity. It knows nothing of the store: numpy and faiss in, plain arrays
out, so that the store can call it from its own transactions and keep what it
persists (see `to_parts`) wherever it likes.

How (the figures behind every choice are in bench/ann.py and its report):

- One faiss index per organization (a "shard"). Isolation then holds by construction:
  a search reads only its organization's inverted lists, never filters someone else's
  out, and a small organization beside a large one searches its own small index.
- Every shard is an IVF index storing the vectors as float16 (`IndexIVFScalarQuantizer`,
  QT_fp16, not by residual): the stored code of a vector *is* its float16 copy, so the
  scores faiss computes are exact inner products with the float16 vectors (no re-rank
  is needed; float16 is also what the store keeps), and a shard can be rebuilt or
  persisted from its own lists.
- Small shards (`Sizing.exact_max`, 30,000 vectors) are exhaustive: `exact_lists`
  lists filled by a hash of the media id and all of them scanned, which is exact search
  split over the cores (faiss parallelises one query over lists, not within one).
- Larger shards are trained: spherical k-means gives `nlist` centroids, about
  4 * sqrt(n) (a power of two, 64..2048), and a query scans the `nprobe` lists nearest
  to it, enough for about 96 * sqrt(n) vectors: recall@10 >= 0.995 on the benchmark
  sets from 30k to 1M vectors at a few ms.
- OpenMP threads are set, per calling thread, to the usable cores (affinity mask,
  cgroup quota): k-means, bulk assignment and adds use them all. One query runs on
  one thread unless it scans >= 200,000 vectors (`parallel_min_scan`): splitting a
  query over 2 shared cores made its latency worse whenever the other core was busy.
- Writes (`add`, `remove`) go straight into the shard: nothing is rebuilt per write.
  A readers-writer lock lets searches run on several threads (faiss releases the GIL)
  while writers wait for them and block new ones only briefly.
- A shard that has grown or drifted past its training (`retrain_reasons`) is rebuilt
  on the calling (background) thread while searches and writes go on against the old
  one; writes made meanwhile are journalled and replayed into the new shard, which is
  then swapped in under the write lock.
- `to_parts` / `from_parts` persist the whole index as byte chunks (<= 64 MB, for BLOB
  rows); `build(..., trained=...)` is the other start-up path, from stored float16
  vectors plus stored centroids, with no k-means.
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
import struct
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Sequence

import faiss as _faiss
import numpy as np

# The stubs faiss ships describe SWIG pointers (get_ids, get_codes, swig_ptr) as numpy
# arrays and lack several classes used here; checking calls against them would
# only produce false errors.
faiss: Any = _faiss

log = logging.getLogger("micropim.search.ann")

DIM = 1280
PART_BYTES = 64 * 1024 * 1024  # largest chunk `to_parts` produces: one BLOB row
FORMAT_VERSION = 1

_MAGIC = b"MPANNv1\x00"
_NO_PRODUCT = np.iinfo(np.int64).min


class Hit(NamedTuple):
    """One search result."""

    media_id: int
    product_id: int
    score: float


@dataclass(frozen=True)
class Sizing:
    """Thresholds and formulas that size a shard from its number of vectors `n`.

    Defaults are what bench/ann.py measured on the synthetic 1280-d sets (2 shared
    cores): exhaustive float16 search on one thread costs ~0.1 us per vector (p50
    1.0 ms at 10k, 3.8-4.4 ms at 30k, 6-9 ms at 50k, 13 ms at 100k, 110 ms at 1M),
    so exact search is kept up to 30k, where it is still about the 10k target of
    3 ms, and IVF (recall@10 0.9975-0.9995, 3-6 ms at 100k; 12-15 ms at 1M) above.
    """

    exact_max: int = 30_000  # above this an exact shard wants training
    exact_min: int = 10_000  # below this a trained shard goes back to exact
    exact_lists: int = 8  # lists an exact shard is split into, so both cores scan it
    nlist_per_sqrt: float = 4.0  # nlist ~ 4 * sqrt(n): lists of sqrt(n) / 4 vectors
    nlist_min: int = 64
    # 2048 centroids train in ~45 s on 2 cores (k-means cost grows with nlist^2);
    # beyond, lists just get longer and nprobe follows.
    nlist_max: int = 2048
    min_points_per_list: int = 39  # faiss's own floor for a meaningful k-means
    train_points_per_list: int = 64  # k-means sample: 64 * nlist vectors
    kmeans_iterations: int = 10  # what faiss uses for IVF training
    probe_scale: float = 96.0  # scan ~96 * sqrt(n) vectors per query
    # Below this many vectors scanned a query runs on one thread (~15 ms of work),
    # which at the default sizing is every shard up to ~4M vectors: see
    # _Shard._set_parallel.
    parallel_min_scan: int = 200_000
    growth: float = 4.0  # retrain after 4x growth (nlist ~ sqrt(n) doubles) or shrink
    # ... or when new vectors sit 50 % further from their centroids than held-out
    # ones did (new products like the old measure ~1.2 on the clustered set; a
    # different kind of image, 3x)
    drift: float = 1.5
    drift_share: float = 0.1  # ... once at least 10 % of the shard was added since
    drift_min: int = 1000
    imbalance: float = 2.0  # ... or when the lists got twice as uneven as when trained
    seed: int = 1234

    def nlist_for(self, n: int) -> int:
        """Lists for a shard of `n` vectors; 0 means exact search."""
        if n <= self.exact_max:
            return 0
        ideal = self.nlist_per_sqrt * math.sqrt(n)
        nlist = 1 << max(0, round(math.log2(ideal)))
        nlist = min(max(nlist, self.nlist_min), self.nlist_max)
        while nlist > 1 and nlist * self.min_points_per_list > n:
            nlist //= 2
        return nlist

    def nprobe_for(self, nlist: int, n: int) -> int:
        """Lists to scan so that ~probe_scale * sqrt(n) vectors are scanned. Computed
        from the current `n`, so a shard that grew since training scans a smaller share
        of its (longer) lists, as the measurements say suffices."""
        if n <= 0:
            return 1
        share = min(1.0, self.probe_scale / math.sqrt(n))
        return max(1, min(nlist, math.ceil(share * nlist)))


@dataclass(frozen=True)
class TrainingState:
    """What a trained shard needs besides its vectors: the centroids, and the figures
    `retrain_reasons` compares against. Small (nlist * dim float32: <= 10.5 MB)."""

    org_id: int
    centroids: np.ndarray  # (nlist, dim) float32, unit rows
    trained_count: int  # vectors in the shard when it was trained
    train_error: float  # mean (1 - cosine to the nearest centroid) of the sample

    def to_bytes(self) -> bytes:
        c = np.ascontiguousarray(self.centroids, np.float32)
        return struct.pack("<qqdII", self.org_id, self.trained_count, self.train_error,
                           c.shape[0], c.shape[1]) + c.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> TrainingState:
        org_id, trained, error, rows, dim = struct.unpack_from("<qqdII", data)
        head = struct.calcsize("<qqdII")
        if len(data) != head + rows * dim * 4:
            raise ValueError("training state has the wrong length")
        centroids = np.frombuffer(data, np.float32, rows * dim, head).reshape(rows, dim).copy()
        return cls(org_id, centroids, trained, error)


def usable_cores() -> int:
    """Cores this process may run on: the affinity mask, capped by a cgroup CPU quota
    (a container limited to 2 CPUs on a 16-core host must not start 16 threads)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


_thread_state = threading.local()


def _use_cores() -> None:
    """OpenMP's thread count is per calling thread (omp_set_num_threads in one Python
    thread does not reach the others), so every thread that calls faiss sets it once."""
    if getattr(_thread_state, "threads", None) is None:
        _thread_state.threads = usable_cores()
        faiss.omp_set_num_threads(_thread_state.threads)


def release_free_memory() -> None:
    """Hand freed heap pages back to the OS (glibc's malloc_trim) after a shard was
    dropped: its inverted lists are many blocks of ~1 MB that glibc keeps on its heap
    rather than unmapping: three retrains of a 100k-image shard left RSS 370-530 MB
    higher each time without this, ~40 MB with it. A no-op where there is no glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def best_per_product(hits: Iterable[Hit], limit: int | None = None) -> list[Hit]:
    """Collapse hits (best first) to the best image of each product, best first."""
    seen: set[int] = set()
    out: list[Hit] = []
    for hit in hits:
        if hit.product_id in seen:
            continue
        seen.add(hit.product_id)
        out.append(hit)
        if limit is not None and len(out) >= limit:
            break
    return out


class _RWLock:
    """Many readers or one writer. A waiting writer holds off new readers, so a steady
    stream of searches cannot starve writes; no reader holds the lock for long (the
    slow jobs, persisting and retraining, take it one inverted list at a time).
    Not re-entrant."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class _IdMap:
    """media id -> (organization, product) of every vector held.

    Sorted int64 arrays (24 bytes per image; two Python dicts would take ~200, i.e.
    200 MB at 1M images) plus a small dict of recent changes, folded into the arrays
    once it holds more than 1/16 of them, so a write costs O(1) amortised copies.
    Callers serialise writes (the index's write lock)."""

    def __init__(self) -> None:
        self._keys = np.empty(0, np.int64)
        self._orgs = np.empty(0, np.int64)
        self._prods = np.empty(0, np.int64)
        self._recent: dict[int, tuple[int, int] | None] = {}
        self._count = 0

    @classmethod
    def from_arrays(cls, ids: np.ndarray, orgs: np.ndarray, prods: np.ndarray) -> _IdMap:
        """From unique ids (raises ValueError on a duplicate)."""
        m = cls()
        order = np.argsort(ids, kind="stable")
        m._keys, m._orgs, m._prods = ids[order], orgs[order], prods[order]
        if len(m._keys) > 1 and (np.diff(m._keys) == 0).any():
            raise ValueError("duplicate media id")
        m._count = len(m._keys)
        return m

    def __len__(self) -> int:
        return self._count

    def lookup(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(found, org, product) arrays for `ids`; org and product are meaningless
        where not found."""
        pos = np.searchsorted(self._keys, ids)
        pos = np.minimum(pos, max(0, len(self._keys) - 1))
        if len(self._keys):
            found = self._keys[pos] == ids
            orgs, prods = self._orgs[pos].copy(), self._prods[pos].copy()
        else:
            found = np.zeros(len(ids), bool)
            orgs = np.zeros(len(ids), np.int64)
            prods = np.zeros(len(ids), np.int64)
        if self._recent:
            for i, media_id in enumerate(ids.tolist()):
                if media_id in self._recent:
                    value = self._recent[media_id]
                    found[i] = value is not None
                    if value is not None:
                        orgs[i], prods[i] = value
        return found, orgs, prods

    def set_many(self, ids: np.ndarray, orgs: np.ndarray, prods: np.ndarray) -> None:
        found, _, _ = self.lookup(ids)
        self._count += int((~found).sum())
        for media_id, org, prod in zip(ids.tolist(), orgs.tolist(), prods.tolist()):
            self._recent[media_id] = (org, prod)
        self._maybe_fold()

    def delete_many(self, ids: np.ndarray) -> None:
        """Forget `ids` (all of which must be present)."""
        self._count -= len(ids)
        for media_id in ids.tolist():
            self._recent[media_id] = None
        self._maybe_fold()

    def _maybe_fold(self) -> None:
        if len(self._recent) > max(4096, len(self._keys) // 16):
            self._fold()

    def _fold(self) -> None:
        if not self._recent:
            return
        changed = np.fromiter(self._recent.keys(), np.int64, len(self._recent))
        keep = ~np.isin(self._keys, changed)
        live = [(k, v) for k, v in self._recent.items() if v is not None]
        new_keys = np.fromiter((k for k, _ in live), np.int64, len(live))
        new_orgs = np.fromiter((v[0] for _, v in live), np.int64, len(live))
        new_prods = np.fromiter((v[1] for _, v in live), np.int64, len(live))
        keys = np.concatenate([self._keys[keep], new_keys])
        order = np.argsort(keys, kind="stable")
        self._keys = keys[order]
        self._orgs = np.concatenate([self._orgs[keep], new_orgs])[order]
        self._prods = np.concatenate([self._prods[keep], new_prods])[order]
        self._recent = {}


def _hash_lists(ids: np.ndarray, lists: int) -> np.ndarray:
    """Spread ids over `lists` (a power of two) by a multiplicative hash: exact shards
    only need lists of even size, whatever the pattern of the ids."""
    bits = lists.bit_length() - 1
    if bits == 0:
        return np.zeros(len(ids), np.int64)
    mixed = ids.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return (mixed >> np.uint64(64 - bits)).astype(np.int64)


def _train_centroids(sample: np.ndarray, held_out: np.ndarray, nlist: int,
                     sizing: Sizing) -> tuple[np.ndarray, float]:
    """Spherical k-means on `sample` (unit centroids, so the nearest by inner product
    is the nearest by angle). Returns the centroids and the mean 1 - cosine of the
    `held_out` vectors (not trained on) to their nearest centroid: the baseline that
    later additions are compared with, which must not be flattered by k-means having
    fitted its own sample (in-sample error is ~25 % lower at 50 points per list)."""
    _use_cores()
    kmeans = faiss.Kmeans(sample.shape[1], nlist, niter=sizing.kmeans_iterations,
                          spherical=True, seed=sizing.seed,
                          # the sample is drawn by the caller; faiss must not subsample it
                          max_points_per_centroid=len(sample) // nlist + 1,
                          min_points_per_centroid=1)
    kmeans.train(sample)
    centroids = np.ascontiguousarray(kmeans.centroids, np.float32)
    flat = faiss.IndexFlatIP(sample.shape[1])
    flat.add(centroids)
    sims, _ = flat.search(held_out if len(held_out) else sample, 1)
    return centroids, float(np.mean(1.0 - sims[:, 0]))


def _held_out_size(n: int) -> int:
    """Vectors kept out of k-means to measure its error on: 10 %, at most 4096."""
    return min(4096, n // 10)


class _Shard:
    """One organization's vectors: an IVF index of float16 codes (see the module
    docstring), plus the figures that tell when it needs retraining."""

    def __init__(self, org_id: int, dim: int, sizing: Sizing,
                 state: TrainingState | None = None, bulk: bool = False) -> None:
        self.org_id = org_id
        self.dim = dim
        self.sizing = sizing
        self.exact = state is None
        if state is None:
            self.nlist = sizing.exact_lists
            # Never consulted for placement (ids are hashed) and every list is
            # scanned; the quantizer only has to exist.
            centroids = np.eye(self.nlist, dim, dtype=np.float32)
            self.trained_count, self.train_error = 0, 0.0
        else:
            centroids = np.ascontiguousarray(state.centroids, np.float32)
            if centroids.ndim != 2 or centroids.shape[1] != dim:
                raise ValueError(f"centroids must be (nlist, {dim})")
            self.nlist = centroids.shape[0]
            self.trained_count, self.train_error = state.trained_count, state.train_error
        self.centroids = centroids
        self.quantizer = faiss.IndexFlatIP(dim)
        self.quantizer.add(centroids)
        self.index = faiss.IndexIVFScalarQuantizer(
            self.quantizer, dim, self.nlist, faiss.ScalarQuantizer.QT_fp16,
            faiss.METRIC_INNER_PRODUCT, False)
        self.index.is_trained = True  # fp16 needs no training; the quantizer is set
        self._set_parallel()
        self.code_size = int(self.index.code_size)
        if not bulk:
            # Media id -> (list, offset): O(1) removal. A bulk fill builds it at the end.
            self.index.set_direct_map_type(faiss.DirectMap.Hashtable)
        self.added_since = 0  # vectors added since training
        self.added_error = 0.0  # sum of their 1 - cosine to their centroid
        self.base_imbalance = 1.0

    @property
    def count(self) -> int:
        return int(self.index.ntotal)

    def state(self) -> TrainingState | None:
        if self.exact:
            return None
        return TrainingState(self.org_id, self.centroids.copy(), self.trained_count,
                             self.train_error)

    def assign(self, ids: np.ndarray, x: np.ndarray) -> np.ndarray:
        if self.exact:
            return _hash_lists(ids, self.nlist)
        sims, lists = self.quantizer.search(x, 1)
        self.added_error += float(np.sum(1.0 - sims[:, 0]))
        self.added_since += len(ids)
        return np.ascontiguousarray(lists[:, 0])

    def add(self, ids: np.ndarray, x: np.ndarray) -> None:
        """Add float32 rows `x` with unique `ids` none of which is held already."""
        if not len(ids):
            return
        _use_cores()
        lists = self.assign(ids, x)
        # add_core opens a parallel region even for one vector; on a busy machine
        # waiting for the second thread made a 1-vector add take 20-25 ms, not 0.5.
        single = len(ids) < 4096
        if single:
            faiss.omp_set_num_threads(1)
        try:
            self.index.add_core(len(ids), faiss.swig_ptr(x), faiss.swig_ptr(ids),
                                faiss.swig_ptr(lists))
        finally:
            if single:
                faiss.omp_set_num_threads(_thread_state.threads)
        self._set_parallel()

    def fill(self, list_no: int, ids: np.ndarray, codes: np.ndarray) -> None:
        """Append float16 codes straight to a list (bulk build and load only: the
        direct map and ntotal are set by `finish_fill`)."""
        if len(ids):
            self.index.invlists.add_entries(list_no, len(ids), faiss.swig_ptr(ids),
                                            faiss.swig_ptr(codes))

    def finish_fill(self) -> None:
        invlists = self.index.invlists
        self.index.ntotal = sum(invlists.list_size(i) for i in range(self.nlist))
        self.index.set_direct_map_type(faiss.DirectMap.Hashtable)
        self.base_imbalance = self.imbalance()
        self._set_parallel()

    def remove(self, ids: np.ndarray) -> int:
        if not len(ids):
            return 0
        ids = np.ascontiguousarray(ids, np.int64)
        selector = faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids))
        removed = int(self.index.remove_ids(selector))
        self._set_parallel()
        return removed

    def nprobe(self) -> int:
        return self.nlist if self.exact else self.sizing.nprobe_for(self.nlist, self.count)

    def _set_parallel(self) -> None:
        """Split a query's lists over the cores (faiss parallel_mode 1) only when it
        scans a lot: a parallel region waits for all its threads, and on a busy
        machine a descheduled one costs a time slice. Measured on 2 shared cores: at
        10k (load 8) p99 30-80 ms with 2 threads against 2-6 ms on one; at 1M (96k
        vectors scanned, load 5) p50 35-60 ms with 2 threads against 23-26 ms on one,
        while on an idle machine 2 threads took 8 ms. Robust beats best case here;
        concurrent searches still use every core. Called under the write lock (or
        before the shard is shared)."""
        scanned = self.count * self.nprobe() / self.nlist
        self.index.parallel_mode = 1 if scanned >= self.sizing.parallel_min_scan else 0

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        _use_cores()
        params = faiss.SearchParametersIVF()
        params.nprobe = self.nprobe()
        scores, labels = self.index.search(q, k, params=params)
        return scores[0], labels[0]

    def list_size(self, list_no: int) -> int:
        return int(self.index.invlists.list_size(list_no))

    def copy_list(self, list_no: int, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, codes) of a list, copied (the list may move once the lock is let go);
        only `rows` of it when given."""
        invlists = self.index.invlists
        n = invlists.list_size(list_no)
        if n == 0:
            return np.empty(0, np.int64), np.empty((0, self.code_size), np.uint8)
        ids = faiss.rev_swig_ptr(invlists.get_ids(list_no), n)
        codes = faiss.rev_swig_ptr(invlists.get_codes(list_no), n * self.code_size)
        codes = codes.reshape(n, self.code_size)
        if rows is not None:
            return ids[rows], codes[rows]
        return ids.copy(), codes.copy()

    def imbalance(self) -> float:
        return float(self.index.invlists.imbalance_factor()) if self.count else 1.0

    def retrain_reason(self) -> str | None:
        """Why this shard should be rebuilt now, or None."""
        s, n = self.sizing, self.count
        if self.exact:
            return f"{n} vectors, above exact search's {s.exact_max}" if n > s.exact_max else None
        if n < s.exact_min:
            return f"{n} vectors, below {s.exact_min}: exact search is cheaper"
        wanted = s.nlist_for(n)
        if n >= s.growth * self.trained_count and wanted > self.nlist:
            return f"grew from {self.trained_count} to {n} vectors since training"
        if n * s.growth <= self.trained_count and wanted < self.nlist:
            return f"shrank from {self.trained_count} to {n} vectors since training"
        if (self.added_since >= max(s.drift_min, s.drift_share * n)
                and self.added_error > s.drift * self.train_error * self.added_since):
            mean = self.added_error / self.added_since
            return (f"drift: vectors added since training are {mean:.4f} from their"
                    f" centroids, the training sample {self.train_error:.4f}")
        if self.imbalance() > s.imbalance * self.base_imbalance:
            return f"lists grew uneven (imbalance {self.imbalance():.2f}, {self.base_imbalance:.2f} when trained)"
        return None


class _Journal:
    """Writes made while a long job (a retrain, a persist) copies a shard list by list:
    replayed afterwards, so that job misses nothing. Replaying is idempotent: an add
    replaces the id, a remove of an absent id does nothing."""

    def __init__(self, org_id: int | None) -> None:
        self.org_id = org_id  # None: every organization
        self.ops: list[tuple[str, int, np.ndarray, np.ndarray, np.ndarray]] = []

    def wants(self, org_id: int) -> bool:
        return self.org_id is None or self.org_id == org_id


_EMPTY_I64 = np.empty(0, np.int64)
_EMPTY_F16 = np.empty((0, 0), np.float16)


class AnnIndex:
    """Image vectors of many organizations, searchable per organization.

    Thread-safe: any number of threads may search while one writes; `retrain` and
    `write_parts` may run on a background thread while both go on.
    """

    def __init__(self, dim: int = DIM, sizing: Sizing | None = None) -> None:
        self.dim = dim
        self.sizing = sizing or Sizing()
        self._lock = _RWLock()
        self._shards: dict[int, _Shard] = {}
        self._ids = _IdMap()
        self._journals: list[_Journal] = []
        self._rebuilding: set[int] = set()
        self._rebuild_guard = threading.Lock()

    # ---- reading --------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._ids)

    def count(self, org_id: int) -> int:
        with self._lock.read():
            shard = self._shards.get(org_id)
            return shard.count if shard else 0

    def org_ids(self) -> list[int]:
        with self._lock.read():
            return [org for org, shard in self._shards.items() if shard.count]

    def stats(self) -> dict[int, dict[str, Any]]:
        """Per organization: vectors, mode, nlist, nprobe, retrain reason (for logs)."""
        with self._lock.read():
            return {org: {
                "count": s.count, "exact": s.exact, "nlist": s.nlist,
                "nprobe": s.nprobe(), "parallel": s.index.parallel_mode == 1,
                "trained_count": s.trained_count, "retrain": s.retrain_reason(),
            } for org, s in self._shards.items()}

    def _query(self, vector: np.ndarray | Sequence[float]) -> np.ndarray:
        q = np.ascontiguousarray(np.asarray(vector, np.float32).reshape(1, -1))
        if q.shape[1] != self.dim:
            raise ValueError(f"query has {q.shape[1]} dimensions, the index {self.dim}")
        return q

    def search(self, org_id: int, vector: np.ndarray | Sequence[float], k: int = 10,
               exclude_product: int | None = None) -> list[Hit]:
        """The `k` best images of `org_id` for `vector` (unit length), best first,
        skipping images of `exclude_product`. Only `org_id`'s shard is read."""
        return self._search(org_id, vector, k, exclude_product, per_product=False)

    def search_products(self, org_id: int, vector: np.ndarray | Sequence[float], k: int = 10,
                        exclude_product: int | None = None) -> list[Hit]:
        """The best image of each of the `k` best products, best first."""
        return self._search(org_id, vector, k, exclude_product, per_product=True)

    def _search(self, org_id: int, vector: np.ndarray | Sequence[float], k: int,
                exclude_product: int | None, per_product: bool) -> list[Hit]:
        q = self._query(vector)
        if k <= 0:
            return []
        with self._lock.read():
            shard = self._shards.get(org_id)
            if shard is None or shard.count == 0:
                return []
            # Ask for more when images will be dropped (excluded product, several
            # images of one product); ask again, 4x more, until enough came back.
            fetch = k * (4 if per_product else 1) + (8 if exclude_product is not None else 0)
            while True:
                fetch = min(fetch, shard.count)
                scores, labels = shard.search(q, fetch)
                hits = self._hits(org_id, scores, labels, exclude_product)
                if per_product:
                    hits = best_per_product(hits)
                # Stop when enough, or when the probed lists held fewer than asked
                # for (asking for more would scan the same lists again).
                if len(hits) >= k or fetch >= shard.count or int((labels >= 0).sum()) < fetch:
                    return hits[:k]
                fetch *= 4

    def _hits(self, org_id: int, scores: np.ndarray, labels: np.ndarray,
              exclude_product: int | None) -> list[Hit]:
        keep = labels >= 0
        labels, scores = labels[keep], scores[keep]
        found, orgs, prods = self._ids.lookup(labels)
        # The shard holds only org_id's images; checking again costs nothing and
        # would catch a bookkeeping bug before it showed one customer another's image.
        keep = found & (orgs == org_id)
        if exclude_product is not None:
            keep &= prods != exclude_product
        return [Hit(int(m), int(p), float(s))
                for m, p, s in zip(labels[keep], prods[keep], scores[keep])]

    # ---- writing --------------------------------------------------------------------

    def add(self, media_ids: Sequence[int] | np.ndarray, org_ids: Sequence[int] | np.ndarray,
            product_ids: Sequence[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Add (or replace) vectors, searchable as soon as this returns. An id already
        held is replaced, even under another organization; within one call the last
        occurrence of an id wins. For a bulk load prefer `build`."""
        ids = np.ascontiguousarray(media_ids, np.int64).reshape(-1)
        orgs = np.ascontiguousarray(org_ids, np.int64).reshape(-1)
        prods = np.ascontiguousarray(product_ids, np.int64).reshape(-1)
        x = np.asarray(vectors)
        if x.ndim == 1:
            x = x.reshape(1, -1)
        if not (len(ids) == len(orgs) == len(prods) == len(x)) or (len(x) and x.shape[1] != self.dim):
            raise ValueError(f"add needs as many ids, organizations, products and {self.dim}-d vectors")
        if not len(ids):
            return
        if len(np.unique(ids)) != len(ids):
            _, last = np.unique(ids[::-1], return_index=True)
            rows = np.sort(len(ids) - 1 - last)
            ids, orgs, prods, x = ids[rows], orgs[rows], prods[rows], x[rows]
        x = np.ascontiguousarray(x, np.float32)
        with self._lock.write():
            self._remove_locked(ids)
            for org in np.unique(orgs).tolist():
                rows = np.flatnonzero(orgs == org)
                shard = self._shards.get(org)
                if shard is None:
                    shard = self._shards[org] = _Shard(org, self.dim, self.sizing)
                g_ids, g_x = np.ascontiguousarray(ids[rows]), np.ascontiguousarray(x[rows])
                shard.add(g_ids, g_x)
                for journal in self._journals:
                    if journal.wants(org):
                        journal.ops.append(("add", org, g_ids, prods[rows], g_x.astype(np.float16)))
            self._ids.set_many(ids, orgs, prods)

    def remove(self, media_ids: Sequence[int] | np.ndarray) -> int:
        """Remove vectors by media id, at once; unknown ids are ignored. Returns how
        many were removed."""
        ids = np.unique(np.asarray(media_ids, np.int64).reshape(-1))
        if not len(ids):
            return 0
        with self._lock.write():
            return self._remove_locked(ids)

    def _remove_locked(self, ids: np.ndarray) -> int:
        found, orgs, _ = self._ids.lookup(ids)
        if not found.any():
            return 0
        ids, orgs = ids[found], orgs[found]
        for org in np.unique(orgs).tolist():
            g_ids = np.ascontiguousarray(ids[orgs == org])
            shard = self._shards.get(org)
            if shard is not None:
                shard.remove(g_ids)
            for journal in self._journals:
                if journal.wants(org):
                    journal.ops.append(("remove", org, g_ids, _EMPTY_I64, _EMPTY_F16))
        self._ids.delete_many(ids)
        return len(ids)

    # ---- bulk build -----------------------------------------------------------------

    @classmethod
    def build(cls, media_ids: Sequence[int] | np.ndarray, org_ids: Sequence[int] | np.ndarray,
              product_ids: Sequence[int] | np.ndarray, vectors: np.ndarray, *, dim: int = DIM,
              sizing: Sizing | None = None,
              trained: Mapping[int, TrainingState] | None = None) -> AnnIndex:
        """A new index holding these vectors (float16 or float32 rows; ids unique),
        each organization's shard sized for its count. With `trained` (from
        `training_states()`), those organizations reuse their stored centroids: no
        k-means, only the assignment of each vector to its nearest centroid, the
        start-up path from stored float16 vectors."""
        index = cls(dim, sizing)
        ids = np.ascontiguousarray(media_ids, np.int64).reshape(-1)
        orgs = np.ascontiguousarray(org_ids, np.int64).reshape(-1)
        prods = np.ascontiguousarray(product_ids, np.int64).reshape(-1)
        if not (len(ids) == len(orgs) == len(prods) == len(vectors)):
            raise ValueError("build needs as many ids, organizations, products and vectors")
        if len(vectors) and vectors.shape[1] != dim:
            raise ValueError(f"vectors must have {dim} dimensions")
        index._ids = _IdMap.from_arrays(ids, orgs, prods)
        order = np.argsort(orgs, kind="stable")
        bounds = np.flatnonzero(np.diff(orgs[order])) + 1
        for rows in np.split(order, bounds) if len(order) else []:
            org = int(orgs[rows[0]])
            state = (trained or {}).get(org)
            index._shards[org] = index._build_shard(org, ids[rows], vectors, rows, state)
        return index

    def _build_shard(self, org: int, ids: np.ndarray, vectors: np.ndarray, rows: np.ndarray,
                     state: TrainingState | None) -> _Shard:
        _use_cores()
        n = len(rows)
        nlist = self.sizing.nlist_for(n)
        if state is None and nlist:
            rng = np.random.default_rng(self.sizing.seed)
            hold = _held_out_size(n)
            take = min(n - hold, nlist * self.sizing.train_points_per_list)
            perm = rng.permutation(n)
            sample = np.ascontiguousarray(vectors[rows[np.sort(perm[:take])]], np.float32)
            held_out = np.ascontiguousarray(vectors[rows[np.sort(perm[take:take + hold])]], np.float32)
            centroids, error = _train_centroids(sample, held_out, nlist, self.sizing)
            state = TrainingState(org, centroids, n, error)
        shard = _Shard(org, self.dim, self.sizing, state, bulk=True)
        if shard.exact:
            lists = _hash_lists(ids, shard.nlist)
        else:
            lists = np.empty(n, np.int64)
            for start in range(0, n, 32768):
                chunk = np.ascontiguousarray(vectors[rows[start:start + 32768]], np.float32)
                lists[start:start + len(chunk)] = shard.quantizer.search(chunk, 1)[1][:, 0]
        # One add per list, of exactly its size: no growth, no slack, no re-encoding
        # (float16 rows are the codes).
        by_list = np.argsort(lists, kind="stable")
        starts = np.searchsorted(lists[by_list], np.arange(shard.nlist + 1))
        for list_no in range(shard.nlist):
            sel = by_list[starts[list_no]:starts[list_no + 1]]
            if len(sel):
                codes = np.ascontiguousarray(vectors[rows[sel]], np.float16).view(np.uint8)
                shard.fill(list_no, np.ascontiguousarray(ids[sel]), codes)
        shard.finish_fill()
        return shard

    def load_shard(self, org_id: int, chunks: Callable[[], Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]],
                   state: TrainingState | None = None) -> int:
        """Fill organization `org_id`'s shard from chunks of (media ids, product ids,
        float16 or float32 rows) without holding them all at once: the start-up path
        from the store. `chunks()` is called twice and must yield the same rows in the
        same order both times (one read transaction): the first pass places each row in
        its list (with `state`, its stored centroids, the nearest one; without, an
        exhaustive shard that `retrain_reasons` asks to train once it is past
        `Sizing.exact_max`), then every list is allocated at its final size and the
        second pass copies the rows in. Appending chunk by chunk instead let the lists'
        arrays grow by doubling: at 100k images the load peaked at 1.0 GB and kept
        400 MB for 260 MB of vectors. Answers how many rows it holds. Meant for an
        index that is not searched yet (it takes the write lock only to swap in)."""
        _use_cores()
        shard = _Shard(org_id, self.dim, self.sizing, state, bulk=True)
        placed: list[np.ndarray] = []
        held: list[tuple[np.ndarray, np.ndarray]] = []
        for ids, prods, rows in chunks():
            ids = np.ascontiguousarray(ids, np.int64)
            if not len(ids):
                continue
            if rows.shape[1] != self.dim:
                raise ValueError(f"vectors must have {self.dim} dimensions")
            if shard.exact:
                placed.append(_hash_lists(ids, shard.nlist))
            else:
                placed.append(shard.quantizer.search(np.ascontiguousarray(rows, np.float32), 1)[1][:, 0])
            held.append((ids, np.ascontiguousarray(prods, np.int64)))
        lists = np.concatenate(placed) if placed else np.empty(0, np.int64)
        sizes = np.bincount(lists, minlength=shard.nlist)
        invlists = shard.index.invlists
        for list_no in np.flatnonzero(sizes):
            invlists.resize(int(list_no), int(sizes[list_no]))
        filled = np.zeros(shard.nlist, np.int64)
        start = 0
        for (ids, _), (again, _, rows) in zip(held, (chunk for chunk in chunks() if len(chunk[0]))):
            if not np.array_equal(ids, np.asarray(again, np.int64)):
                raise RuntimeError("the rows changed between the two passes of a load")
            chunk_lists = lists[start:start + len(ids)]
            start += len(ids)
            codes = np.ascontiguousarray(rows, np.float16).view(np.uint8)
            order = np.argsort(chunk_lists, kind="stable")
            bounds = np.searchsorted(chunk_lists[order], np.arange(shard.nlist + 1))
            for list_no in np.flatnonzero(np.diff(bounds)):
                sel = order[bounds[list_no]:bounds[list_no + 1]]
                sel_ids = np.ascontiguousarray(ids[sel])
                sel_codes = np.ascontiguousarray(codes[sel])
                invlists.update_entries(int(list_no), int(filled[list_no]), len(sel),
                                        faiss.swig_ptr(sel_ids), faiss.swig_ptr(sel_codes))
                filled[list_no] += len(sel)
        if start != len(lists):
            raise RuntimeError("the rows changed between the two passes of a load")
        shard.finish_fill()
        with self._lock.write():
            self._shards[org_id] = shard
            for ids, prods in held:
                self._ids.set_many(ids, np.full(len(ids), org_id, np.int64), prods)
        return shard.count

    def training_states(self) -> dict[int, TrainingState]:
        """Centroids and training figures of every trained shard: with the float16
        vectors, all `build(..., trained=...)` needs to start without k-means."""
        with self._lock.read():
            return {org: st for org, shard in self._shards.items()
                    if (st := shard.state()) is not None}

    # ---- retraining -----------------------------------------------------------------

    def retrain_reasons(self) -> dict[int, str]:
        """Organizations whose shard should be rebuilt, with the reason."""
        with self._lock.read():
            return {org: reason for org, shard in self._shards.items()
                    if (reason := shard.retrain_reason()) is not None}

    def needs_retrain(self, org_id: int | None = None) -> bool:
        reasons = self.retrain_reasons()
        return bool(reasons) if org_id is None else org_id in reasons

    def retrain(self, org_ids: Iterable[int] | None = None) -> list[int]:
        """Rebuild the shards of `org_ids` (default: those `retrain_reasons` names),
        each sized for its current count, on this thread; each new shard is swapped in
        when done. Searches and writes go on meanwhile. Returns the organizations
        rebuilt. Took 86 s for 1M vectors on 2 cores (296 s on a loaded machine) and,
        while it runs, memory for a second copy of the shard (~2.6 GB at 1M)."""
        targets = list(self.retrain_reasons()) if org_ids is None else list(org_ids)
        done = []
        for org in targets:
            if self._rebuild(org):
                done.append(org)
        return done

    def retrain_in_background(self, org_ids: Iterable[int] | None = None) -> threading.Thread:
        """`retrain` on a daemon thread (started); errors are logged."""
        targets = None if org_ids is None else list(org_ids)

        def run() -> None:
            try:
                for org in self.retrain(targets):
                    log.info("image index of organization %s rebuilt", org)
            except Exception:
                log.exception("image index retrain failed")

        thread = threading.Thread(target=run, name="ann-retrain", daemon=True)
        thread.start()
        return thread

    def _rebuild(self, org: int) -> bool:
        with self._rebuild_guard:
            if org in self._rebuilding:
                return False
            self._rebuilding.add(org)
        journal = _Journal(org)
        try:
            with self._lock.write():
                old = self._shards.get(org)
                if old is None:
                    return False
                self._journals.append(journal)
            new = self._rebuilt_shard(old)
            with self._lock.write():
                self._journals.remove(journal)
                self._replay(new, journal.ops)
                self._shards[org] = new
            del old, new
            release_free_memory()
            return True
        finally:
            with self._lock.write():
                if journal in self._journals:
                    self._journals.remove(journal)
            with self._rebuild_guard:
                self._rebuilding.discard(org)

    def _rebuilt_shard(self, old: _Shard) -> _Shard:
        """A new shard sized for `old`'s count, filled from `old`'s lists, each copied
        under a short read lock (writes meanwhile are in the journal)."""
        _use_cores()
        n = old.count
        nlist = self.sizing.nlist_for(n)
        state = None
        if nlist:
            rng = np.random.default_rng(self.sizing.seed)
            hold_share = _held_out_size(n) / max(1, n)
            share = min(1.0 - hold_share, nlist * self.sizing.train_points_per_list / max(1, n))
            samples, held = [], []
            for list_no in range(old.nlist):
                with self._lock.read():
                    draw = rng.random(old.list_size(list_no))
                    samples.append(old.copy_list(list_no, np.flatnonzero(draw < share))[1])
                    held.append(old.copy_list(
                        list_no, np.flatnonzero((draw >= share) & (draw < share + hold_share)))[1])

            def decode(parts: list[np.ndarray]) -> np.ndarray:
                codes = np.concatenate(parts) if parts else np.empty((0, old.code_size), np.uint8)
                return codes.view(np.float16).reshape(-1, self.dim).astype(np.float32)

            sample, held_out = decode(samples), decode(held)
            del samples, held
            if len(sample) >= nlist:
                centroids, error = _train_centroids(sample, held_out, nlist, self.sizing)
                state = TrainingState(old.org_id, centroids, n, error)
            del sample, held_out
        new = _Shard(old.org_id, self.dim, self.sizing, state)
        batch_ids: list[np.ndarray] = []
        batch_codes: list[np.ndarray] = []
        batched = 0
        for list_no in range(old.nlist):
            with self._lock.read():
                ids, codes = old.copy_list(list_no)
            batch_ids.append(ids)
            batch_codes.append(codes)
            batched += len(ids)
            if batched >= 16384 or list_no == old.nlist - 1:
                all_ids = np.concatenate(batch_ids)
                x = np.concatenate(batch_codes).view(np.float16).reshape(-1, self.dim)
                new.add(all_ids, np.ascontiguousarray(x, np.float32))
                batch_ids, batch_codes, batched = [], [], 0
        # What was copied is the training snapshot, not drift.
        new.added_since, new.added_error = 0, 0.0
        new.base_imbalance = new.imbalance()
        return new

    @staticmethod
    def _replay(shard: _Shard, ops: list[tuple[str, int, np.ndarray, np.ndarray, np.ndarray]]) -> None:
        for kind, _, ids, _, x16 in ops:
            shard.remove(ids)
            if kind == "add":
                shard.add(ids, np.ascontiguousarray(x16, np.float32))

    # ---- persistence ----------------------------------------------------------------

    def to_parts(self, part_bytes: int = PART_BYTES) -> list[bytes]:
        """The whole index as byte chunks of at most `part_bytes` (store them in
        order, give them back to `from_parts` in order). Holds them all in memory:
        ~2.6 KB per image; `write_parts` streams instead."""
        parts: list[bytes] = []
        self.write_parts(parts.append, part_bytes)
        return parts

    def write_parts(self, sink: Callable[[bytes], object], part_bytes: int = PART_BYTES) -> int:
        """Pass the index to `sink` chunk by chunk (<= `part_bytes`, in order); returns
        the number of chunks. Searches and writes go on meanwhile: lists are copied one
        at a time, and writes made during the copy are appended as a journal that
        `from_parts` replays. Per image: 8 (id) + 8 (product) + 2 * dim bytes."""
        writer = _PartWriter(sink, part_bytes)
        journal = _Journal(None)
        with self._lock.write():
            self._journals.append(journal)
            shards = list(self._shards.values())
        try:
            writer.record(_INDEX, struct.pack("<IIQ", FORMAT_VERSION, self.dim, len(shards)))
            entries = 0
            for shard in shards:
                writer.record(_SHARD, struct.pack(
                    "<qBIqddqd", shard.org_id, shard.exact, shard.nlist, shard.trained_count,
                    shard.train_error, shard.added_error, shard.added_since, shard.base_imbalance))
                if not shard.exact:
                    writer.rows(_CENTROIDS, struct.pack("<q", shard.org_id), [shard.centroids],
                                with_first=True)
                for list_no in range(shard.nlist):
                    with self._lock.read():
                        ids, codes = shard.copy_list(list_no)
                        prods = self._ids.lookup(ids)[2]
                    entries += len(ids)
                    writer.rows(_ENTRIES, struct.pack("<qI", shard.org_id, list_no),
                                [ids, prods, codes])
        finally:
            with self._lock.write():
                self._journals.remove(journal)
        for kind, org, ids, prods, x16 in journal.ops:
            if kind == "add":
                writer.rows(_JOURNAL_ADD, struct.pack("<q", org), [ids, prods, x16])
            else:
                writer.rows(_JOURNAL_REMOVE, b"", [ids])
        writer.record(_END, struct.pack("<QQ", len(shards), entries))
        return writer.finish()

    @classmethod
    def from_parts(cls, parts: Iterable[bytes], sizing: Sizing | None = None) -> AnnIndex:
        """The index `write_parts` wrote, from its chunks in order (any iterable: a
        cursor over BLOB rows is read one chunk at a time). Raises ValueError for
        chunks missing, out of order, truncated or of another format."""
        reader = _PartReader(cls, sizing)
        for number, part in enumerate(parts):
            reader.part(number, memoryview(part))
        return reader.finish()


# ---- chunk format ----------------------------------------------------------------------
# Every chunk: magic, chunk number (u32), then records: kind (u8), payload length (u64),
# payload. Row records (centroids, list entries, journal) are split across chunks by
# rows, so every record lies whole in one chunk and a chunk parses on its own.

_INDEX, _SHARD, _CENTROIDS, _ENTRIES, _JOURNAL_ADD, _JOURNAL_REMOVE, _END = range(1, 8)
_RECORD = struct.Struct("<BQ")
_PART_HEAD = len(_MAGIC) + 4


class _PartWriter:
    def __init__(self, sink: Callable[[bytes], object], part_bytes: int) -> None:
        if part_bytes < 64 * 1024:
            raise ValueError("parts must be at least 64 KiB")
        self.sink, self.limit = sink, part_bytes
        self.count = 0
        self._start()

    def _start(self) -> None:
        self.pieces: list[bytes] = [_MAGIC + struct.pack("<I", self.count)]
        self.size = _PART_HEAD

    def _flush(self) -> None:
        self.sink(b"".join(self.pieces))
        self.count += 1
        self._start()

    def record(self, kind: int, *payload: bytes) -> None:
        length = sum(len(p) for p in payload)
        if self.size + _RECORD.size + length > self.limit:
            self._flush()
        self.pieces.append(_RECORD.pack(kind, length))
        self.pieces.extend(payload)
        self.size += _RECORD.size + length

    def rows(self, kind: int, prefix: bytes, arrays: list[np.ndarray], with_first: bool = False) -> None:
        """A row record of aligned `arrays` (same length), split to fit the chunks:
        each piece's header is `prefix`, then (`with_first`) its first row as u32,
        then its number of rows as u32."""
        total = len(arrays[0])
        if not total:
            return
        row_bytes = sum(a[:1].nbytes for a in arrays)

        def header(first: int, n: int) -> bytes:
            return prefix + (struct.pack("<II", first, n) if with_first else struct.pack("<I", n))

        head = len(header(0, 0))
        first = 0
        while first < total:
            n = min(total - first, (self.limit - self.size - _RECORD.size - head) // row_bytes)
            if n < 1:
                if self.size == _PART_HEAD:
                    raise ValueError(f"a part of {self.limit} bytes cannot hold one row")
                self._flush()
                continue
            self.record(kind, header(first, n),
                        *[np.ascontiguousarray(a[first:first + n]).tobytes() for a in arrays])
            first += n

    def finish(self) -> int:
        self._flush()
        return self.count


class _PartReader:
    def __init__(self, cls: type[AnnIndex], sizing: Sizing | None) -> None:
        self.cls, self.sizing = cls, sizing
        self.index: AnnIndex | None = None
        self.pending: dict[int, tuple[tuple[Any, ...], np.ndarray]] = {}
        self.shards: dict[int, _Shard] = {}
        self.id_chunks: list[tuple[np.ndarray, int, np.ndarray]] = []
        self.journal: list[tuple[str, int, np.ndarray, np.ndarray, np.ndarray]] = []
        self.expected_shards = -1
        self.entries = 0
        self.ended = False

    def part(self, number: int, data: memoryview) -> None:
        if bytes(data[:len(_MAGIC)]) != _MAGIC:
            raise ValueError(f"chunk {number} is not an image-index chunk of format {FORMAT_VERSION}")
        (stored,) = struct.unpack_from("<I", data, len(_MAGIC))
        if stored != number:
            raise ValueError(f"chunk {number} is chunk {stored}: chunks missing or out of order")
        if self.ended:
            raise ValueError("chunks after the end of the index")
        offset = _PART_HEAD
        while offset < len(data):
            if offset + _RECORD.size > len(data):
                raise ValueError(f"chunk {number} is truncated")
            kind, length = _RECORD.unpack_from(data, offset)
            offset += _RECORD.size
            if offset + length > len(data):
                raise ValueError(f"chunk {number} is truncated")
            self.record(kind, data[offset:offset + length])
            offset += length

    def record(self, kind: int, p: memoryview) -> None:
        if kind == _INDEX:
            version, dim, shards = struct.unpack_from("<IIQ", p)
            if version != FORMAT_VERSION:
                raise ValueError(f"image index format {version}, this code reads {FORMAT_VERSION}")
            self.index = self.cls(dim, self.sizing)
            self.expected_shards = shards
            return
        index = self.index
        if index is None:
            raise ValueError("image index chunks do not start with the index header")
        dim = index.dim
        if kind == _SHARD:
            fields = struct.unpack_from("<qBIqddqd", p)
            org, exact, nlist = fields[0], fields[1], fields[2]
            self.pending[org] = (fields, np.zeros((0 if exact else nlist, dim), np.float32))
        elif kind == _CENTROIDS:
            org, first, n = struct.unpack_from("<qII", p)
            head = struct.calcsize("<qII")
            self.pending[org][1][first:first + n] = np.frombuffer(p, np.float32, n * dim, head).reshape(n, dim)
        elif kind == _ENTRIES:
            org, list_no, n = struct.unpack_from("<qII", p)
            head = struct.calcsize("<qII")
            shard = self._shard(org)
            ids = np.frombuffer(p, np.int64, n, head)
            prods = np.frombuffer(p, np.int64, n, head + 8 * n)
            codes = np.frombuffer(p, np.uint8, n * shard.code_size, head + 16 * n)
            shard.fill(list_no, np.ascontiguousarray(ids), np.ascontiguousarray(codes))
            self.id_chunks.append((ids.copy(), org, prods.copy()))
            self.entries += n
        elif kind == _JOURNAL_ADD:
            org, n = struct.unpack_from("<qI", p)
            head = struct.calcsize("<qI")
            ids = np.frombuffer(p, np.int64, n, head).copy()
            prods = np.frombuffer(p, np.int64, n, head + 8 * n).copy()
            x16 = np.frombuffer(p, np.float16, n * dim, head + 16 * n).reshape(n, dim).copy()
            self.journal.append(("add", org, ids, prods, x16))
        elif kind == _JOURNAL_REMOVE:
            (n,) = struct.unpack_from("<I", p)
            ids = np.frombuffer(p, np.int64, n, 4).copy()
            self.journal.append(("remove", 0, ids, _EMPTY_I64, _EMPTY_F16))
        elif kind == _END:
            shards, entries = struct.unpack_from("<QQ", p)
            if shards != self.expected_shards or entries != self.entries:
                raise ValueError("image index chunks are incomplete")
            self.ended = True
        else:
            raise ValueError(f"unknown image-index record {kind}")

    def _shard(self, org: int) -> _Shard:
        shard = self.shards.get(org)
        if shard is None:
            assert self.index is not None
            fields, centroids = self.pending.pop(org)
            _, exact, nlist, trained, error, added_error, added_since, imbalance = fields
            state = None if exact else TrainingState(org, centroids, trained, error)
            shard = _Shard(org, self.index.dim, self.index.sizing, state, bulk=True)
            shard.added_error, shard.added_since = added_error, added_since
            shard.base_imbalance = imbalance
            self.shards[org] = shard
        return shard

    def finish(self) -> AnnIndex:
        if not self.ended or self.index is None:
            raise ValueError("image index chunks are incomplete: no end record")
        index = self.index
        for org in list(self.pending):
            self._shard(org)  # shards whose lists were all empty
        for shard in self.shards.values():
            imbalance = shard.base_imbalance
            shard.finish_fill()
            shard.base_imbalance = imbalance
        index._shards = self.shards
        if self.id_chunks:
            ids = np.concatenate([c[0] for c in self.id_chunks])
            orgs = np.concatenate([np.full(len(c[0]), c[1], np.int64) for c in self.id_chunks])
            prods = np.concatenate([c[2] for c in self.id_chunks])
            index._ids = _IdMap.from_arrays(ids, orgs, prods)
        for kind, org, ids, prods, x16 in self.journal:
            if kind == "add":
                index.add(ids, np.full(len(ids), org, np.int64), prods, x16)
            else:
                index.remove(ids)
        return index
