"""The in-memory caches a `Database` keeps of what it holds.

`JsonCache`: products as JSON text, keyed by (id, updated_at[, locale]), so lists and
reads skip building objects that have not changed (SQLite builds them:
`store.products.read.PRODUCT_JSON`). The key holds because every change to what a
product shows moves its `updated_at`: its own row, its stock, variants, media,
translations and categories, and a change to the brand, supplier or VAT rate it shows
(see `store.reference`), which an incremental sync (`updated_since`) must see anyway.
An entry written from an older snapshot by a query thread is therefore never found
again. Whatever else the product object comes to show must keep that rule. A localized
read (`?locale=de-AT`) is a different text of the same product: its key is (id,
updated_at, locale).

`ExpiringCache`: answers that may be reused for a few seconds (API key checks).

`SnapshotCache`: answers computed from one snapshot of the whole file (category subtree
counts), reused while nothing has committed since. Its key is the reading connection's
`PRAGMA data_version`, which moves whenever any other connection (the writer thread,
another process) commits, and the `Database`'s own count of write transactions, which
covers commits made on the reading connection itself (a script's or a test's thread).

`Throttle`: says when something done often is due again (recording a key's use once
a minute rather than on every request).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Generic, Hashable, TypeVar

CacheKey = tuple[int, str] | tuple[int, str, str]  # (id, updated_at[, locale])
Value = TypeVar("Value")


class JsonCache:
    """A bounded map from (id, updated_at[, locale]) to JSON text; emptied whole when full."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self._entries: dict[CacheKey, str] = {}
        self._lock = threading.Lock()  # the query threads share it with the event loop

    def get(self, key: CacheKey) -> str | None:
        return self._entries.get(key)

    def put(self, key: CacheKey, text: str) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = text

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class ExpiringCache(Generic[Value]):
    """A bounded map whose entries expire `seconds` after they were put; emptied whole
    when full. The clock is injectable for tests."""

    def __init__(self, seconds: float, max_entries: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[Hashable, tuple[Value, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Value | None:
        found = self._entries.get(key)
        if found is None or found[1] <= self.clock():
            return None
        return found[0]

    def put(self, key: Hashable, value: Value) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (value, self.clock() + self.seconds)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class SnapshotCache(Generic[Value]):
    """Per connection and key, one value and the snapshot it was computed at: a
    `(data_version, commits)` pair that only means something on the connection that
    read it, so an entry holds its connection and answers only to it."""

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._entries: dict[tuple[int, Hashable], tuple[Any, Hashable, Value]] = {}
        self._lock = threading.Lock()

    def get(self, conn: Any, key: Hashable, snapshot: Hashable) -> Value | None:
        entry = self._entries.get((id(conn), key))
        if entry is None or entry[0] is not conn or entry[1] != snapshot:
            return None
        return entry[2]

    def put(self, conn: Any, key: Hashable, snapshot: Hashable, value: Value) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            # The connection itself is kept, so its id cannot be reused by a new one.
            self._entries[(id(conn), key)] = (conn, snapshot, value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class Throttle:
    """Says yes to each key at most once per `seconds`; bounded, emptied whole when full
    (then each key is due once more, which is harmless). The clock is injectable."""

    def __init__(self, seconds: float, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self.clock = clock
        self._last: dict[Hashable, float] = {}
        self._lock = threading.Lock()

    def due(self, key: Hashable) -> bool:
        """True, and remembered, when `key` was last due `seconds` ago or never."""
        now = self.clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.seconds:
                return False
            if len(self._last) >= self.max_entries:
                self._last.clear()
            self._last[key] = now
            return True
