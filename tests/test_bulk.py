"""Bulk upsert by SKU over HTTP: NDJSON and CSV lines, each its own all-or-nothing unit,
answered line by line with the single write's messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from store.db import Database
from tests.factories import draw, post_product
from tests.test_media import ImageServer, images, settings  # noqa: F401 (fixtures)

NDJSON = {"Content-Type": "application/x-ndjson"}
CSV = {"Content-Type": "text/csv"}


def ndjson(*lines: Any) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


async def bulk(api: Any, body: bytes, headers: dict[str, str] = NDJSON, query: str = "",
               path: str = "/api/products/bulk") -> Any:
    return await api.call("POST", f"{path}{'?' + query if query else ''}", raw=body, headers=headers)


def statuses(response: Any) -> list[tuple[int, str | None, str]]:
    return [(r["line"], r["sku"], r["status"]) for r in response.data["results"]]


async def get_sku(api: Any, sku: str) -> dict[str, Any]:
    """The product with this SKU (an exact SKU comes first in a search)."""
    found = (await api.get(f"/api/products?search={sku}&limit=1")).data["products"]
    assert found and found[0]["sku"] == sku, found
    return dict(found[0])


async def test_unknown_skus_create_known_ones_update_and_the_same_values_change_nothing(api: Any) -> None:
    first = await bulk(api, ndjson({"sku": "A-1", "name": "Apron", "price": "20"},
                                   {"sku": "B-1", "name": "Bag", "stock": 4}))
    assert first.code == 200, first.body
    assert statuses(first) == [(1, "A-1", "created"), (2, "B-1", "created")]
    assert {k: first.data[k] for k in ("created", "updated", "unchanged", "failed")} == \
        {"created": 2, "updated": 0, "unchanged": 0, "failed": 0}
    apron = await get_sku(api, "A-1")
    assert apron["price"] == "20.0000" and apron["id"] == first.data["results"][0]["id"]

    second = await bulk(api, ndjson({"sku": "A-1", "price": "18.5"}, {"sku": "B-1", "name": "Bag"}))
    assert statuses(second) == [(1, "A-1", "updated"), (2, "B-1", "unchanged")]
    after = await get_sku(api, "A-1")
    assert after["price"] == "18.5000" and after["name"] == "Apron"  # only the fields given
    bag = await get_sku(api, "B-1")
    assert bag["updated_at"] == (await get_sku(api, "B-1"))["updated_at"]
    third = await bulk(api, ndjson({"sku": "B-1", "name": "Bag", "stock": 4}))
    assert statuses(third) == [(1, "B-1", "unchanged")]
    assert (await get_sku(api, "B-1"))["updated_at"] == bag["updated_at"]  # moved by nothing


async def test_the_same_sku_twice_applies_in_order(api: Any) -> None:
    response = await bulk(api, ndjson({"sku": "T-1", "name": "First"}, {"sku": "T-1", "name": "Second"}))
    assert statuses(response) == [(1, "T-1", "created"), (2, "T-1", "updated")]
    assert (await get_sku(api, "T-1"))["name"] == "Second"


async def test_a_bad_line_writes_nothing_of_itself_and_stops_nothing(api: Any, db: Database) -> None:
    response = await bulk(api, ndjson(
        {"sku": "OK-1", "name": "Good"},
        {"sku": "BAD-1", "name": "Half", "category_ids": [999999]},
        {"sku": "BAD-2", "name": "Bad", "price": "-1"},
        {"sku": "OK-2", "name": "Good too"},
    ) + b"not json\n" + ndjson({"sku": "BAD-3"}))
    assert statuses(response) == [(1, "OK-1", "created"), (2, "BAD-1", "failed"), (3, "BAD-2", "failed"),
                                  (4, "OK-2", "created"), (5, None, "failed"), (6, "BAD-3", "failed")]
    errors = [r["error"] for r in response.data["results"]]
    assert errors[1] == "category_ids: no category with id 999999"
    assert errors[5] == "name: is required"
    assert errors[4].startswith("body: malformed JSON")
    skus = {row[0] for row in db.execute_sql("SELECT sku FROM product")}
    assert skus == {"OK-1", "OK-2"}
    assert response.data["failed"] == 4 and response.data["created"] == 2


@pytest.mark.parametrize("body", [
    {"name": "X", "sku": "E-1", "price": "abc"},
    {"name": "X", "sku": "E-1", "price": "1.23456"},
    {"name": "X", "sku": "E-1", "ean": "1234567890123"},
    {"name": "X", "sku": "E-1", "status": "gone"},
    {"name": "X", "sku": "E-1", "stock": "5"},
    {"name": "X", "sku": "E-1", "colour": "red"},
    {"name": "X", "sku": "E-1", "publishing_channels": ["tv"]},
    {"name": "X", "sku": "E-1", "sale_price": "10", "price": "5"},
    {"name": "", "sku": "E-1"},
    {"name": "X", "sku": "has space"},
    {"name": "X", "sku": "E-1", "brand_id": 424242},
    {"name": "X", "sku": "E-1", "attributes": {"nope": 1}},
])
async def test_a_lines_error_is_the_single_writes(api: Any, body: dict[str, Any]) -> None:
    single = await api.post("/api/products", body)
    assert single.code == 400
    line = await bulk(api, ndjson(body))
    assert line.data["results"][0]["status"] == "failed"
    assert line.data["results"][0]["error"] == single.error


async def test_an_update_lines_error_is_the_patchs(api: Any) -> None:
    product = await post_product(api, "Mug", "MUG-1", price="10")
    for change in ({"sale_price": "12"}, {"slug": "Not A Slug"}, {"product_type": "wrong"}):
        single = await api.patch(f"/api/products/{product['id']}", change)
        assert single.code == 400
        line = await bulk(api, ndjson({"sku": "MUG-1", **change}))
        assert line.data["results"][0]["error"] == single.error, change


async def test_a_dry_run_writes_nothing_and_answers_the_same_report(api: Any, db: Database) -> None:
    await post_product(api, "Mug", "MUG-1")
    body = ndjson({"sku": "MUG-1", "name": "Cup"}, {"sku": "NEW-1", "name": "New"}, {"sku": "NEW-1", "price": "2"},
                  {"sku": "BAD", "price": "2"})
    before = db.execute_sql("SELECT count(*), max(updated_at) FROM product").fetchone()
    dry = await bulk(api, body, query="dry_run=true")
    assert statuses(dry) == [(1, "MUG-1", "updated"), (2, "NEW-1", "created"), (3, "NEW-1", "updated"),
                             (4, "BAD", "failed")]
    assert db.execute_sql("SELECT count(*), max(updated_at) FROM product").fetchone() == before
    real = await bulk(api, body)
    assert statuses(real) == statuses(dry)
    assert [r["error"] for r in real.data["results"]] == [r["error"] for r in dry.data["results"]]


async def test_a_body_that_is_not_a_feed_is_a_400_and_writes_nothing(api: Any, db: Database) -> None:
    wrong_type = await bulk(api, ndjson({"sku": "X", "name": "X"}), headers={"Content-Type": "application/json"})
    assert wrong_type.code == 400 and wrong_type.error.startswith("body: send NDJSON")
    binary = await bulk(api, b'{"sku": "X", "name": "X"}\n\xff\xfe\x00garbage\n')
    assert binary.code == 400 and binary.error.startswith("body: must be UTF-8")
    empty = await bulk(api, b"\n\n")
    assert empty.code == 400 and empty.error == "body: no lines"
    unknown = await bulk(api, b"sku,name,colour\nX,Apron,red\n", headers=CSV)
    assert unknown.code == 400 and unknown.error == "colour: unknown column"
    assert db.execute_sql("SELECT count(*) FROM product").fetchone()[0] == 0


async def test_csv_quoting_bom_semicolons_and_empty_cells(api: Any) -> None:
    await post_product(api, "Old name", "C-2", description="kept", sale_price="3", price="9")
    body = ('\ufeffsku;name;description;price;sale_price\n'
            'C-1;"Shirt; striped";"Two\nlines, and ""quotes""";19.90;\n'
            'C-2;;;;null\n').encode()
    response = await bulk(api, body, headers=CSV)
    assert statuses(response) == [(2, "C-1", "created"), (3, "C-2", "updated")]
    shirt = await get_sku(api, "C-1")
    assert shirt["name"] == "Shirt; striped" and shirt["description"] == 'Two\nlines, and "quotes"'
    assert shirt["price"] == "19.9000"
    kept = await get_sku(api, "C-2")
    assert (kept["name"], kept["description"], kept["price"]) == ("Old name", "kept", "9.0000")
    assert kept["sale_price"] is None  # "null" clears, an empty cell leaves as is


