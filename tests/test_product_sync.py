"""The product list as a sync client uses it: `sku=`/`ean=` lookups that find
variants too, status lists and soft deletes seen by `updated_since`, and
`include=stock_levels,variants` fetched in one query per relation per page."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from store.db import Database
from store.products.read import PRODUCT_KEYS
from store.products.relations import EXTRA_KEYS
from tests.factories import count_queries, post_product

EAN13 = "4006381333931"
EAN8 = "96385074"
UPC_A = "036000291452"  # the GTIN of EAN-13 0036000291452
VARIANT_EAN = "5901234123457"
OTHER_VARIANT_EAN = "5940000000011"


async def listed(api: Any, query: str) -> dict[str, Any]:
    response = await api.get(f"/api/products?{query}")
    assert response.code == 200, response.body
    return dict(response.data)


async def ids(api: Any, query: str) -> list[int]:
    return [product["id"] for product in (await listed(api, query))["products"]]


async def make_axis(api: Any) -> None:
    response = await api.post("/api/product-attributes", {
        "name": "Colour", "type": "select", "options": ["Red", "Blue", "Green"], "is_variant_axis": True})
    assert response.code == 201, response.body


async def add_variant(api: Any, product_id: int, sku: str, colour: str, **fields: Any) -> dict[str, Any]:
    response = await api.post(f"/api/products/{product_id}/variants",
                              {"sku": sku, "attributes": {"colour": colour}, **fields})
    assert response.code == 201, response.body
    return dict(response.data)


async def make_catalog(api: Any) -> dict[str, Any]:
    """Three simple products with near-miss SKUs and a variable T-shirt in two colours."""
    await make_axis(api)
    one = await post_product(api, "Shirt one", "TSH-0001", ean=EAN13)
    two = await post_product(api, "Shirt two", "TSH-0002", ean=UPC_A)
    near = await post_product(api, "Shirt two bis", "TSH-00021", ean=EAN8)
    tee = await post_product(api, "Tee", "TEE")
    red = await add_variant(api, tee["id"], "TEE-RED", "Red", ean=VARIANT_EAN)
    blue = await add_variant(api, tee["id"], "TEE-BLUE", "Blue", ean=OTHER_VARIANT_EAN)
    variants = (await api.get(f"/api/products/{tee['id']}/variants")).data["variants"]
    return {"one": one["id"], "two": two["id"], "near": near["id"], "tee": tee["id"],
            "red": red["id"], "blue": blue["id"], "variants": {v["id"]: v for v in variants}}


# ---- sku= and ean= (issue 13, item 8) -----------------------------------------------------

async def test_sku_is_an_exact_filter(api: Any) -> None:
    catalog = await make_catalog(api)
    page = await listed(api, "sku=TSH-0002")
    assert [p["id"] for p in page["products"]] == [catalog["two"]]
    assert page["pagination"]["total_items"] == 1
    assert await ids(api, "sku=TSH-000") == []
    assert await ids(api, "sku=tsh-0002") == []  # SKUs are case-sensitive


async def test_several_skus_separated_by_commas(api: Any) -> None:
    catalog = await make_catalog(api)
    assert await ids(api, "sku=TSH-0002,TSH-0001,NOPE") == [catalog["one"], catalog["two"]]
    assert await ids(api, "sku=TSH-0002,%20TSH-0001") == [catalog["one"], catalog["two"]]
    assert await ids(api, "sku=TSH-0001,TSH-0001") == [catalog["one"]]
    page = await listed(api, "sku=TSH-0001,TSH-0002,TSH-00021&limit=2&page=2&sort=-sku")
    assert [p["id"] for p in page["products"]] == [catalog["one"]]
    assert page["pagination"]["total_items"] == 3


async def test_a_variant_sku_finds_its_product_with_the_variant_marked(
    api: Any
) -> None:
    catalog = await make_catalog(api)
    page = await listed(api, "sku=TEE-BLUE")
    (tee,) = page["products"]
    assert tee["id"] == catalog["tee"]
    assert tee["matched_variants"] == [catalog["variants"][catalog["blue"]]]
    # A product found by its own SKU has no variant marked; one found twice is listed once.
    page = await listed(api, "sku=TEE-BLUE,TSH-0001,TEE-RED,TEE")
    assert [p["id"] for p in page["products"]] == [catalog["one"], catalog["tee"]]
    one, tee = page["products"]
    assert one["matched_variants"] == []
    assert [v["id"] for v in tee["matched_variants"]] == [catalog["red"], catalog["blue"]]  # position order
    assert page["pagination"]["total_items"] == 2
    assert list(tee) == [*PRODUCT_KEYS, "matched_variants"]


async def test_without_a_code_filter_nothing_is_marked(api: Any) -> None:
    catalog = await make_catalog(api)
    for query in ("", "search=TEE-RED", f"brand=1&status=any"):
        for product in (await listed(api, query))["products"]:
            assert list(product) == PRODUCT_KEYS, query


async def test_ean_takes_every_barcode_form(api: Any) -> None:
    catalog = await make_catalog(api)
    assert await ids(api, f"ean={EAN13}") == [catalog["one"]]
    assert await ids(api, f"ean={EAN8}") == [catalog["near"]]
    assert await ids(api, f"ean={UPC_A}") == [catalog["two"]]
    assert await ids(api, f"ean=0{UPC_A}") == [catalog["two"]]  # the UPC-A as an EAN-13
    assert await ids(api, f"ean={EAN13},{EAN8},0{UPC_A}") == [catalog["one"], catalog["two"], catalog["near"]]
    (tee,) = (await listed(api, f"ean={VARIANT_EAN}"))["products"]
    assert [v["sku"] for v in tee["matched_variants"]] == ["TEE-RED"]
    assert await ids(api, "ean=5940000000028") == []


async def test_upc_a_variant_matches_its_13_digit_form(api: Any) -> None:
    catalog = await make_catalog(api)
    cap = await post_product(api, "Cap", "CAP")
    await add_variant(api, cap["id"], "CAP-GREEN", "Green", ean="012345678905")
    (found,) = (await listed(api, "ean=0012345678905"))["products"]
    assert found["id"] == cap["id"] and [v["sku"] for v in found["matched_variants"]] == ["CAP-GREEN"]


async def test_code_filters_narrow_the_other_filters(api: Any) -> None:
    catalog = await make_catalog(api)
    assert await ids(api, f"sku=TSH-0001,TSH-0002&ean={EAN13}") == [catalog["one"]]
    assert await ids(api, "sku=TSH-0001&status=active") == []
    assert await ids(api, "sku=TSH-0001,TSH-0002&search=one") == [catalog["one"]]
    assert await ids(api, "sku=TSH-0001,TSH-0002&sort=-id") == [catalog["two"], catalog["one"]]


async def test_code_filters_follow_the_status_rules(api: Any) -> None:
    catalog = await make_catalog(api)
    assert (await api.delete(f"/api/products/{catalog['two']}")).code == 200  # archived
    assert await ids(api, "sku=TSH-0002") == []
    assert await ids(api, "sku=TSH-0002&status=any") == [catalog["two"]]
    assert await ids(api, f"ean={UPC_A}&status=archived") == [catalog["two"]]


async def test_another_organizations_codes_are_not_found(
    api: Any, other_api: Any
) -> None:
    catalog = await make_catalog(api)
    assert await ids(other_api, "sku=TSH-0001,TEE-RED&status=any") == []
    assert await ids(other_api, f"ean={EAN13},{VARIANT_EAN}&status=any") == []
    theirs = await post_product(other_api, "Theirs", "TSH-0001")
    assert await ids(other_api, "sku=TSH-0001") == [theirs["id"]]
    assert await ids(api, "sku=TSH-0001") == [catalog["one"]]


def _plans(db: Database, statements: list[str]) -> list[str]:
    """The query plan lines of the statements seen (their parameters already in them)."""
    lines = []
    for sql in statements:
        if sql.lstrip().upper().startswith("SELECT") or sql.lstrip().upper().startswith("WITH"):
            lines += [row[3] for row in db.execute_sql(f"EXPLAIN QUERY PLAN {sql}").fetchall()]
    return lines


async def test_code_lookups_never_walk_the_catalog(api: Any, db: Database) -> None:
    """Every table is reached through an index: nothing scans the products or variants
    of the organization, so the lookup costs the same at a million products."""
    catalog = await make_catalog(api)
    for query in ("sku=TSH-0001,TEE-RED", f"ean={EAN13},{VARIANT_EAN}", "sku=TEE-RED&include=variants,stock_levels",
                  "sku=TSH-0001&sort=-price&status=any"):
        db.product_json.clear()
        with count_queries(db) as seen:
            assert (await api.get(f"/api/products?{query}")).code == 200
        # A product or variant table is reached by id, by product or by code, never by
        # the organization alone (`SEARCH p USING INDEX product_org (org_id=?)` walks it).
        scans = [line for line in _plans(db, seen)
                 if re.match(r"(SCAN|SEARCH) (p|product|product_variant)\b", line)
                 and not re.search(r"rowid=|sku=|ean=|product_id=", line)]
        assert not scans, (query, scans)


# ---- statuses and soft deletes (issue 13, item 9) -------------------------------------------

async def make_statuses(api: Any) -> dict[str, int]:
    found = {}
    for status in ("draft", "active", "out_of_stock", "archived"):
        found[status] = (await post_product(api, f"Item {status}", status.upper(), status=status))["id"]
    return found


async def test_status_takes_a_list_and_any(api: Any) -> None:
    statuses = await make_statuses(api)
    assert await ids(api, "") == [statuses["draft"], statuses["active"], statuses["out_of_stock"]]
    assert await ids(api, "status=active,draft") == [statuses["draft"], statuses["active"]]
    assert await ids(api, "status=archived,active") == [statuses["active"], statuses["archived"]]
    assert await ids(api, "status=any") == list(statuses.values())
    assert await ids(api, "status=draft,active,out_of_stock,archived") == list(statuses.values())
    page = await listed(api, "status=archived,draft")
    assert page["pagination"]["total_items"] == 2
    assert (await listed(api, "status=any"))["pagination"]["total_items"] == 4
    # A category's page keeps leaving archived products out.
    category = (await api.post("/api/categories", {"name": "All"})).data["id"]
    await api.post(f"/api/categories/{category}/products", {"product_ids": list(statuses.values())})
    page = (await api.get(f"/api/categories/{category}/products")).data
    assert [p["id"] for p in page["products"]] == [statuses["draft"], statuses["active"], statuses["out_of_stock"]]


async def test_updated_since_sees_soft_deletes(api: Any, db: Database) -> None:
    """An incremental sync that passes its last seen `updated_at` sees the products
    archived since: the README's "never misses a row"."""
    statuses = await make_statuses(api)
    with db.writing():  # everything seen by the last sync, on the 1st
        db.execute_sql("UPDATE product SET updated_at = '2000-01-01T00:00:00.000000Z'")
    since = "2000-01-02T00:00:00.000000Z"
    archived = (await api.delete(f"/api/products/{statuses['active']}")).data
    found = (await listed(api, f"updated_since={since}"))["products"]
    assert [(p["id"], p["status"]) for p in found] == [(statuses["active"], "archived")]
    assert found[0]["updated_at"] == archived["updated_at"]
    everything = await ids(api, "updated_since=2000-01-01")
    assert everything == list(statuses.values())
    # Asking for statuses still narrows a sync.
    assert await ids(api, "updated_since=2000-01-01&status=active,draft") == [statuses["draft"]]
    assert await ids(api, f"updated_since={since}&status=active") == []


