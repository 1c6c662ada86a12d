"""A write lock held elsewhere (a long write on the query threads, another process)
answers 503 with Retry-After after a short wait, instead of stalling the event loop
for the full busy timeout and then failing with a 500."""

from __future__ import annotations

import time
from typing import Any

from store.db import LOCK_WAIT_MS, Database, sqlite3


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
    assert LOCK_WAIT_MS / 1000 <= waited < 3, waited  # not the 5 s busy timeout
    # Nothing was written, and once the lock is free the same request goes through.
    assert (await api.get("/api/products")).data["pagination"]["total_items"] == 0
    assert (await api.post("/api/products", {"name": "Waiting", "sku": "WAIT-1"})).code == 201


async def test_a_slow_write_waiting_for_the_lock_does_not_hold_up_reads(api: Any, db_path: str) -> None:
    """Long writes wait on their own thread: searches and filtered lists (the query
    pool) keep answering meanwhile, and the write goes through once the lock is free."""
    import asyncio

    category = (await api.post("/api/categories", {"name": "Mugs"})).data["id"]
    assert (await api.post("/api/products", {"name": "Blue Mug", "sku": "MUG-1"})).code == 201
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        renames = [asyncio.ensure_future(api.put(f"/api/categories/{category}", {"name": f"Cups {n}"}))
                   for n in range(3)]
        await asyncio.sleep(0.2)  # the renames are waiting for the lock
        started = time.monotonic()
        found = await api.get("/api/products?search=mug")
        assert found.code == 200 and found.data["pagination"]["total_items"] == 1
        assert time.monotonic() - started < 1.5
        assert not any(rename.done() for rename in renames)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert [(await rename).code for rename in renames] == [200, 200, 200]


async def test_a_thumbnail_is_served_at_once_and_kept_once_the_lock_is_free(
        db: Database, api: Any, anon: Any, db_path: str) -> None:
    import asyncio

    from tests.factories import draw, local_path, upload

    product = (await api.post("/api/products", {"name": "Lamp", "sku": "LAMP-1"})).data["id"]
    item = (await upload(api, product, draw(3))).data
    path = local_path(item["url"]) + "?w=160"
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        served = await anon.client.fetch(path, raise_error=False)
        assert time.monotonic() - started < 1.5  # not waiting for the lock
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert served.code == 200 and served.headers["Content-Type"] == "image/webp"
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"

    def kept() -> int:
        return int(db.execute_sql("SELECT count(*) FROM media_file WHERE kind = 'w160'").fetchone()[0])

    for _ in range(50):  # the writer thread keeps it once the lock is free
        if kept():
            break
        await asyncio.sleep(0.1)
    assert kept() == 1
    again = await anon.client.fetch(path, headers={"If-None-Match": served.headers["ETag"]}, raise_error=False)
    assert again.code == 304
    assert (await anon.client.fetch(path)).body == served.body
