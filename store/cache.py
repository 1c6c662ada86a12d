"""Products as JSON text, kept by (id, updated_at), so lists and reads skip building
objects that have not changed (SQLite builds them: `store.products.PRODUCT_JSON`).

The key holds because every change to what a product shows moves its
`updated_at`: its own row, its stock and categories, and also a change to the brand,
supplier or VAT rate it shows (see `ReferenceStore.update`), which an incremental sync
(`updated_since`) must see anyway. An entry written from an older snapshot by a query
thread is therefore never found again. Whatever else the product object comes to show
(category names, images, translations) must keep that rule.

A localized read (`?locale=de-AT`) is a different text of the same product: its key
is (id, updated_at, locale), and writing or deleting a translation moves the
product's `updated_at` like any other change.
"""

from __future__ import annotations

import threading

CacheKey = tuple[int, str] | tuple[int, str, str]  # (id, updated_at[, locale])


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


product_json = JsonCache()
