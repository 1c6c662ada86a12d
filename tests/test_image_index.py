"""The in-process photo index as the server uses it: recall against exact search,
retraining while searches run, following what other processes write, a restart and a
backup copy, and similar products and near-duplicates over HTTP."""

from __future__ import annotations

import io
import threading
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageOps

from search.ann import Sizing
from search.demo import photos
from search.pipeline import NEAR_DUPLICATE
from search.vectors import ImageIndex, add_embeddings, index_model
from store.backup import backup
from store.db import Database, open_database
from tests.factories import draw, store_product, upload

DIGEST = "test-model"
DIM = 96


def clustered(n: int, seed: int, dim: int = DIM) -> np.ndarray:
    """Unit vectors in families, like a catalogue's photos: non-negative mixes of a few
    bases, so many neighbours are close (the hard part for an approximate index)."""
    rng = np.random.default_rng(seed)
    bases = np.abs(rng.normal(size=(40, dim))).astype(np.float32)
    family = rng.integers(0, 40, n)
    x = bases[family] + 0.35 * np.abs(rng.normal(size=(n, dim))).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def fill(db: Database, org_id: int, vectors: np.ndarray, first_media: int = 1) -> list[int]:
    """One product per vector; answers the product ids."""
    with db.writing():
        numbers = range(first_media, first_media + len(vectors))
        db.connection().executemany(
            "INSERT INTO product (org_id, sku, slug, name, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, 't', 't')",
            [(org_id, f"P{n}", f"p-{n}", f"P{n}") for n in numbers])
        ids = [row[0] for row in db.execute_sql(
            "SELECT id FROM product WHERE org_id = ? AND sku >= 'P' ORDER BY id DESC LIMIT ?",
            (org_id, len(vectors)))][::-1]
        add_embeddings(db, org_id, [(pid, first_media + i, v) for i, (pid, v) in enumerate(zip(ids, vectors))],
                       DIGEST)
    return ids


def exact_top(data: np.ndarray, ids: list[int], q: np.ndarray, k: int = 10) -> list[int]:
    scores = data.astype(np.float16).astype(np.float32) @ q
    return [ids[i] for i in np.argsort(-scores, kind="stable")[:k]]


def test_recall_at_10_against_exact_search_on_a_trained_index(db: Database, org_id: int) -> None:
    data = clustered(12_000, seed=7)
    ids = fill(db, org_id, data)
    # Small thresholds, so that 12k vectors make an IVF index as 100k would.
    index = ImageIndex(db, Sizing(exact_max=2_000, exact_min=500, nlist_min=16))
    index.sync()
    assert index.retraining() is not None  # loaded exhaustive, then trained in the background
    index.retraining().join()  # type: ignore[union-attr]
    assert db.execute_sql("SELECT count(*) FROM image_index_state").fetchone()[0] == 1
    rng = np.random.default_rng(3)
    hits = 0
    for q_row in rng.choice(len(data), 100, replace=False):
        q = data[q_row] + 0.05 * np.abs(rng.normal(size=DIM)).astype(np.float32)
        q /= np.linalg.norm(q)
        found = [pid for pid, _ in index.search_products(org_id, q, 10, DIGEST)]
        hits += len(set(found) & set(exact_top(data, ids, q)))
    # The SimHash index this replaced found 0.86-0.94 of these.
    assert hits / 1000 >= 0.99


def test_searches_go_on_while_an_organization_is_retrained(db: Database, org_id: int) -> None:
    data = clustered(6_000, seed=11)
    ids = fill(db, org_id, data)
    index = ImageIndex(db, Sizing(exact_max=2_000, exact_min=500, nlist_min=16))
    index.sync()
    retrain = index.retraining()
    assert retrain is not None
    errors: list[str] = []

    def search_until_done() -> None:
        for i in range(2000):
            if not retrain.is_alive() and i > 20:
                return
            found = index.search_products(org_id, data[i % len(data)], 1, DIGEST)
            if found[0][0] != ids[i % len(data)]:
                errors.append(f"query {i}: {found}")

    searchers = [threading.Thread(target=search_until_done) for _ in range(2)]
    for thread in searchers:
        thread.start()
    for thread in searchers:
        thread.join()
    retrain.join()
    assert errors == []
    assert index.stats()["organizations"][org_id]["nlist"] > 8  # trained: not the exhaustive 8 lists


def test_an_organization_shrunk_back_to_exact_search_forgets_its_cells(db: Database, org_id: int) -> None:
    fill(db, org_id, clustered(3_000, seed=5))
    sizing = Sizing(exact_max=2_000, exact_min=1_500, nlist_min=16)
    index = ImageIndex(db, sizing)
    index.sync()
    index.retraining().join()  # type: ignore[union-attr]
    assert db.execute_sql("SELECT count(*) FROM image_index_state").fetchone()[0] == 1
    db.execute_sql("DELETE FROM image_embedding WHERE media_id > 1000")
    index.sync()
    index.retraining().join()  # type: ignore[union-attr]
    assert index.stats()["organizations"][org_id]["exact"]
    assert db.execute_sql("SELECT count(*) FROM image_index_state").fetchone()[0] == 0
    again = ImageIndex(db, sizing)  # the next start: exact, with nothing to retrain
    again.sync()
    assert again.stats()["organizations"][org_id]["exact"] and again.retraining() is None


