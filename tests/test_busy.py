"""A write lock held elsewhere (a long write on the query threads, another process)
answers 503 with Retry-After after a short wait, instead of stalling the event loop
for the full busy timeout and then failing with a 500."""

from __future__ import annotations

import time
from typing import Any

from store.db import LOOP_BUSY_TIMEOUT_MS, sqlite3


async def test_a_held_write_lock_is_a_503_with_retry_after(api: Any, db_path: str) -> None:
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        started = time.monotonic()
        response = await api.post("/api/products", {"name": "Waiting", "sku": "WAIT-1"})
        waited = time.monotonic() - started
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert response.code == 503, response.body
    assert response.error == "the database is busy with another write; retry in a moment"
    assert response.headers["Retry-After"] == "1"
    assert LOOP_BUSY_TIMEOUT_MS / 1000 <= waited < 3, waited  # not the 5 s busy timeout
    # Nothing was written, and once the lock is free the same request goes through.
    assert (await api.get("/api/products")).data["pagination"]["total_items"] == 0
    assert (await api.post("/api/products", {"name": "Waiting", "sku": "WAIT-1"})).code == 201
