"""The demo catalog: it shows every feature, seeding again adds nothing, an interrupted
seed is finished by the next one, and its photos find their products by image search.

Most tests seed a small demo (`COUNT` simple products plus the variable ones); the
full one runs in tests/test_cli.py through `serve --demo`.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image

from search import demo
from search.demo.photos import draw_product
from search.model import ImageModels
from store import orgs
from store.db import Database, open_database, sqlite3
from store.values import validate_ean
from tests.conftest import Api
from tests.factories import multipart

# Seeding the demo takes seconds per test. CI runs them; `pytest -m "not slow"` skips them.
pytestmark = pytest.mark.slow

COUNT = 20


def table_counts(db: Database) -> dict[str, int]:
    """Rows in every table of the database (virtual tables' shadow tables included)."""
    names = [name for (name,) in db.execute_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'")]
    return {name: db.execute_sql(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


def scalar(db: Database, sql: str, *params: Any) -> Any:
    return db.execute_sql(sql, params).fetchone()[0]


@dataclass
class Template:
    """A demo seeded once for the module: its file, its table counts, its output."""

    path: str
    counts: dict[str, int]
    output: str


@pytest.fixture(scope="module")
def template(tmp_path_factory: Any, image_models: ImageModels) -> Template:
    path = str(tmp_path_factory.mktemp("demo") / "demo.db")
    made = open_database(path)
    try:
        out = io.StringIO()
        demo.seed(made, image_models, COUNT, demo.Progress(out))
        return Template(path, table_counts(made), out.getvalue())
    finally:
        made.close()


@pytest.fixture
def seeded(db: Database, template: Template) -> int:
    """The test's database holding the module's demo: copied in through SQLite's backup
    API, so connections already open on it (the server's) see it."""
    source = sqlite3.connect(template.path)
    try:
        source.backup(db.connection())
    finally:
        source.close()
    db.product_json.clear()
    return demo.demo_org_id(db)


def test_the_demo_shows_every_feature(db: Database, seeded: int) -> None:
    org = seeded
    planned = COUNT + len(demo.VARIABLE)
    assert scalar(db, "SELECT count(*) FROM product WHERE org_id = ?", org) == planned
    # A tree three levels deep, products in the leaves.
    depth = scalar(
        db,
        "WITH RECURSIVE t(id, depth) AS (SELECT id, 1 FROM category WHERE org_id = ? AND parent_id IS NULL"
        " UNION ALL SELECT c.id, t.depth + 1 FROM category c JOIN t ON c.parent_id = t.id)"
        " SELECT max(depth) FROM t", org)
    assert depth == 3
    assert scalar(
        db, "SELECT count(*) FROM product_category pc JOIN category c ON c.id = pc.category_id"
            " WHERE c.org_id = ?"
            " AND c.parent_id IN (SELECT id FROM category WHERE parent_id IS NOT NULL)",
        org) >= COUNT
    # Brands, suppliers, VAT rates; attributes of every type.
    for table in ("brand", "supplier", "vat_rate"):
        assert scalar(db, f"SELECT count(*) FROM {table} WHERE org_id = ?", org) >= 3
    assert {t for (t,) in db.execute_sql(
        "SELECT DISTINCT type FROM product_attribute WHERE org_id = ?", (org,))} == {
        "text", "number", "boolean", "select", "multiselect", "date"}
    # Variable products with variants across two axes, each showing its colour's photo.
    assert scalar(db, "SELECT count(*) FROM product WHERE org_id = ? AND product_type = 'variable'",
                  org) == len(demo.VARIABLE)
    shirt = scalar(db, "SELECT id FROM product WHERE sku = 'TSH-ESSENTIAL' AND org_id = ?", org)
    rows = db.execute_sql("SELECT v.attributes, m.alt_text FROM product_variant v"
                          " JOIN media m ON m.id = v.media_id WHERE v.product_id = ?", (shirt,)).fetchall()
    assert len(rows) == 12
    for values, alt_text in rows:
        assert set(json.loads(values)) == {"colour", "size"}
        assert alt_text.endswith(json.loads(values)["colour"].lower())
    assert scalar(db, "SELECT count(*) FROM product_variant WHERE org_id = ? AND media_id IS NULL",
                  org) == 0
    # Translations in Romanian and German on most products.
    for locale in ("ro", "de"):
        share = scalar(db, "SELECT count(*) FROM product_translation WHERE org_id = ? AND locale = ?",
                       org, locale)
        assert share >= planned * 0.7, (locale, share)
    tricou = scalar(db, "SELECT name FROM product_translation WHERE product_id = ? AND locale = 'ro'",
                    shirt)
    assert tricou.startswith("Tricou")
    # Stock in two warehouses.
    assert scalar(db, "SELECT count(*) FROM warehouse WHERE org_id = ?", org) == 2
    assert scalar(db, "SELECT count(DISTINCT s.warehouse_id) FROM stock_level s JOIN product p"
                      " ON p.id = s.product_id WHERE p.org_id = ? AND s.quantity > 0", org) == 2
    # Valid, distinct EANs on every product and variant.
    eans = [e for (e,) in db.execute_sql(
        "SELECT ean FROM product WHERE org_id = ? AND ean IS NOT NULL"
        " UNION ALL SELECT ean FROM product_variant WHERE org_id = ?", (org, org))]
    assert len(eans) == COUNT + scalar(db, "SELECT count(*) FROM product_variant WHERE org_id = ?", org)
    assert len(set(eans)) == len(eans)
    for code in eans:
        assert validate_ean(code) == code
    # A photo on every product, each embedded for image search.
    assert scalar(db, "SELECT count(*) FROM product p WHERE org_id = ? AND NOT EXISTS"
                      " (SELECT 1 FROM media m WHERE m.product_id = p.id)", org) == 0
    assert scalar(db, "SELECT count(*) FROM image_embedding WHERE org_id = ?", org) == scalar(
        db, "SELECT count(*) FROM media WHERE org_id = ?", org)
    # Channels configured, several in use.
    assert scalar(db, "SELECT count(*) FROM channel WHERE org_id = ?", org) >= 3


def forget_completion(db: Database) -> None:
    db.execute_sql("DELETE FROM demo_seed")


def test_seeding_again_changes_nothing(db: Database, image_models: ImageModels, seeded: int) -> None:
    forget_completion(db)  # every stage runs again, and finds everything there
    before = table_counts(db)
    outcome = demo.seed(db, image_models, COUNT)
    assert (outcome.products, outcome.images, outcome.skipped, outcome.complete) == (0, 0, False, True)
    assert table_counts(db) == {**before, "demo_seed": before["demo_seed"] + 1}  # the marker


def test_a_complete_seed_is_marked_and_later_seeds_leave_the_catalog_alone(
        db: Database, image_models: ImageModels, seeded: int) -> None:
    assert scalar(db, "SELECT count(*) FROM demo_seed") == 1
    first = demo.issue_key(db, seeded)
    second = demo.issue_key(db, seeded)
    assert orgs.authenticate(db, first) is None
    caller = orgs.authenticate(db, second)
    assert caller is not None and caller.org_id == seeded
    assert scalar(db, "SELECT count(*) FROM api_key WHERE org_id = ? AND label = ?",
                  seeded, demo.KEY_LABEL) == 1
    # Once complete, the catalog is the user's: a photo they deleted stays deleted.
    db.execute_sql("DELETE FROM media WHERE id = (SELECT max(id) FROM media)")
    before = table_counts(db)
    out = io.StringIO()
    outcome = demo.seed(db, image_models, COUNT, demo.Progress(out))
    assert outcome.skipped and outcome.complete
    assert out.getvalue() == "Demo catalog already present.\n"
    assert table_counts(db) == before


def test_a_seed_whose_photos_are_refused_is_not_complete_and_the_next_adds_them(
        db: Database, image_models: ImageModels, seeded: int) -> None:
    # The demo's photos were deleted, and the index holds another model's embeddings
    # (the operator switched models without `reindex`): the photos stage is refused.
    forget_completion(db)
    media_rows = scalar(db, "SELECT count(*) FROM media")
    digest = scalar(db, "SELECT digest FROM image_index")
    db.execute_sql("DELETE FROM media WHERE product_id IN (SELECT product_id FROM media"
                   " WHERE alt_text LIKE '%Mug%')")
    missing = media_rows - scalar(db, "SELECT count(*) FROM media")
    db.execute_sql("UPDATE image_index SET digest = 'another model'")
    out = io.StringIO()
    outcome = demo.seed(db, image_models, COUNT, demo.Progress(out))
    assert not outcome.complete and outcome.images == 0
    assert "Photos not added:" in out.getvalue()
    assert "Demo catalog incomplete:" in out.getvalue().splitlines()[-1]
    assert scalar(db, "SELECT count(*) FROM demo_seed") == 0
    demo.issue_key(db, seeded)  # the server still hands out a key: it is no marker
    # The index is the model's again: the next start adds the photos and completes.
    db.execute_sql("UPDATE image_index SET digest = ?", (digest,))
    outcome = demo.seed(db, image_models, COUNT, demo.Progress(io.StringIO()))
    assert outcome.complete and not outcome.skipped and outcome.images == missing > 0
    assert scalar(db, "SELECT count(*) FROM media") == media_rows
    assert scalar(db, "SELECT count(*) FROM demo_seed") == 1


class Interrupt(Exception):
    """Stands for Ctrl-C half-way through the photos."""


class StopDuringImages(demo.Progress):
    def count(self, what: str, done: int, total: int) -> None:
        super().count(what, done, total)
        if what == "images":
            raise Interrupt


def test_an_interrupted_seed_is_finished_by_the_next_start(tmp_path: Any, template: Template,
                                                            image_models: ImageModels) -> None:
    own = open_database(str(tmp_path / "interrupted.db"))
    try:
        out = io.StringIO()
        with pytest.raises(Interrupt):
            demo.seed(own, image_models, COUNT, StopDuringImages(out))
        assert not demo.is_complete(own, demo.demo_org_id(own))
        stored = scalar(own, "SELECT count(*) FROM media")
        assert 0 < stored < template.counts["media"], out.getvalue()
        out = io.StringIO()
        outcome = demo.seed(own, image_models, COUNT, demo.Progress(out))
        assert outcome.products == 0 and outcome.images == template.counts["media"] - stored
        assert f"Products: {COUNT + len(demo.VARIABLE)} present, creating 0" in out.getvalue()
        assert table_counts(own) == template.counts
    finally:
        own.close()


def test_progress_is_a_line_per_stage_and_per_tenth_in_a_log(template: Template) -> None:
    lines = template.output.splitlines()
    assert lines[0].startswith("Demo catalog: brands")
    assert any(line.startswith("  products: ") and line.endswith("(100%)") for line in lines)
    image_lines = [line for line in lines if line.startswith("  images: ")]
    assert 1 <= len(image_lines) <= 11 and image_lines[-1].endswith("(100%)")
    assert lines[-1].startswith("Demo catalog ready: ")


def jpeg(image: Image.Image, quality: int = 80) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


async def test_a_demo_photo_finds_its_product_over_http(db: Database, http_server_client: Any,
                                                        seeded: int) -> None:
    api = Api(http_server_client, demo.issue_key(db, seeded))
    sku = "SNK-0014"  # sneakers, with look-alikes of the same kind in the catalog
    row = db.execute_sql("SELECT id FROM product WHERE sku = ?", (sku,)).fetchone()
    n = int(sku.split("-")[1]) - 1
    kind, colour = demo.KINDS[n % len(demo.KINDS)], demo.COLOURS[(n // len(demo.KINDS)) % len(demo.COLOURS)]
    photo = draw_product(kind.noun[0], colour[0], n)
    w, h = photo.size
    query = jpeg(photo.crop((w // 10, h // 8, w - w // 12, h - h // 10)).resize((300, 280)), quality=70)
    body, content_type = multipart({"limit": "5"}, {"image": ("query.jpg", query)})
    response = await api.post("/api/products/image-search", raw=body,
                              headers={"Content-Type": content_type})
    found = response.data["products"]
    assert found[0]["id"] == row[0], [(p["sku"], p["score"]) for p in found]
    # The next is a sneaker too: the same silhouette. (Only the next: this small demo's
    # other sneakers are black or variants in other colours, and since every photo is
    # the colour its name says, colour weighs about as much as the silhouette.)
    assert found[1]["sku"][:3] == "SNK", [(p["sku"], p["score"]) for p in found]
