"""The image-embedding index: add, replace, remove, search one entry per product,
archived products left out, organizations isolated, model changes detected.

Vectors here are synthetic unit vectors (the index does not care where they come
from); the digest is passed explicitly so no model is loaded.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from search import vectors
from search.vectors import ImageIndex, StaleIndex, add_embedding, remove_embedding
from store.db import Database
from store.products import write as products
from tests.factories import store_product

DIGEST = "test-model"
DIM = 64
_skus = itertools.count(1)


def product(db: Database, org_id: int) -> int:
    return store_product(db, org_id, "Thing", f"SKU-{next(_skus)}")


def unit(seed: int, dim: int = DIM) -> np.ndarray:
    """A vector like an image embedding: non-negative and sparse-ish, unit length."""
    v = np.maximum(np.random.default_rng(seed).normal(size=dim), 0).astype(np.float32)
    return v / np.linalg.norm(v)


def near(v: np.ndarray, seed: int, noise: float = 0.05) -> np.ndarray:
    w = v + noise * np.abs(np.random.default_rng(seed).normal(size=v.size)).astype(np.float32)
    return w / np.linalg.norm(w)


def add(db: Database, org_id: int, product_id: int, media_id: int, vector: np.ndarray) -> None:
    with db.writing():
        add_embedding(db, org_id, product_id, media_id, vector, digest=DIGEST)


_indexes: dict[int, ImageIndex] = {}


def index_of(db: Database) -> ImageIndex:
    """The in-memory index that follows this database (one per test's database)."""
    return _indexes.setdefault(id(db), ImageIndex(db))


def search_products(db: Database, org_id: int, vector: np.ndarray, limit: int,
                    digest: str) -> list[tuple[int, float]]:
    return index_of(db).search_products(org_id, vector, limit, digest)


def search(db: Database, org_id: int, vector: np.ndarray, limit: int = 10) -> list[tuple[int, float]]:
    return search_products(db, org_id, vector, limit, digest=DIGEST)


def indexed(db: Database) -> int:
    """How many images the in-memory index holds, once it has caught up with the file."""
    index = index_of(db)
    loaded = index.sync()
    return 0 if loaded is None else len(loaded.ann)


def rows(db: Database, table: str) -> int:
    return int(db.execute_sql(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_an_empty_index_finds_nothing(db: Database, org_id: int) -> None:
    assert vectors.index_model(db) is None
    assert search(db, org_id, unit(1)) == []


def test_search_finds_the_nearest_product_first_with_its_score(db: Database, org_id: int) -> None:
    ids = [product(db, org_id) for _ in range(20)]
    for media_id, product_id in enumerate(ids, start=100):
        add(db, org_id, product_id, media_id, unit(media_id))
    assert vectors.index_model(db) == (DIM, DIGEST)
    found = search(db, org_id, near(unit(107), 1), limit=5)
    assert len(found) == 5
    assert found[0][0] == ids[7]
    scores = [score for _, score in found]
    assert scores == sorted(scores, reverse=True)
    assert 0.9 < scores[0] <= 1.0 and all(-1.0 <= s <= 1.0 for s in scores)
    exact = search(db, org_id, unit(107), limit=1)
    assert exact == [(ids[7], pytest.approx(1.0, abs=0.005))]


def test_one_entry_per_product_scored_by_its_best_image(db: Database, org_id: int) -> None:
    many, other = product(db, org_id), product(db, org_id)
    target = unit(5)
    add(db, org_id, many, 1, near(target, 1, 0.3))
    add(db, org_id, many, 2, target)  # the best image
    add(db, org_id, many, 3, near(target, 2, 0.6))
    add(db, org_id, other, 4, near(target, 3, 0.2))
    found = search(db, org_id, target, limit=10)
    assert [pid for pid, _ in found] == [many, other]
    assert found[0][1] == pytest.approx(1.0, abs=0.005)


def test_limit_is_met_even_when_one_product_owns_the_nearest_images(db: Database, org_id: int) -> None:
    crowded = product(db, org_id)
    target = unit(9)
    for media_id in range(1, 301):  # more images than the first coarse pass reads
        add(db, org_id, crowded, media_id, near(target, media_id, 0.02))
    others = [product(db, org_id) for _ in range(3)]
    for media_id, product_id in enumerate(others, start=1000):
        add(db, org_id, product_id, media_id, unit(media_id))
    found = search(db, org_id, target, limit=4)
    assert found[0][0] == crowded
    assert sorted(pid for pid, _ in found[1:]) == sorted(others)


def test_adding_again_replaces_and_removing_forgets(db: Database, org_id: int) -> None:
    a, b = product(db, org_id), product(db, org_id)
    add(db, org_id, a, 1, unit(1))
    add(db, org_id, b, 2, unit(2))
    add(db, org_id, b, 1, unit(3))  # media 1 now shows another picture, of product b
    assert rows(db, "image_embedding") == 2 and indexed(db) == 2
    assert search(db, org_id, unit(3), limit=1)[0][0] == b
    assert [pid for pid, _ in search(db, org_id, unit(1))] == [b]
    with db.writing():
        remove_embedding(db, 1)
        remove_embedding(db, 12345)  # never indexed: nothing happens
    assert rows(db, "image_embedding") == 1 and indexed(db) == 1
    assert search(db, org_id, unit(3)) == [(b, pytest.approx(float(unit(2) @ unit(3)), abs=0.01))]
    with db.writing():
        remove_embedding(db, 2)
    assert search(db, org_id, unit(3)) == []


def test_archived_products_are_left_out(db: Database, org_id: int) -> None:
    kept, archived = product(db, org_id), product(db, org_id)
    add(db, org_id, kept, 1, near(unit(1), 2, 0.3))
    add(db, org_id, archived, 2, unit(1))
    with db.writing():
        products.archive_product(db, org_id, archived)
    assert [pid for pid, _ in search(db, org_id, unit(1))] == [kept]


def test_other_organizations_are_never_seen(db: Database, org_id: int, other_org_id: int) -> None:
    mine, theirs = product(db, org_id), product(db, other_org_id)
    add(db, org_id, mine, 1, near(unit(1), 5, 0.5))
    add(db, other_org_id, theirs, 2, unit(1))
    assert [pid for pid, _ in search(db, org_id, unit(1))] == [mine]
    assert [pid for pid, _ in search(db, other_org_id, unit(1))] == [theirs]
    assert search(db, other_org_id + 100, unit(1)) == []


def test_a_write_rolled_back_leaves_nothing(db: Database, org_id: int) -> None:
    a = product(db, org_id)
    add(db, org_id, a, 1, unit(1))
    with pytest.raises(RuntimeError):
        with db.writing():
            add_embedding(db, org_id, a, 2, unit(2), digest=DIGEST)
            remove_embedding(db, 1)
            raise RuntimeError("the caller's media insert failed")
    assert rows(db, "image_embedding") == 1 and indexed(db) == 1
    assert search(db, org_id, unit(1), limit=1)[0][0] == a


@pytest.mark.parametrize("vector, message", [
    (np.zeros(DIM, np.float32), "non-zero"),
    (np.full(DIM, np.nan, np.float32), "finite"),
])
def test_bad_vectors_are_refused(db: Database, org_id: int, vector: np.ndarray, message: str) -> None:
    a = product(db, org_id)
    with pytest.raises(ValueError, match=message):
        add(db, org_id, a, 1, vector)
    assert rows(db, "image_embedding") == 0


def test_another_model_is_detected_until_reset(db: Database, org_id: int) -> None:
    a = product(db, org_id)
    add(db, org_id, a, 1, unit(1))
    with pytest.raises(StaleIndex, match="reindex"):
        with db.writing():
            add_embedding(db, org_id, a, 2, unit(2, dim=128), digest="bigger-model")
    with pytest.raises(StaleIndex, match="reindex"):
        search_products(db, org_id, unit(2), 10, digest="same-size-other-model")
    with pytest.raises(StaleIndex):
        search_products(db, org_id, unit(2, dim=128), 10, digest=DIGEST)
    assert vectors.index_model(db) == (DIM, DIGEST)

    with db.writing():  # what `micropim reindex` starts with
        vectors.reset_index(db, 128, "bigger-model")
        add_embedding(db, org_id, a, 2, unit(2, dim=128), digest="bigger-model")
    assert vectors.index_model(db) == (128, "bigger-model")
    assert vectors.count_embeddings(db) == 1
    assert search_products(db, org_id, unit(2, dim=128), 10, digest="bigger-model")[0][0] == a


def test_an_emptied_index_adopts_the_next_model(db: Database, org_id: int) -> None:
    a = product(db, org_id)
    add(db, org_id, a, 1, unit(1))
    with db.writing():
        remove_embedding(db, 1)
        add_embedding(db, org_id, a, 2, unit(2, dim=32), digest="small-model")
    assert vectors.index_model(db) == (32, "small-model")


def test_deleting_a_product_row_drops_its_embeddings(db: Database, org_id: int) -> None:
    a = product(db, org_id)
    add(db, org_id, a, 1, unit(1))
    with db.writing():
        for table in ("stock_level", "product_category"):
            db.execute_sql(f"DELETE FROM {table} WHERE product_id = ?", (a,))
        db.execute_sql("DELETE FROM product WHERE id = ?", (a,))
    assert rows(db, "image_embedding") == 0 and indexed(db) == 0


def test_the_digest_of_the_application_model_sets_up_the_index(app: Any, db: Database, org_id: int) -> None:
    """What the media routes write: a vector of the application's model, with its digest."""
    model = app.images.models.get()
    a = product(db, org_id)
    vector = np.abs(np.random.default_rng(3).normal(size=model.dim)).astype(np.float32)
    with db.writing():
        add_embedding(db, org_id, a, 1, vector, model.digest)
    assert vectors.index_model(db) == (model.dim, model.digest)
    assert search_products(db, org_id, vector, 3, model.digest)[0][0] == a


def test_search_runs_few_statements(db: Database, org_id: int) -> None:
    from tests.factories import count_queries

    ids = [product(db, org_id) for _ in range(30)]
    for media_id, product_id in enumerate(ids, start=1):
        add(db, org_id, product_id, media_id, unit(media_id))
    index_of(db).sync()  # what a server does once, when it starts
    with count_queries(db) as seen:
        search(db, org_id, unit(4), limit=10)
    assert len(seen) <= 4, seen




def test_many_at_once_index_like_one_by_one(db: Database, org_id: int) -> None:
    a, b = product(db, org_id), product(db, org_id)
    with db.writing():
        vectors.add_embeddings(db, org_id, [(a, 1, unit(1)), (b, 2, unit(2)), (a, 3, unit(3)),
                                            (b, 1, unit(4))], digest=DIGEST)  # media 1 twice: last wins
        vectors.add_embeddings(db, org_id, [], digest=DIGEST)
    assert rows(db, "image_embedding") == 3 and indexed(db) == 3
    assert search(db, org_id, unit(4), limit=1) == [(b, pytest.approx(1.0, abs=0.005))]
    assert search(db, org_id, unit(3), limit=1) == [(a, pytest.approx(1.0, abs=0.005))]


def test_an_emptied_index_of_another_model_answers_nothing_rather_than_stale(db: Database,
                                                                            org_id: int) -> None:
    a = product(db, org_id)
    add(db, org_id, a, 1, unit(1))
    with db.writing():
        remove_embedding(db, 1)
    assert search_products(db, org_id, unit(1, dim=32), 10, digest="small-model") == []
