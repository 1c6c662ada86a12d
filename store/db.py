"""The SQLite database: connections, the threads that use them, SQL functions, caches.

`Database` is the store's one handle. Every store function takes it as its first
argument and runs its SQL through it; nothing in the store reaches a database any
other way, so two databases (two applications, a test's and a benchmark's) can live in
one process.

Threads. A handler never picks a thread; it says what it does:

- `await db.read(fn, *args)`: `fn(db, *args)` on the query pool (a search, a filtered
  list, a tree), so a slow read never stalls the event loop;
- `db.quick(fn, *args)`: a read that an index answers in well under a millisecond
  (a product by id, a key check, a cached page), run at once on the calling thread,
  because handing it to a pool costs more than the read;
- `await db.write(fn, *args)`: `fn(db, *args)` on the one writer thread, inside a
  transaction that takes SQLite's write lock at `BEGIN IMMEDIATE`. An ordinary write
  waits at most `lock_wait_ms` for a lock another connection holds, then fails with
  "database is locked" (the API answers 503 and Retry-After); a write declared
  `long=True` (one that touches many rows) waits up to the busy timeout.
- `with db.writing():` the same transaction on the calling thread, for the command
  line, the demo seeder, scripts and tests.

Every write goes through `_write_transaction()`, the one place where work common to
every write transaction belongs.

peewee picks `pysqlite3.dbapi2` when `pysqlite3-binary` is installed; that build can
load extensions, which the system `sqlite3` module of this Python cannot. Every
connection (one per thread) gets the same pragmas, sqlite-vec and our SQL functions.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import threading
import time
from typing import Any, Callable, Iterator, TypeVar

import peewee
import sqlite_vec

from store import events, migrations
from store.cache import ExpiringCache, JsonCache, SnapshotCache, Throttle
from store.urls import MediaUrls

log = logging.getLogger("micropim.store")
BUSY_TIMEOUT_MS = 5000
#: How long an ordinary write (and a quick read) waits for a lock held elsewhere before
#: giving up: past it the request answers 503 with Retry-After instead of every client
#: waiting behind it.
LOCK_WAIT_MS = 300
KEY_CACHE_SECONDS = 5.0
KEY_CACHE_MAX = 10_000
KEY_USE_SECONDS = 60.0  # a key's last use is written at most this often
#: Prepared statements each connection keeps (pysqlite3's default is 100). Its cache
#: evicts the newest entry when full and ranks entries by use, so once full, a set of
#: statements met for the first time never gets in: each evicts the one before it and
#: every execution prepares its statement again (4x the cost of the statements of a
#: bulk import line; see the README's "Measured facts"). So a connection is opened
#: afresh, outside any transaction, once it has run RENEW_AFTER distinct statements.
STATEMENT_CACHE = 256
RENEW_AFTER = STATEMENT_CACHE - 64  # room for the statements run by other means than execute_sql

# The DB-API driver peewee picked: pysqlite3 when installed, which can load extensions.
sqlite3 = peewee.sqlite3  # type: ignore[attr-defined]
Result = TypeVar("Result")

PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": BUSY_TIMEOUT_MS,
    "synchronous": "full",
    "cache_size": -32000,
    "temp_store": "memory",
    # No memory map: every page read through one stays in the server's resident memory
    # (an export of 100k products peaked at 0.5 GB RSS, the image index's load at 1.2 GB),
    # for reads barely faster (README, "Measured facts"; bench/bulk.py, bench/imagesearch.py).
    "mmap_size": 0,
}


def is_busy(exc: BaseException | None) -> bool:
    """True for SQLite's "database is locked": the write lock was not free in time."""
    return isinstance(exc, peewee.OperationalError) and "locked" in str(exc)