async def test_search_takes_status_lists(api: Any) -> None:
    statuses = await make_statuses(api)
    assert await ids(api, "search=ARCHIVED") == []
    assert await ids(api, "search=ARCHIVED&status=any") == [statuses["archived"]]
    assert await ids(api, "search=item&status=archived,active&sort=id") == [statuses["active"], statuses["archived"]]
    assert await ids(api, "search=item&status=archived,active") == [statuses["archived"], statuses["active"]]
    assert await ids(api, "search=DRAFT&status=draft,active") == [statuses["draft"]]
    assert await ids(api, "search=DRAFT&status=active,out_of_stock") == []
    assert await ids(api, "search=item&updated_since=2000-01-01&sort=id") == list(statuses.values())


async def test_status_lists_are_counted_from_the_status_table(
    api: Any, db: Database
) -> None:
    """The total of a status list comes from the counts the triggers keep, never a
    count(*) over the products (2 ms at 100k products against 0.004 ms)."""
    statuses = await make_statuses(api)
    for query in ("status=active,draft", "status=any", "status=archived", ""):
        with count_queries(db) as seen:
            page = await listed(api, query)
        assert page["pagination"]["total_items"] == len(await ids(api, query)), query
        assert not any("count(*)" in sql and "FROM product p" in sql for sql in seen), (query, seen)
        assert any("product_status_count" in sql for sql in seen), query


