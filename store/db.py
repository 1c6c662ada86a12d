"""The one SQLite database: connection setup, sqlite-vec loading and migrations.

peewee picks `pysqlite3.dbapi2` when `pysqlite3-binary` is installed; that build can
load extensions, which the system `sqlite3` module of this Python cannot. Every
connection (one per thread) gets the same pragmas and sqlite-vec.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any, Callable

import peewee
import sqlite_vec

from store import migrations
from store.cache import product_json

log = logging.getLogger("micropim.store")

BUSY_TIMEOUT_MS = 5000
# The event loop's own connection waits at most this long for another connection's
# write lock (a long write on the query threads, another process): past it the request
# answers 503 with Retry-After instead of every client waiting behind the stalled loop.
LOOP_BUSY_TIMEOUT_MS = 300

# Tests count the statements a request runs: with TRACE set before connections open,
# every statement (not the trigger markers) goes to each listener.
TRACE = False
statement_listeners: list[Callable[[str], None]] = []


def _trace(sql: str) -> None:
    if not sql.startswith("--"):
        for listener in list(statement_listeners):
            listener(sql)


# The DB-API driver peewee picked: pysqlite3 when installed, which can load extensions.
sqlite3 = peewee.sqlite3  # type: ignore[attr-defined]


class MicroPIMDatabase(peewee.SqliteDatabase):
    """SqliteDatabase with WAL, foreign keys, a busy timeout and sqlite-vec loaded."""

    def _connect(self) -> Any:
        conn = super()._connect()  # type: ignore[misc]
        conn.enable_load_extension(True)
        try:
            sqlite_vec.load(conn)
        finally:
            conn.enable_load_extension(False)
        if TRACE:
            conn.set_trace_callback(_trace)
        if threading.get_ident() == _loop_thread:
            conn.execute(f"PRAGMA busy_timeout = {LOOP_BUSY_TIMEOUT_MS}")
        return conn


_loop_thread: int | None = None


def wait_briefly_on_this_thread() -> None:
    """Give this thread's connection (the event loop's) the short busy timeout."""
    global _loop_thread
    _loop_thread = threading.get_ident()
    if not db.is_closed():
        db.execute_sql(f"PRAGMA busy_timeout = {LOOP_BUSY_TIMEOUT_MS}")


def is_busy(exc: BaseException | None) -> bool:
    """True for SQLite's "database is locked": the write lock was not free in time."""
    return isinstance(exc, peewee.OperationalError) and "locked" in str(exc)


# Models bind to this; `open_database()` points it at a file.
db = MicroPIMDatabase(
    None,
    pragmas={
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": BUSY_TIMEOUT_MS,
        "synchronous": "full",
        "cache_size": -32000,
        "temp_store": "memory",
        # Pages read through a memory map rather than copied into the page cache: the
        # image index's code scan takes 20 ms instead of 28 at 100k images.
        "mmap_size": 1 << 30,
    },
    # Connections are per thread; peewee's autoconnect opens them on first use.
    thread_safe=True,
)


def open_database(path: str) -> MicroPIMDatabase:
    """Point the shared database at `path`, creating and migrating it as needed."""
    from store import orgs  # it builds on this module

    global _loop_thread
    if not db.is_closed():
        db.close()
    _loop_thread = None  # until make_app() names the event loop's thread again
    db.init(path)
    product_json.clear()  # ids and timestamps of another file mean other products
    orgs.forget_keys()
    db.connect()
    migrations.migrate(db)
    return db


def writing() -> Any:
    """A write transaction that takes the write lock at BEGIN.

    A deferred transaction that reads first and writes later fails with SQLITE_BUSY,
    without waiting, when another connection (another process, say `create-key`)
    committed in between; taking the lock up front makes it wait its turn instead.
    """
    return db.atomic("IMMEDIATE")


def close_database() -> None:
    if not db.is_closed():
        db.close()


def utcnow() -> str:
    """The current time as the API shows it: UTC ISO 8601 with microseconds."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def vec_version() -> str:
    return str(db.execute_sql("SELECT vec_version()").fetchone()[0])