async def test_references_by_name_and_path_found_or_created(api: Any) -> None:
    missing = await bulk(api, ndjson({"sku": "R-1", "name": "Thing", "brand": "Acme Co",
                                      "categories": ["Home > Kitchen"]}))
    assert missing.data["results"][0]["error"] == "brand: no brand named 'Acme Co' (create_references=true creates it)"
    created = await bulk(api, ndjson({"sku": "R-1", "name": "Thing", "brand": "Acme Co", "supplier": "Sup",
                                      "vat_rate": "Standard Rate (RO) 21%",
                                      "categories": ["Home > Kitchen", "Gifts"]}), query="create_references=true")
    assert created.data["results"][0]["status"] == "created", created.body
    thing = await get_sku(api, "R-1")
    assert thing["brand"]["name"] == "Acme Co" and thing["supplier"]["name"] == "Sup"
    assert thing["vat_rate"]["rate"] == "21.0000" and thing["vat_rate"]["country_code"] == "RO"
    assert sorted(c["name"] for c in thing["categories"]) == ["Gifts", "Kitchen"]
    tree = (await api.get("/api/categories/tree")).data["categories"]
    assert [(n["name"], [c["name"] for c in n["children"]]) for n in tree] == [("Home", ["Kitchen"]), ("Gifts", [])]
    again = await bulk(api, ndjson({"sku": "R-1", "brand": "Acme Co", "categories": ["Gifts", "Home > Kitchen"],
                                    "vat_rate": "Standard Rate (RO)"}))
    assert statuses(again) == [(1, "R-1", "unchanged")]
    both = await bulk(api, ndjson({"sku": "R-1", "brand": "Acme Co", "brand_id": thing["brand"]["id"]}))
    assert both.data["results"][0]["error"] == "brand: give brand or brand_id, not both"