# ---- include=stock_levels,variants (issue 13, item 10) --------------------------------------

async def make_stocked(api: Any) -> dict[str, Any]:
    """Twelve simple products with stock in two warehouses, six variable ones with two
    variants each."""
    await make_axis(api)
    north = (await api.post("/api/warehouses", {"name": "North", "code": "N"})).data["id"]
    simple, variable = [], []
    for i in range(12):
        product = await post_product(api, f"Simple {i}", f"S-{i:02}")
        response = await api.put(f"/api/products/{product['id']}/stock",
                                 [{"warehouse_id": north, "quantity": i + 1}])
        assert response.code == 200, response.body
        simple.append(product["id"])
    for i in range(6):
        product = await post_product(api, f"Variable {i}", f"V-{i:02}")
        await add_variant(api, product["id"], f"V-{i:02}-RED", "Red", stock_quantity=i, price="5")
        await add_variant(api, product["id"], f"V-{i:02}-BLUE", "Blue")
        variable.append(product["id"])
    return {"simple": simple, "variable": variable, "north": north}


async def test_include_gives_each_product_its_stock_and_variants(api: Any) -> None:
    stocked = await make_stocked(api)
    page = await listed(api, "include=stock_levels,variants&limit=100")
    assert len(page["products"]) == 18
    for product in page["products"]:
        assert list(product) == [*PRODUCT_KEYS, "stock_levels", "variants"]
        stock = (await api.get(f"/api/products/{product['id']}/stock")).data
        assert product["stock_levels"] == stock["stock_levels"]
        assert len(product["stock_levels"]) == 2
        variants = (await api.get(f"/api/products/{product['id']}/variants")).data["variants"]
        assert product["variants"] == variants
        plain = (await api.get(f"/api/products/{product['id']}")).data
        assert {k: product[k] for k in PRODUCT_KEYS} == plain
    assert sum(bool(p["variants"]) for p in page["products"]) == 6


