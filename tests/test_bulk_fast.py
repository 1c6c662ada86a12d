"""What the bulk import's shortcuts must not change: the text index made once per
batch, and lines told `unchanged` from the batch's prefetched rows (see
`store.products.bulk.Known`). Each test drives a case where a shortcut that went
wrong would answer differently from applying the line in full."""

from __future__ import annotations

import re
from typing import Any

from store import schema
from store.db import Database
from store.migrations import split_sql
from tests.factories import count_queries, post_product
from tests.test_bulk import bulk, get_sku, ndjson, statuses


def _index_entries(db: Database, schema_name: str, table: str) -> set[tuple[Any, ...]]:
    """Every (term, product, column, offset) the text index holds (it keeps no content)."""
    db.execute_sql(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{table}_v USING fts5vocab({schema_name}, {table}, instance)")
    return set(db.execute_sql(f"SELECT term, doc, col, offset FROM temp.{table}_v"))


def _index_mismatch(db: Database) -> set[tuple[Any, ...]]:
    """What the text index holds and the triggers would not have made, and the other way round."""
    db.execute_sql("DROP TABLE IF EXISTS temp.expected_fts")
    db.execute_sql("CREATE VIRTUAL TABLE temp.expected_fts USING fts5(org, status, sku, name, description,"
                   " tokenize='unicode61 remove_diacritics 2')")
    db.execute_sql(f"INSERT INTO temp.expected_fts ({schema.FTS_COLUMNS})"
                   f" SELECT {schema.TEXT_INDEX_VALUES.format(t='p')} FROM product p")
    held = {entry for entry in _index_entries(db, "main", "product_fts") if len(entry[0]) > 0}
    expected = _index_entries(db, "temp", "expected_fts")
    # The product index also holds 2-6 character prefixes, which fts5vocab lists as
    # terms of their own; compare the whole words only.
    words = {entry[0] for entry in expected}
    return {entry for entry in held if entry[0] in words} ^ expected


async def test_the_text_index_after_a_bulk_import_is_what_the_triggers_make(api: Any, db: Database) -> None:
    await post_product(api, "Plain Mug", "MUG-1")
    response = await bulk(api, ndjson(
        {"sku": "MUG-1", "name": "Speckled Mug", "translations": {"de": {"name": "Tasse"}}},
        {"sku": "TEE-1", "name": "Linen Tee", "translations": {"ro": {"name": "Tricou", "description": "In"}}},
        {"sku": "BAD-1", "name": "Quartzite Vase", "price": "-1"},
        {"sku": "TEE-1", "status": "active", "ean": "5901234123457"},
    ))
    assert statuses(response) == [(1, "MUG-1", "updated"), (2, "TEE-1", "created"), (3, "BAD-1", "failed"),
                                  (4, "TEE-1", "updated")]
    assert _index_mismatch(db) == set()
    for term, skus in (("speckled", ["MUG-1"]), ("tasse", ["MUG-1"]), ("plain", []), ("tricou", ["TEE-1"]),
                       ("quartzite", []), ("5901234123457", ["TEE-1"])):
        found = (await api.get(f"/api/products?search={term}&status=any")).data["products"]
        assert [p["sku"] for p in found] == skus, term
    # The triggers the batch dropped are back, as the migrations made them.
    made = {name: re.sub(r"\s+", " ", sql).strip() for name, sql in db.execute_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")}
    for statement in split_sql(schema.TEXT_INDEX_ALL_TRIGGERS):
        name = statement.split()[2]
        assert made[name] == re.sub(r"\s+", " ", statement).strip().rstrip(";"), name
    # ...and fire again for a single write.
    await api.patch(f"/api/products/{response.data['results'][1]['id']}", {"name": "Woollen Tee"})
    assert [p["sku"] for p in (await api.get("/api/products?search=woollen&status=any")).data["products"]] == ["TEE-1"]


async def test_a_dry_run_leaves_the_index_and_its_triggers_as_they_were(api: Any, db: Database) -> None:
    await post_product(api, "Plain Mug", "MUG-1")
    before = _index_entries(db, "main", "product_fts"), sorted(db.execute_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
    dry = await bulk(api, ndjson({"sku": "MUG-1", "name": "Speckled"}, {"sku": "NEW", "name": "New"}),
                     query="dry_run=true")
    assert statuses(dry) == [(1, "MUG-1", "updated"), (2, "NEW", "created")]
    after = _index_entries(db, "main", "product_fts"), sorted(db.execute_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
    assert after == before


async def test_a_line_repeating_what_an_earlier_line_of_the_batch_changed_is_an_update(api: Any) -> None:
    await post_product(api, "Mug", "MUG-1", price="10")
    response = await bulk(api, ndjson({"sku": "MUG-1", "price": "12"}, {"sku": "MUG-1", "price": "10"},
                                      {"sku": "MUG-1", "price": "10"}))
    assert statuses(response) == [(1, "MUG-1", "updated"), (2, "MUG-1", "updated"), (3, "MUG-1", "unchanged")]
    assert (await get_sku(api, "MUG-1"))["price"] == "10.0000"


async def test_lines_that_repeat_stored_values_but_are_refused_say_why(api: Any) -> None:
    await api.post("/api/product-attributes", {"name": "Size", "code": "size", "type": "select",
                                               "options": ["S", "M"], "is_variant_axis": True})
    await bulk(api, ndjson({"sku": "TEE", "name": "Tee", "translations": {"ro": {"name": "Tricou"}},
                            "variants": [{"sku": "TEE-S", "attributes": {"size": "S"}}]},
                           {"sku": "CUP", "name": "Cup", "stock": 2}))
    tee = await get_sku(api, "TEE")
    single = await api.patch(f"/api/products/{tee['id']}", {"stock": 0})
    assert single.code == 400
    response = await bulk(api, ndjson(
        {"sku": "TEE", "stock": 0},  # as stored, but a variable product takes no stock
        {"sku": "CUP", "stock_levels": [{"warehouse_code": "MAIN", "quantity": 2},
                                        {"warehouse_code": "MAIN", "quantity": 2}]},
        {"sku": "TEE", "variants": [{"sku": "TEE-S", "stock_status": "in_stock"}]},
        {"sku": "CUP", "brand": "Nobody"},
        {"sku": "TEE", "translations": {"ro": {"slug": None}}},  # the slug is made again from the name
        {"sku": "CUP", "stock": 2, "name": "Cup"},
    ))
    assert [(r["status"], r["error"]) for r in response.data["results"]] == [
        ("failed", single.error),
        ("failed", "stock_levels[1].warehouse_id: warehouse %d is listed twice" % (
            (await api.get(f"/api/products/{(await get_sku(api, 'CUP'))['id']}/stock")).data["stock_levels"][0]
            ["warehouse_id"])),
        ("failed", "variants[0].stock_status: in_stock needs a stock_quantity above 0"),
        ("failed", "brand: no brand named 'Nobody' (create_references=true creates it)"),
        ("unchanged", None),  # made again, the slug is the one it had
        ("unchanged", None),
    ]


async def test_a_repeated_feed_is_answered_without_a_query_per_line(api: Any, db: Database) -> None:
    await api.post("/api/product-attributes", {"name": "Size", "code": "size", "type": "select",
                                               "options": ["S", "M"], "is_variant_axis": True})
    await api.post("/api/warehouses", {"name": "Cluj", "code": "CLJ"})
    lines = [{"sku": f"P-{n}", "name": f"Product {n}", "price": "9.5", "categories": ["Home > Kitchen"],
              "brand": "Acme", "attributes": {"size": "M"}, "stock_levels": [{"warehouse_code": "CLJ", "quantity": n}],
              "translations": {"ro": {"name": f"Produs {n}"}},
              "variants": [{"sku": f"P-{n}-S", "attributes": {"size": "S"}, "stock_quantity": 1}] if n % 10 == 0 else None}
             for n in range(60)]
    for line in lines:
        if line["variants"] is None:
            del line["variants"]
        else:
            del line["stock_levels"]  # a variable product's stock is its variants'
    body = ndjson(*lines)
    first = await bulk(api, body, query="create_references=true")
    assert first.data["created"] == 60, first.body
    with count_queries(db) as queries:
        again = await bulk(api, body)
    assert again.data["unchanged"] == 60, again.body
    assert len(queries) < 60, queries  # a handful per batch, not several per line