async def test_variants_stock_and_translations_on_a_line(api: Any) -> None:
    await api.post("/api/product-attributes", {"name": "Size", "code": "size", "type": "select",
                                               "options": ["S", "M"], "is_variant_axis": True})
    await api.post("/api/warehouses", {"name": "Cluj", "code": "CLJ"})
    line = {"sku": "TEE", "name": "Tee", "translations": {"ro": {"name": "Tricou"}},
            "variants": [{"sku": "TEE-S", "attributes": {"size": "S"}, "stock_quantity": 3},
                         {"sku": "TEE-M", "attributes": {"size": "M"}, "price": "12"}]}
    simple = {"sku": "CUP", "name": "Cup", "stock_levels": [{"warehouse_code": "MAIN", "quantity": 2},
                                                             {"warehouse_code": "CLJ", "quantity": 5}]}
    response = await bulk(api, ndjson(line, simple))
    assert statuses(response) == [(1, "TEE", "created"), (2, "CUP", "created")], response.body
    tee = await get_sku(api, "TEE")
    assert tee["product_type"] == "variable" and tee["stock"] == 3
    assert tee["available_translations"] == ["ro"]
    listed = (await api.get(f"/api/products/{tee['id']}/variants")).data["variants"]
    assert [(v["sku"], v["stock_quantity"], v["price"]) for v in listed] == [("TEE-S", 3, None), ("TEE-M", 0, "12.0000")]
    cup = await get_sku(api, "CUP")
    assert cup["stock"] == 7
    same = await bulk(api, ndjson(line, simple))
    assert statuses(same) == [(1, "TEE", "unchanged"), (2, "CUP", "unchanged")], same.body
    change = await bulk(api, ndjson({"sku": "TEE", "variants": [{"sku": "TEE-M", "stock_quantity": 9}],
                                     "translations": {"ro": {"description": "Bumbac"}}}))
    assert statuses(change) == [(1, "TEE", "updated")]
    ro = (await api.get(f"/api/products/{tee['id']}/translations/ro")).data
    assert (ro["name"], ro["description"]) == ("Tricou", "Bumbac")  # merged, not replaced
    bad = await bulk(api, ndjson({"sku": "TEE", "variants": [{"sku": "CUP"}]},
                                 {"sku": "CUP", "stock_levels": [{"warehouse_code": "NOPE", "quantity": 1}]}))
    assert [r["error"] for r in bad.data["results"]] == [
        "variants[0].sku: SKU 'CUP' is already taken",
        "stock_levels[0].warehouse_code: no warehouse with code 'NOPE' (create_references=true creates it)"]