async def test_include_one_relation_and_in_any_order(api: Any) -> None:
    stocked = await make_stocked(api)
    (product,) = (await listed(api, "include=variants&sku=V-00"))["products"]
    assert list(product) == [*PRODUCT_KEYS, "variants", "matched_variants"]
    assert [v["sku"] for v in product["variants"]] == ["V-00-RED", "V-00-BLUE"]
    assert product["matched_variants"] == []
    (product,) = (await listed(api, "include=variants,stock_levels&sku=V-00-BLUE"))["products"]
    assert list(product) == [*PRODUCT_KEYS, "stock_levels", "variants", "matched_variants"]
    assert [v["sku"] for v in product["matched_variants"]] == ["V-00-BLUE"]
    page = await listed(api, "include=stock_levels")
    assert all(list(p) == [*PRODUCT_KEYS, "stock_levels"] for p in page["products"])


async def test_include_on_a_product_read(api: Any) -> None:
    stocked = await make_stocked(api)
    product_id = stocked["variable"][0]
    plain = await api.get(f"/api/products/{product_id}")
    assert list(plain.data) == PRODUCT_KEYS
    full = await api.get(f"/api/products/{product_id}?include=variants,stock_levels&locale=de")
    assert list(full.data) == [*PRODUCT_KEYS, "stock_levels", "variants"]
    assert full.data["variants"] == (await api.get(f"/api/products/{product_id}/variants")).data["variants"]
    assert full.data["stock_levels"] == (await api.get(f"/api/products/{product_id}/stock")).data["stock_levels"]
    assert full.headers["ETag"] != plain.headers["ETag"]
    again = await api.get(f"/api/products/{product_id}?include=variants,stock_levels&locale=de",
                          headers={"If-None-Match": full.headers["ETag"]})
    assert again.code == 304
    assert (await api.get("/api/products/999999?include=variants")).code == 404