class Database(peewee.SqliteDatabase):
    """One SQLite file: WAL, foreign keys, a busy timeout, sqlite-vec, the `media_url()`
    SQL function, the query pool and the writer thread, and the caches of its rows.

    `urls` is where media are served; product JSON, which SQLite builds, shows their
    absolute URLs through `media_url(token)`. `product_json`, `keys` and
    `category_totals` are caches of this file's rows (see `store.cache`); `commits`
    counts the write transactions this object has run (`snapshot()`); `key_uses` says
    when a key's use is due to be written again, by `clock` (monotonic seconds)."""

    def __init__(self, path: str, *, urls: MediaUrls | None = None, query_threads: int = 2,
                 lock_wait_ms: int = LOCK_WAIT_MS, clock: Callable[[], float] = time.monotonic) -> None:
        # Connections are per thread; peewee's autoconnect opens them on first use.
        super().__init__(path, pragmas=PRAGMAS, thread_safe=True, cached_statements=STATEMENT_CACHE)
        self.urls = urls or MediaUrls()
        self.lock_wait_ms = lock_wait_ms
        self.query_threads = query_threads
        self.product_json = JsonCache()
        self.keys: ExpiringCache[Any] = ExpiringCache(KEY_CACHE_SECONDS, KEY_CACHE_MAX)
        self.category_totals: SnapshotCache[dict[int, int]] = SnapshotCache()
        self.commits = 0
        self.key_uses = Throttle(KEY_USE_SECONDS, KEY_CACHE_MAX, clock)
        self._listeners: list[Callable[[str], None]] = []
        #: Called on the committing thread after a transaction that wrote events commits,
        #: with the ids of the organizations they belong to (the webhook deliveries wait on it).
        self.event_listeners: list[Callable[[set[int]], None]] = []
        self._changes = threading.local()  # the open write transaction's `changed()` calls
        self._busy_timeout = threading.local()  # this thread's connection's, when changed
        self._statements = threading.local()  # the distinct SQL this thread's connection has run
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._writer: concurrent.futures.ThreadPoolExecutor | None = None
        self._threads_lock = threading.Lock()
        self.register_function(self.urls.rendition, "media_url", 1, deterministic=True)

    def _connect(self) -> Any:
        conn = super()._connect()  # type: ignore[misc]
        conn.enable_load_extension(True)
        try:
            sqlite_vec.load(conn)
        finally:
            conn.enable_load_extension(False)
        conn.set_trace_callback(self._trace)
        self._statements.seen = set()
        return conn

    def _close(self, conn: Any) -> None:
        self._busy_timeout.__dict__.clear()
        super()._close(conn)  # type: ignore[misc]

    def execute_sql(self, sql: str, params: Any = None) -> Any:
        seen = getattr(self._statements, "seen", None)
        if seen is not None:
            seen.add(sql)
        return super().execute_sql(sql, params)

    def renew_if_full(self) -> bool:
        """Open this thread's connection afresh when its statement cache may be full
        (see STATEMENT_CACHE), unless a transaction is open; answers whether it did."""
        seen = getattr(self._statements, "seen", None)
        if seen is None or len(seen) <= RENEW_AFTER or self.is_closed() or self.in_transaction():
            return False
        return self._renew()

    def _renew(self) -> bool:
        if self.database == ":memory:" or "mode=memory" in str(self.database):
            return False  # a new connection would be a new, empty database
        peewee.SqliteDatabase.close(self)  # this thread's connection only
        self.connect()
        return True

    # ---- threads -------------------------------------------------------------------

    def _executor(self, write: bool) -> concurrent.futures.ThreadPoolExecutor:
        with self._threads_lock:
            if write:
                if self._writer is None:
                    self._writer = concurrent.futures.ThreadPoolExecutor(
                        1, thread_name_prefix="micropim-write")
                return self._writer
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    self.query_threads, thread_name_prefix="micropim-query")
            return self._pool

    async def read(self, fn: Callable[..., Result], *args: Any, quick: bool = False) -> Result:
        """`fn(self, *args)` on the query pool (at once on this thread when `quick`)."""
        if quick:
            return self.quick(fn, *args)
        return await asyncio.get_running_loop().run_in_executor(self._executor(False), self._read_now, fn, args)

    def _read_now(self, fn: Callable[..., Result], args: tuple[Any, ...]) -> Result:
        self.renew_if_full()
        return fn(self, *args)

    def quick(self, fn: Callable[..., Result], *args: Any) -> Result:
        """`fn(self, *args)` now, on this thread: for reads an index answers in well
        under a millisecond. This thread's connection waits for a lock held elsewhere
        no longer than an ordinary write does."""
        self.renew_if_full()
        self._wait_for_lock(self.lock_wait_ms)
        return fn(self, *args)

    async def write(self, fn: Callable[..., Result], *args: Any, long: bool = False) -> Result:
        """`fn(self, *args)` on the writer thread in one write transaction."""
        wait = BUSY_TIMEOUT_MS if long else self.lock_wait_ms
        return await asyncio.get_running_loop().run_in_executor(
            self._executor(True), self._write_now, wait, fn, args)

    def submit_write(self, fn: Callable[..., Result], *args: Any,
                     long: bool = True) -> concurrent.futures.Future[Result]:
        """`write()` without waiting for it (a thumbnail kept in the background, a key's
        last use); `long=False` gives up on a lock held elsewhere as an ordinary write does."""
        wait = BUSY_TIMEOUT_MS if long else self.lock_wait_ms
        return self._executor(True).submit(self._write_now, wait, fn, args)

    def _write_now(self, wait_ms: int, fn: Callable[..., Result], args: tuple[Any, ...]) -> Result:
        self.renew_if_full()
        self._wait_for_lock(wait_ms)
        with self._write_transaction():
            return fn(self, *args)

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """A write transaction on this thread (command line, scripts, tests)."""
        self.renew_if_full()
        with self._write_transaction():
            yield

    @contextlib.contextmanager
    def _write_transaction(self) -> Iterator[None]:
        """Every write transaction, whichever thread runs it. It takes the write lock at
        BEGIN: a deferred transaction that reads first and writes later fails with
        SQLITE_BUSY, without waiting, when another connection (another process, say
        `create-key`) committed in between; taking the lock up front makes it wait its
        turn instead. Just before it commits, the events of what it `changed()` are
        written in it (`store.events.record`). Counted in `commits` once over
        (committed or not), for `snapshot()`."""
        changes: list[events.Change] = []
        self._changes.pending = changes
        orgs: set[int] = set()
        try:
            with self.atomic("IMMEDIATE"):
                yield
                if changes and events.record(self, changes):
                    orgs = {change.org_id for change in changes}
        finally:
            self._changes.pending = None
            self.commits += 1
        for listener in list(self.event_listeners) if orgs else ():
            try:
                listener(orgs)
            except Exception:  # committed: a listener's failure must not look like the write's
                log.exception("an event listener failed")

    def changed(self, org_id: int, event_type: str, object_id: int, *, product_id: int | None = None,
                data: Any = None, describe: events.Describe | None = None, key: str = "") -> None:
        """Say, inside a write transaction, that an object changed: its event is written
        when the transaction commits (`store.events`). `data` is the object as the API
        shows it (a delete's last state); without it, `describe(db, org_id, object_id,
        product_id)` builds it then, from the final state. `key` tells apart objects that
        share an id (a product's translations, by locale)."""
        pending = getattr(self._changes, "pending", None)
        if pending is None:
            raise RuntimeError(f"{event_type}: a change outside a write transaction has no event")
        pending.append(events.Change(org_id, event_type, object_id, product_id, data, describe, key))

    @contextlib.contextmanager
    def line_savepoint(self) -> Iterator[None]:
        """A savepoint inside the current write transaction: the block's writes, and the
        changes it said, are undone when it raises. Cheaper than a nested `atomic()` (one
        fixed name, so SQLite's prepared statements are reused; a bulk import opens one
        per line). The block's events are settled when it ends (`events.settle`): they
        show the objects as the block left them."""
        conn = self.connection()
        pending = getattr(self._changes, "pending", None)
        said = 0 if pending is None else len(pending)
        conn.execute("SAVEPOINT micropim_line")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK TO micropim_line")
            conn.execute("RELEASE micropim_line")
            if pending is not None:
                del pending[said:]
            raise
        conn.execute("RELEASE micropim_line")
        if pending is not None and len(pending) > said:
            pending[said:] = events.settle(self, pending[said:])

    def snapshot(self) -> tuple[int, int] | None:
        """What names the data this thread's connection sees, for `SnapshotCache`: its
        `PRAGMA data_version` (moved by other connections' commits) and `commits`
        (moved by this object's own, on any thread). None inside a transaction, whose
        own uncommitted changes no key would name. Taken before the reads whose answer
        is cached, so that a commit in between can only make the key older than the
        answer (costing a recomputation next time), never newer."""
        if self.in_transaction():
            return None
        commits = self.commits
        version = int(self.execute_sql("PRAGMA data_version").fetchone()[0])
        return version, commits

    def _wait_for_lock(self, ms: int) -> None:
        """Give this thread's connection a busy timeout of `ms`, when it has another."""
        if self.is_closed():
            self.connect()  # with the pragmas' busy timeout
            self._busy_timeout.ms = BUSY_TIMEOUT_MS
        if getattr(self._busy_timeout, "ms", BUSY_TIMEOUT_MS) != ms:
            self.execute_sql(f"PRAGMA busy_timeout = {int(ms)}")
            self._busy_timeout.ms = ms

    def close(self) -> bool:
        """Close this thread's connection and stop the pool and the writer (their
        connections close with their threads)."""
        with self._threads_lock:
            executors, self._pool, self._writer = [self._pool, self._writer], None, None
        for executor in executors:
            if executor is not None:
                executor.shutdown(wait=True)
        return bool(super().close())

    # ---- tracing ----------------------------------------------------------------------

    @contextlib.contextmanager
    def tracer(self, listener: Callable[[str], None]) -> Iterator[None]:
        """Hand every SQL statement any thread runs to `listener` while the block runs
        (not the markers of trigger bodies, which begin with `--`)."""
        self._listeners.append(listener)
        try:
            yield
        finally:
            self._listeners.remove(listener)

    def _trace(self, sql: str) -> None:
        if self._listeners and not sql.startswith("--"):
            for listener in list(self._listeners):
                listener(sql)


def create_private(path: str) -> None:
    """Create `path` as an empty file only its owner may read and write, unless a file
    is there already (its mode is the operator's choice then).

    SQLite would create the file with mode 0644 less the umask, so anyone on the machine
    could read the catalog and the API key hashes; it creates the WAL, the shared-memory
    index and journals with the database file's own mode, so they follow this one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def open_database(path: str, **options: Any) -> Database:
    """The database at `path`, created (mode 0600) and migrated as needed (see
    `Database` for the options)."""
    if path and path != ":memory:" and not path.startswith("file:"):
        try:
            create_private(path)
        except OSError:
            pass  # a missing folder or no permission: SQLite says so in its own words
    db = Database(path, **options)
    try:
        db.connect()
        migrations.migrate(db)
        db._renew()  # the migrations' statements would fill this connection's statement cache
    except BaseException:
        db.close()
        raise
    return db


def vec_version(db: Database) -> str:
    return str(db.execute_sql("SELECT vec_version()").fetchone()[0])