async def test_images_are_fetched_after_the_data_and_not_twice(api: Any, images: ImageServer) -> None:
    url = images.add("/a.png", draw(4))
    line = {"sku": "IMG-1", "name": "Pictured", "images": [url]}
    first = await bulk(api, ndjson(line))
    assert statuses(first) == [(1, "IMG-1", "created")]
    product = await get_sku(api, "IMG-1")
    assert len(product["images"]) == 1
    second = await bulk(api, ndjson(line, {"sku": "IMG-1", "images": product["images"]}))
    assert statuses(second) == [(1, "IMG-1", "unchanged"), (2, "IMG-1", "unchanged")]
    assert images.requests == ["/a.png"]
    broken = await bulk(api, ndjson({"sku": "IMG-2", "name": "Broken", "images": [images.url("/missing.png")]}))
    result = broken.data["results"][0]
    assert result["status"] == "created" and result["error"] == "images[0].file_url: the server answered HTTP 404"


async def test_a_line_cannot_reach_another_organizations_rows(api: Any, other_api: Any, db: Database) -> None:
    theirs = await post_product(other_api, "Theirs", "SHARED")
    brand = (await other_api.post("/api/brands", {"name": "Their Brand"})).data
    category = (await other_api.post("/api/categories", {"name": "Their Category"})).data
    response = await bulk(api, ndjson({"sku": "SHARED", "name": "Mine"},
                                      {"sku": "M-2", "name": "X", "brand_id": brand["id"]},
                                      {"sku": "M-3", "name": "X", "category_ids": [category["id"]]},
                                      {"sku": "M-4", "name": "X", "brand": "Their Brand"}))
    assert statuses(response)[0] == (1, "SHARED", "created")
    assert [r["error"] for r in response.data["results"][1:]] == [
        f"brand_id: no brand with id {brand['id']}", f"category_ids: no category with id {category['id']}",
        "brand: no brand named 'Their Brand' (create_references=true creates it)"]
    assert (await other_api.get(f"/api/products/{theirs['id']}")).data["name"] == "Theirs"


async def test_a_variant_row_of_a_csv_is_a_variant_of_its_parent(api: Any) -> None:
    await api.post("/api/product-attributes", {"name": "Size", "code": "size", "type": "select",
                                               "options": ["S", "M"], "is_variant_axis": True})
    body = ("sku,parent_sku,name,price,attributes.size,stock_quantity\n"
            "POLO,,Polo,30,,\n"
            "POLO-S,POLO,,,S,4\n"
            "POLO-X,NOPE,,,S,1\n").encode()
    response = await bulk(api, body, headers=CSV)
    assert statuses(response) == [(2, "POLO", "created"), (3, "POLO-S", "created"), (4, "POLO-X", "failed")]
    assert response.data["results"][1]["kind"] == "variant"
    assert response.data["results"][2]["error"] == "parent_sku: no product with SKU 'NOPE'"
    assert (await get_sku(api, "POLO"))["stock"] == 4