async def test_include_on_a_category_page(api: Any) -> None:
    stocked = await make_stocked(api)
    category = (await api.post("/api/categories", {"name": "Tees"})).data["id"]
    await api.post(f"/api/categories/{category}/products", {"product_ids": stocked["variable"][:2]})
    page = (await api.get(f"/api/categories/{category}/products?include=variants")).data
    assert [len(p["variants"]) for p in page["products"]] == [2, 2]
    assert all(list(p) == [*PRODUCT_KEYS, "variants"] for p in page["products"])
    assert (await api.get(f"/api/categories/{category}/products?sku=V-00")).error == "sku: unknown query parameter"


async def test_included_relations_are_never_stale(api: Any) -> None:
    """The product's JSON is cached by its `updated_at`; what is included is read each
    time, so a renamed warehouse or attribute shows at once."""
    stocked = await make_stocked(api)
    product_id = stocked["simple"][0]
    await listed(api, "include=stock_levels,variants")
    assert (await api.patch(f"/api/warehouses/{stocked['north']}", {"name": "Nord"})).code == 200
    (product,) = (await listed(api, "include=stock_levels&sku=S-00"))["products"]
    assert "Nord" in [level["warehouse_name"] for level in product["stock_levels"]]
    assert product["id"] == product_id


async def test_another_organization_sees_none_of_it(api: Any, other_api: Any) -> None:
    stocked = await make_stocked(api)
    assert (await other_api.get(f"/api/products/{stocked['variable'][0]}?include=variants")).code == 404
    mine = await post_product(other_api, "Mine", "MINE")
    (product,) = (await listed(other_api, "include=stock_levels,variants"))["products"]
    assert product["id"] == mine["id"] and product["variants"] == []
    assert [level["warehouse_code"] for level in product["stock_levels"]] == ["MAIN"]


async def _statements(api: Any, db: Database, path: str) -> list[str]:
    """The statements a request runs, every product built afresh (not from the cache);
    not counted: FTS5's reads of its own tables, which it makes once per connection."""
    db.product_json.clear()
    with count_queries(db) as seen:
        response = await api.get(path)
    assert response.code == 200, response.body
    return [sql for sql in seen if "'main'.'product_fts" not in sql]


@pytest.mark.parametrize("query", [
    "include=stock_levels,variants",
    "include=variants&status=any&sort=-name",
    "include=stock_levels&search=Simple",
    "sku=V-00-RED,V-01-BLUE,V-02-RED,V-03-RED,V-04-RED,V-05-RED,S-00,S-01,S-02,S-03,S-04,S-05,S-06&include=variants",
])
async def test_the_statements_do_not_grow_with_the_page(
    api: Any, db: Database, query: str
) -> None:
    stocked = await make_stocked(api)
    small = await _statements(api, db, f"/api/products?{query}&limit=2")
    large = await _statements(api, db, f"/api/products?{query}&limit=18")
    products = (await listed(api, f"{query}&limit=18"))["products"]
    assert len(products) >= 7
    wanted = [key for key in ("stock_levels", "variants") if key in query]
    assert all(set(wanted) <= set(product) for product in products)
    assert len(small) == len(large), (small, large)


async def test_the_statements_of_a_category_page_do_not_grow(api: Any, db: Database) -> None:
    stocked = await make_stocked(api)
    category = (await api.post("/api/categories", {"name": "All"})).data["id"]
    await api.post(f"/api/categories/{category}/products", {"product_ids": stocked["simple"] + stocked["variable"]})
    path = f"/api/categories/{category}/products?include=stock_levels,variants"
    assert len(await _statements(api, db, f"{path}&limit=2")) == len(await _statements(api, db, f"{path}&limit=18"))
    products = (await api.get(f"{path}&limit=18")).data["products"]
    assert len(products) == 18 and all("stock_levels" in p and "variants" in p for p in products)