def test_the_index_follows_what_another_process_writes(db: Database, org_id: int, db_path: str) -> None:
    index = ImageIndex(db)
    first = fill(db, org_id, clustered(50, seed=1))
    assert index.search_products(org_id, clustered(50, seed=1)[7], 1, DIGEST)[0][0] == first[7]
    other = open_database(db_path)  # another process's connection (a CLI import, a reindex)
    try:
        later = fill(other, org_id, clustered(5, seed=2), first_media=1000)
        with other.writing():
            other.execute_sql("DELETE FROM image_embedding WHERE media_id = 8")
    finally:
        other.close()
    assert index.search_products(org_id, clustered(5, seed=2)[3], 1, DIGEST)[0][0] == later[3]
    found = [pid for pid, _ in index.search_products(org_id, clustered(50, seed=1)[7], 3, DIGEST)]
    assert first[7] not in found  # its image is gone


def test_a_new_start_and_a_backup_copy_search_the_same(db: Database, org_id: int, tmp_path: Any) -> None:
    data = clustered(3_000, seed=5)
    fill(db, org_id, data)
    sizing = Sizing(exact_max=1_000, exact_min=300, nlist_min=16)
    index = ImageIndex(db, sizing)
    index.sync()
    index.retraining().join()  # type: ignore[union-attr]
    queries = clustered(20, seed=9)
    before = [index.search_products(org_id, q, 10, DIGEST) for q in queries]
    again = ImageIndex(db, sizing)  # a restart: the stored cells, no k-means
    assert [again.search_products(org_id, q, 10, DIGEST) for q in queries] == before
    assert again.retraining() is None
    copy = str(tmp_path / "copy.db")
    backup(db, copy)
    restored = open_database(copy)
    try:
        assert index_model(restored) == (DIM, DIGEST)
        assert [ImageIndex(restored, sizing).search_products(org_id, q, 10, DIGEST) for q in queries] == before
    finally:
        restored.close()


def test_another_organizations_images_are_never_found(db: Database, org_id: int, other_org_id: int) -> None:
    data = clustered(40, seed=4)
    mine = fill(db, org_id, data[:20])
    theirs = fill(db, other_org_id, data, first_media=100)  # their copies of my images, and more
    index = ImageIndex(db)
    for q in data[:20]:
        assert {pid for pid, _ in index.search_products(org_id, q, 10, DIGEST)} <= set(mine)
        assert {pid for pid, _ in index.search_products(other_org_id, q, 10, DIGEST)} <= set(theirs)
    assert {pid for pid, _ in index.similar(org_id, mine[0], 10)} <= set(mine) - {mine[0]}


# ---- over HTTP -------------------------------------------------------------------------------

async def test_similar_products_look_alike_and_leave_out_the_product_and_archived_ones(
        api: Any, db: Database, org_id: int) -> None:
    ids = [store_product(db, org_id, f"Lamp {n}", f"L-{n}", status="active") for n in range(4)]
    for n, product_id in enumerate(ids):
        assert (await upload(api, product_id, draw(50 + (n % 2)))).code == 201  # two looks, twice each
    found = await api.get(f"/api/products/{ids[0]}/similar?limit=3")
    assert found.code == 200, found.body
    ranked = [p["id"] for p in found.data["products"]]
    assert ids[0] not in ranked and ranked[0] == ids[2]  # the other with the same photo first
    assert found.data["products"][0]["score"] == pytest.approx(1.0, abs=0.001)
    assert await api.delete(f"/api/products/{ids[2]}")
    ranked = [p["id"] for p in (await api.get(f"/api/products/{ids[0]}/similar")).data["products"]]
    assert ids[2] not in ranked and set(ranked) == {ids[1], ids[3]}
    bare = store_product(db, org_id, "No photo", "NP-1")
    assert (await api.get(f"/api/products/{bare}/similar")).data == {"products": [], "total": 0}
    bad = await api.get(f"/api/products/{ids[0]}/similar?limit=51")
    assert bad.code == 400 and bad.error == "limit: must be between 1 and 50"


def padded_copy(image: Image.Image) -> bytes:
    """The same photo as another shop would send it: on a white margin, re-encoded."""
    out = io.BytesIO()
    ImageOps.expand(image, border=image.width // 10, fill="white").save(out, "JPEG", quality=90)
    return out.getvalue()


async def test_adding_a_near_identical_image_names_the_other_product(
        api: Any, other_api: Any, db: Database, org_id: int, other_org_id: int) -> None:
    photo = photos.product_photo("Mug", "Navy", 5)
    first = store_product(db, org_id, "Mug", "MUG-1")
    twin = store_product(db, org_id, "Mug again", "MUG-2")
    theirs = store_product(db, other_org_id, "Their mug", "THEIR-1")
    assert (await upload(other_api, theirs, photo)).data["near_duplicates"] == []
    added = await upload(api, first, photo)
    assert added.code == 201 and added.data["near_duplicates"] == []  # theirs is not seen
    again = await upload(api, first, photo)
    assert again.data["near_duplicates"] == []  # its own product does not count
    boots = await upload(api, twin, photos.product_photo("Boots", "Red", 9))
    assert boots.data["near_duplicates"] == []
    copy = await upload(api, twin, padded_copy(photos.draw_product("Mug", "Navy", 5)))
    duplicates = copy.data["near_duplicates"]
    assert [p["id"] for p in duplicates] == [first] and duplicates[0]["score"] >= NEAR_DUPLICATE
    assert duplicates[0]["sku"] == "MUG-1"