# ---- export ---------------------------------------------------------------------------------

async def _catalog(api: Any) -> None:
    """A small catalog with every kind of field: attributes, variants, stock in two
    warehouses, categories two deep, references, translations."""
    for body in ({"name": "Size", "code": "size", "type": "select", "options": ["S", "M"], "is_variant_axis": True},
                 {"name": "Material", "code": "material", "type": "text"},
                 {"name": "Weight", "code": "weight_g", "type": "number"},
                 {"name": "Eco", "code": "eco", "type": "boolean"},
                 {"name": "Tags", "code": "tags", "type": "multiselect", "options": ["new", "sale|deal"]}):
        assert (await api.post("/api/product-attributes", body)).code == 201
    await api.post("/api/warehouses", {"name": "Cluj", "code": "CLJ"})
    lines = [
        {"sku": "SH-1", "name": "Shirt, striped", "description": "<p>Line one\nline two</p>", "price": "19.9",
         "sale_price": "15", "cost_price": "7.25", "currency": "RON", "status": "active", "ean": "5901234123457",
         "brand": "Nordwind", "supplier": "Textiles", "vat_rate": "Standard Rate (RO) 21%",
         "categories": ["Apparel > Tops", "Gifts"], "publishing_channels": ["web", "marketplace"],
         "product_condition": "refurbished", "short_description": "A shirt",
         "attributes": {"material": "Linen", "weight_g": 180.5, "eco": True, "tags": ["new", "sale|deal"]},
         "stock_levels": [{"warehouse_code": "MAIN", "quantity": 3}, {"warehouse_code": "CLJ", "quantity": 4}],
         "translations": {"ro": {"name": "Cămașă", "description": "<p>Dungi</p>"}, "de": {"name": "Hemd"}}},
        {"sku": "TEE", "name": "Tee", "status": "draft", "categories": ["Apparel > Tops"],
         "variants": [{"sku": "TEE-S", "attributes": {"size": "S"}, "stock_quantity": 2, "price": "9", "weight": "0.2"},
                      {"sku": "TEE-M", "attributes": {"size": "M"}, "stock_status": "backorder", "is_enabled": False}]},
        {"sku": "MUG", "name": "Mug", "status": "archived"},
    ]
    created = await bulk(api, ndjson(*lines), query="create_references=true")
    assert created.data["created"] == 3, created.body


async def _export(api: Any, query: str = "format=ndjson") -> Any:
    return await api.get(f"/api/products/export?{query}")


async def test_an_ndjson_export_line_is_the_product_with_its_variants_and_stock(api: Any) -> None:
    await _catalog(api)
    response = await _export(api, "format=ndjson&status=any" if False else "format=ndjson")
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/x-ndjson")
    assert response.headers["Content-Disposition"].startswith('attachment; filename="products-')
    lines = [json.loads(line) for line in response.raw.decode().splitlines()]
    assert [line["sku"] for line in lines] == ["SH-1", "TEE"]  # archived left out, as in the list
    for line in lines:
        single = (await api.get(f"/api/products/{line['id']}")).data
        variants = (await api.get(f"/api/products/{line['id']}/variants")).data["variants"]
        stock = (await api.get(f"/api/products/{line['id']}/stock")).data["stock_levels"]
        assert line == {**single, "variants": variants, "stock_levels": stock}
    active = await _export(api, "status=active")
    assert [json.loads(line)["sku"] for line in active.raw.decode().splitlines()] == ["SH-1"]
    found = await _export(api, "search=tee")
    assert [json.loads(line)["sku"] for line in found.raw.decode().splitlines()] == ["TEE"]
    bad = await _export(api, "format=xml")
    assert bad.code == 400 and bad.error == "format: must be one of ndjson, csv"


def _comparable(product: dict[str, Any]) -> dict[str, Any]:
    """What must match across organizations: everything but ids and timestamps."""
    skip = {"id", "created_at", "updated_at"}
    shown = {key: value for key, value in product.items() if key not in skip}
    for name in ("brand", "supplier", "vat_rate"):
        if shown.get(name):
            shown[name] = {k: v for k, v in shown[name].items() if k != "id"}
    shown["categories"] = sorted(c["name"] for c in shown["categories"])
    if "variants" in shown:
        shown["variants"] = [{k: v for k, v in variant.items() if k not in skip} for variant in shown["variants"]]
    if "stock_levels" in shown:
        shown["stock_levels"] = sorted((s["warehouse_code"], s["quantity"]) for s in shown["stock_levels"])
    return shown


async def _everything(api: Any) -> list[dict[str, Any]]:
    response = await _export(api, "format=ndjson&status=" + "")
    products = [json.loads(line) for line in response.raw.decode().splitlines()]
    for product in products:
        product["translations"] = (await api.get(f"/api/products/{product['id']}/translations")).data["translations"]
        for t in product["translations"]:
            del t["created_at"], t["updated_at"]
    return products


async def test_a_csv_export_recreates_the_catalog_elsewhere_and_changes_nothing_at_home(
        api: Any, other_api: Any) -> None:
    await _catalog(api)
    exported = await _export(api, "format=csv")
    assert exported.code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    text = exported.raw.decode()
    assert text.splitlines()[0].startswith("sku,parent_sku,name,slug")
    for body in ({"name": "Size", "code": "size", "type": "select", "options": ["S", "M"], "is_variant_axis": True},
                 {"name": "Material", "code": "material", "type": "text"},
                 {"name": "Weight", "code": "weight_g", "type": "number"},
                 {"name": "Eco", "code": "eco", "type": "boolean"},
                 {"name": "Tags", "code": "tags", "type": "multiselect", "options": ["new", "sale|deal"]}):
        assert (await other_api.post("/api/product-attributes", body)).code == 201
    elsewhere = await bulk(other_api, exported.raw, headers=CSV, query="create_references=true")
    assert elsewhere.data["failed"] == 0, elsewhere.body
    mine, theirs = await _everything(api), await _everything(other_api)
    assert [_comparable(p) for p in theirs] == [_comparable(p) for p in mine]
    home = await bulk(api, exported.raw, headers=CSV)
    assert {r["status"] for r in home.data["results"]} == {"unchanged"}, home.body


async def test_an_ndjson_export_imported_back_changes_nothing(api: Any) -> None:
    await _catalog(api)
    exported = await _export(api)
    again = await bulk(api, exported.raw)
    assert {r["status"] for r in again.data["results"]} == {"unchanged"}, again.body


async def test_categories_export_and_import_by_path(api: Any, other_api: Any) -> None:
    await _catalog(api)
    await api.put(f"/api/categories/{(await api.get('/api/categories')).data['categories'][0]['id']}",
                  {"description": "Clothes"})
    exported = await api.get("/api/categories/export?format=csv")
    assert exported.code == 200
    assert exported.raw.decode().splitlines()[0] == "path,description,slug"
    response = await bulk(other_api, exported.raw, headers=CSV, path="/api/categories/bulk")
    assert response.data["failed"] == 0 and response.data["created"] == 3, response.body

    def shape(nodes: list[dict[str, Any]]) -> list[Any]:
        return [(n["name"], n["slug"], n["description"], shape(n["children"])) for n in nodes]

    mine = shape((await api.get("/api/categories/tree")).data["categories"])
    assert shape((await other_api.get("/api/categories/tree")).data["categories"]) == mine
    again = await bulk(api, (await api.get("/api/categories/export")).raw, path="/api/categories/bulk")
    assert {r["status"] for r in again.data["results"]} == {"unchanged"}
