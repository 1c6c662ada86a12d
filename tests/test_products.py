"""The product API against a real server and a real SQLite file.

Create, read, partial update and soft delete; every bad input answers 400 naming the
field and writes nothing; lists (pages, filters, sort, ETag); stock per warehouse;
barcode lookup. Search ranking lives in test_search.py.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import pytest

from store import categories
from store.db import Database
from tests.factories import post_product

# Valid codes with a correct GS1 check digit.
EAN13 = "4006381333931"
EAN13_B = "5901234123457"
EAN8 = "96385074"
UPC_A = "036000291452"  # the same GTIN as EAN-13 0036000291452
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

PRODUCT_KEYS = {
    "id", "sku", "slug", "name", "description", "short_description", "product_type",
    "price", "sale_price", "cost_price", "currency", "status", "stock", "in_stock", "ean",
    "vat_rate", "brand", "supplier", "categories", "images", "publishing_channels",
    "available_translations", "product_condition", "attributes", "created_at", "updated_at",
}
MISSING = object()  # in a bad-input case: leave this field out of the body


# ---- helpers -------------------------------------------------------------------------

async def create(api: Any, name: str = "Linen Shirt", sku: str = "LIN-001", **fields: Any) -> dict[str, Any]:
    return await post_product(api, name, sku, **fields)


async def create_ref(api: Any, path: str, body: dict[str, Any]) -> int:
    response = await api.post(f"/api/{path}", body)
    assert response.code == 201, response.body
    return int(response.data["id"])


async def default_warehouse(api: Any) -> int:
    warehouses = (await api.get("/api/warehouses")).data["warehouses"]
    return next(w["id"] for w in warehouses if w["is_default"])


def category(db: Database, org_id: int, name: str) -> int:
    with db.writing():
        return int(categories.create_category(db, org_id, {"name": name})["id"])


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row a product write can touch, to prove a rejected request wrote nothing."""
    tables = ("product", "stock_level", "product_category", "product_status_count")
    return {t: db.execute_sql(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in tables}


def set_times(db: Database, product_id: int, updated_at: str, created_at: str | None = None) -> None:
    """Pin timestamps, so time filters and sorts are tested without sleeping."""
    db.execute_sql("UPDATE product SET updated_at = ?, created_at = coalesce(?, created_at)"
                   " WHERE id = ?", (updated_at, created_at, product_id))


async def list_ids(api: Any, query: str = "") -> list[int]:
    """The ids of a list page; 100 a page unless the query gives its own `limit`."""
    limit = "" if "limit=" in query else "limit=100&"
    response = await api.get(f"/api/products?{limit}{query}")
    assert response.code == 200, response.body
    return [p["id"] for p in response.data["products"]]


def without_times(product: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in product.items() if k not in ("created_at", "updated_at")}


# ---- create and read -----------------------------------------------------------------

async def test_create_answers_the_full_contract_object(db: Database, api: Any, org_id: int) -> None:
    brand = await create_ref(api, "brands", {"name": "Brand Name"})
    supplier = await create_ref(api, "suppliers", {"name": "Supplier Name"})
    vat = await create_ref(api, "vat-rates", {"name": "Standard Rate", "rate": "19", "country_code": "RO"})
    electronics = category(db, org_id, "Electronics")
    audio = category(db, org_id, "Audio")
    # The reference's create example; its EAN fails the check digit, so a valid one.
    response = await api.post("/api/products", {
        "name": "Product Name", "sku": "PROD-001", "description": "<p>Full description</p>",
        "short_description": "Brief summary", "price": "99.99", "sale_price": "79.99",
        "cost_price": "50.00", "currency": "EUR", "status": "active", "stock": 150,
        "ean": EAN13, "brand_id": brand, "supplier_id": supplier, "vat_rate_id": vat,
        "category_ids": [electronics, audio], "publishing_channels": ["marketplace", "web"],
        "product_type": "simple",
    })
    assert response.code == 201
    assert response.body["status"] == 1 and response.body["error"] is None
    product = response.data
    assert set(product) == PRODUCT_KEYS
    assert without_times(product) == {
        "id": product["id"], "sku": "PROD-001", "slug": "product-name", "name": "Product Name",
        "description": "<p>Full description</p>", "short_description": "Brief summary",
        "product_type": "simple", "price": "99.9900", "sale_price": "79.9900",
        "cost_price": "50.0000", "currency": "EUR", "status": "active", "stock": 150,
        "in_stock": True, "ean": EAN13,
        "vat_rate": {"id": vat, "name": "Standard Rate", "rate": "19.0000", "country_code": "RO"},
        "brand": {"id": brand, "name": "Brand Name"},
        "supplier": {"id": supplier, "name": "Supplier Name"},
        "categories": [{"id": audio, "name": "Audio"}, {"id": electronics, "name": "Electronics"}],
        "images": [],
        "publishing_channels": ["web", "marketplace"],  # the fixed channel order
        "available_translations": [],
        "product_condition": "new",
        "attributes": {},
    }
    assert TIMESTAMP.match(product["created_at"])
    assert product["updated_at"] == product["created_at"]
    # Detail and list show the very same object.
    assert (await api.get(f"/api/products/{product['id']}")).data == product
    assert (await api.get("/api/products")).data["products"] == [product]


async def test_create_defaults(api: Any) -> None:
    product = await create(api, name="Plain Mug", sku="MUG-1")
    assert without_times(product) == {
        "id": product["id"], "sku": "MUG-1", "slug": "plain-mug", "name": "Plain Mug",
        "description": "", "short_description": "", "product_type": "simple",
        "price": None, "sale_price": None, "cost_price": None, "currency": "EUR",
        "status": "draft", "stock": 0, "in_stock": False, "ean": None, "vat_rate": None,
        "brand": None, "supplier": None, "categories": [], "images": [],
        "publishing_channels": [], "available_translations": [], "product_condition": "new",
        "attributes": {},
    }


@pytest.mark.parametrize("sent, shown", [
    ("99.99", "99.9900"),
    ("5", "5.0000"),
    (5, "5.0000"),
    (0.5, "0.5000"),  # a JSON number is read as an exact decimal, never a float
    ("0.0001", "0.0001"),
    ("19.9900", "19.9900"),
    (" 12.5 ", "12.5000"),
    ("0", "0.0000"),
    ("99999999999.9999", "99999999999.9999"),
])
async def test_money_is_shown_with_four_places(api: Any, sent: Any, shown: str) -> None:
    product = await create(api, price=sent, cost_price=sent)
    assert (product["price"], product["cost_price"]) == (shown, shown)
    assert (await api.get(f"/api/products/{product['id']}")).data["price"] == shown


async def test_sale_price_may_equal_price(api: Any) -> None:
    product = await create(api, price="10", sale_price="10.0000")
    assert (product["price"], product["sale_price"]) == ("10.0000", "10.0000")
    unpriced = await create(api, sku="NO-PRICE", sale_price="3")  # nothing to compare with
    assert (unpriced["price"], unpriced["sale_price"]) == (None, "3.0000")


async def test_other_fields_round_trip(api: Any) -> None:
    for body in ({"name": "Color", "type": "select", "options": ["red", "blue"]},
                 {"name": "Size", "type": "number"}, {"name": "Weight", "type": "number"},
                 {"name": "Organic", "type": "boolean"},
                 {"name": "Tags", "type": "multiselect", "options": ["a", "b"]}):
        assert (await api.post("/api/product-attributes", body)).code == 201
    product = await create(
        api, currency="RON", product_type="variable", product_condition="refurbished",
        status="out_of_stock", ean=EAN8, slug="my-own-slug",
        attributes={"color": "red", "size": 42, "weight": 1.5, "organic": True, "tags": ["a", "b"]},
        publishing_channels=["email", "web", "web"],
    )
    assert product["currency"] == "RON"
    assert product["product_type"] == "variable"
    assert product["product_condition"] == "refurbished"
    assert product["status"] == "out_of_stock"
    assert product["ean"] == EAN8
    assert product["slug"] == "my-own-slug"
    assert product["attributes"] == {"color": "red", "size": 42, "weight": 1.5, "organic": True,
                                     "tags": ["a", "b"]}
    assert product["publishing_channels"] == ["web", "email"]


async def test_slugs_are_unique_and_ascii(api: Any) -> None:
    first = await create(api, name="Ceașcă Roșie!", sku="C-1")
    second = await create(api, name="ceasca rosie", sku="C-2")
    third = await create(api, name="Ceasca  Rosie", sku="C-3")
    assert [first["slug"], second["slug"], third["slug"]] == ["ceasca-rosie", "ceasca-rosie-2", "ceasca-rosie-3"]


async def test_longest_name_and_sku_are_accepted(api: Any) -> None:
    product = await create(api, name="n" * 255, sku="s" * 64)
    assert (len(product["name"]), len(product["sku"])) == (255, 64)


async def test_unknown_and_foreign_ids_are_404(api: Any, other_api: Any) -> None:
    mine = await create(api)
    theirs = await create(other_api, sku="THEIRS-1")
    for path in (f"/api/products/{theirs['id']}", "/api/products/999", "/api/products/9223372036854775808"):
        for method in ("get", "delete"):
            response = await getattr(api, method)(path)
            assert response.code == 404, (method, path)
        response = await api.patch(path, {"name": "Hijacked"})
        assert response.code == 404
    assert (await api.get("/api/products/999")).error == "product 999 not found"
    assert (await other_api.get(f"/api/products/{theirs['id']}")).data["name"] == "Linen Shirt"
    assert (await other_api.get(f"/api/products/{mine['id']}")).code == 404


async def test_references_of_another_organization_are_refused(db: Database, api: Any, other_api: Any,
                                                              other_org_id: int) -> None:
    brand = await create_ref(other_api, "brands", {"name": "Theirs"})
    supplier = await create_ref(other_api, "suppliers", {"name": "Theirs"})
    vat = await create_ref(other_api, "vat-rates", {"name": "Theirs", "rate": "9", "country_code": "DE"})
    foreign_category = category(db, other_org_id, "Theirs")
    before = snapshot(db)
    for field, value, message in (
        ("brand_id", brand, f"brand_id: no brand with id {brand}"),
        ("supplier_id", supplier, f"supplier_id: no supplier with id {supplier}"),
        ("vat_rate_id", vat, f"vat_rate_id: no vat rate with id {vat}"),
        ("category_ids", [foreign_category], f"category_ids: no category with id {foreign_category}"),
    ):
        response = await api.post("/api/products", {"name": "X", "sku": "X-1", field: value})
        assert (response.code, response.error) == (400, message)
    assert snapshot(db) == before


# ---- partial update ------------------------------------------------------------------

async def test_patch_changes_only_the_given_fields(api: Any) -> None:
    brand = await create_ref(api, "brands", {"name": "Acme"})
    before = await create(api, name="Product Name", price="99.99", sale_price="79.99",
                          description="Old", ean=EAN13, brand_id=brand, stock=4,
                          publishing_channels=["web"])
    response = await api.patch(f"/api/products/{before['id']}",
                               {"price": "89.99", "description": "Updated description"})
    assert response.code == 200
    after = response.data
    assert after == {**before, "price": "89.9900", "description": "Updated description",
                     "updated_at": after["updated_at"]}
    assert after["updated_at"] >= before["updated_at"]
    assert after["created_at"] == before["created_at"]
    assert (await api.get(f"/api/products/{before['id']}")).data == after


async def test_patch_name_keeps_the_slug_and_null_slug_remakes_it(api: Any) -> None:
    product = await create(api, name="Product Name")
    renamed = (await api.patch(f"/api/products/{product['id']}", {"name": "  Renamed Thing "})).data
    assert (renamed["name"], renamed["slug"]) == ("Renamed Thing", "product-name")
    remade = (await api.patch(f"/api/products/{product['id']}", {"slug": None})).data
    assert remade["slug"] == "renamed-thing"
    chosen = (await api.patch(f"/api/products/{product['id']}", {"slug": "chosen-slug"})).data
    assert chosen["slug"] == "chosen-slug"


async def test_patch_null_clears_optional_fields(db: Database, api: Any, org_id: int) -> None:
    brand = await create_ref(api, "brands", {"name": "Acme"})
    supplier = await create_ref(api, "suppliers", {"name": "Supplies Ltd"})
    vat = await create_ref(api, "vat-rates", {"name": "Reduced", "rate": "9", "country_code": "RO"})
    product = await create(api, price="10", sale_price="8", cost_price="5", ean=EAN13,
                           brand_id=brand, supplier_id=supplier, vat_rate_id=vat,
                           category_ids=[category(db, org_id, "Shirts")])
    cleared = (await api.patch(f"/api/products/{product['id']}", {
        "ean": None, "brand_id": None, "supplier_id": None, "vat_rate_id": None,
        "sale_price": None, "cost_price": None, "price": None, "category_ids": [],
    })).data
    assert {k: cleared[k] for k in ("ean", "brand", "supplier", "vat_rate", "sale_price",
                                    "cost_price", "price", "categories")} == {
        "ean": None, "brand": None, "supplier": None, "vat_rate": None, "sale_price": None,
        "cost_price": None, "price": None, "categories": [],
    }
    # The cleared EAN is free for another product.
    assert (await create(api, sku="OTHER", ean=EAN13))["ean"] == EAN13


async def test_patch_may_keep_its_own_sku_ean_and_slug(api: Any) -> None:
    product = await create(api, ean=EAN13)
    response = await api.patch(f"/api/products/{product['id']}",
                               {"sku": product["sku"], "ean": EAN13, "slug": product["slug"]})
    assert response.code == 200, response.body


async def test_patch_with_an_empty_object_changes_nothing_but_updated_at(api: Any) -> None:
    product = await create(api, price="3")
    after = (await api.patch(f"/api/products/{product['id']}", {})).data
    assert without_times(after) == without_times(product)


# ---- soft delete ---------------------------------------------------------------------

async def test_delete_archives(api: Any) -> None:
    kept = await create(api, sku="KEEP")
    gone = await create(api, sku="GONE", status="active")
    response = await api.delete(f"/api/products/{gone['id']}")
    assert response.code == 200
    assert response.data["status"] == "archived"
    assert without_times(response.data) == {**without_times(gone), "status": "archived"}
    assert (await api.get(f"/api/products/{gone['id']}")).data["status"] == "archived"
    listed = (await api.get("/api/products")).data
    assert [p["id"] for p in listed["products"]] == [kept["id"]]
    assert listed["pagination"]["total_items"] == 1
    assert await list_ids(api, "status=archived") == [gone["id"]]
    assert await list_ids(api, "status=active") == []
    # Deleting again is harmless.
    assert (await api.delete(f"/api/products/{gone['id']}")).data["status"] == "archived"
    assert (await api.get("/api/products?status=archived")).data["pagination"]["total_items"] == 1


# ---- bad input: 400, the field named, nothing written ---------------------------------

POST_CASES: list[tuple[str, Any, str]] = [
    # (case id, overrides of a valid body or raw bytes, exact message)
    ("stock-string", {"stock": "5"}, "stock: must be an integer"),
    ("stock-bool", {"stock": True}, "stock: must be an integer"),
    ("stock-float", {"stock": 5.5}, "stock: must be an integer"),
    ("stock-negative", {"stock": -1}, "stock: must be at least 0"),
    ("stock-too-big", {"stock": 2**31}, "stock: must be at most 2147483647"),
    ("stock-null", {"stock": None}, "stock: must not be null"),
    ("price-bool", {"price": True}, 'price: must be a decimal number or a string such as "19.99"'),
    ("price-list", {"price": [1]}, 'price: must be a decimal number or a string such as "19.99"'),
    ("price-words", {"price": "cheap"}, 'price: must be a decimal number such as "19.99"'),
    ("price-nan", {"price": "NaN"}, 'price: must be a decimal number such as "19.99"'),
    ("price-infinity", {"price": "Infinity"}, 'price: must be a decimal number such as "19.99"'),
    ("price-underscore", {"price": "1_000"}, 'price: must be a decimal number such as "19.99"'),
    ("price-arabic-digits", {"price": "١٢"}, 'price: must be a decimal number such as "19.99"'),
    ("price-exponent-string", {"price": "1e3"}, 'price: must be a decimal number such as "19.99"'),
    ("price-negative", {"price": "-0.01"}, "price: must not be negative"),
    ("price-negative-number", {"price": -1}, "price: must not be negative"),
    ("sale-negative", {"sale_price": "-1"}, "sale_price: must not be negative"),
    ("price-5-places", {"price": "1.23456"}, "price: must have at most 4 decimal places"),
    ("price-5-places-number", {"price": 1.23456}, "price: must have at most 4 decimal places"),
    ("cost-5-places", {"cost_price": "0.00001"}, "cost_price: must have at most 4 decimal places"),
    ("price-huge", {"price": "100000000000"}, "price: must be less than 100000000000"),
    ("name-number", {"name": 5}, "name: must be a string"),
    ("name-empty", {"name": ""}, "name: must not be empty"),
    ("name-blank", {"name": "   "}, "name: must not be empty"),
    ("name-256", {"name": "n" * 256}, "name: must be at most 255 characters"),
    ("name-null", {"name": None}, "name: must not be null"),
    ("name-missing", {"name": MISSING}, "name: is required"),
    ("sku-missing", {"sku": MISSING}, "sku: is required"),
    ("both-missing", {"name": MISSING, "sku": MISSING}, "name: is required; sku: is required"),
    ("sku-65", {"sku": "s" * 65}, "sku: must be at most 64 characters"),
    ("sku-space", {"sku": "A B"}, "sku: must not contain spaces or control characters"),
    ("sku-empty", {"sku": ""}, "sku: must not be empty"),
    ("sku-number", {"sku": 12}, "sku: must be a string"),
    ("unknown-field", {"colour": "red"}, "colour: unknown field"),
    ("contract-name-typo", {"brand": 1}, "brand: unknown field"),
    ("currency-lower", {"currency": "eur"}, "currency: must be an ISO 4217 currency code such as EUR"),
    ("currency-made-up", {"currency": "EURO"}, "currency: must be an ISO 4217 currency code such as EUR"),
    ("channel-unknown", {"publishing_channels": ["web", "print"]},
     "publishing_channels[1]: must be one of 'web', 'mobile', 'api', 'marketplace', 'social' or 'email'"),
    ("channels-string", {"publishing_channels": "web"}, "publishing_channels: must be a list"),
    ("status-unknown", {"status": "deleted"},
     "status: must be one of 'draft', 'active', 'archived' or 'out_of_stock'"),
    ("type-unknown", {"product_type": "bundle"}, "product_type: must be one of 'simple' or 'variable'"),
    ("condition-unknown", {"product_condition": "broken"},
     "product_condition: must be one of 'new', 'used' or 'refurbished'"),
    ("ean-contract-example", {"ean": "1234567890123"}, "ean: invalid check digit: expected 8, got 3"),
    ("ean-check-digit", {"ean": "4006381333932"}, "ean: invalid check digit: expected 1, got 2"),
    ("ean-length", {"ean": "12345"}, "ean: must be 8, 12 or 13 digits (EAN-8, UPC-A or EAN-13)"),
    ("ean-letters", {"ean": "40063813339AB"}, "ean: must be 8, 12 or 13 digits (EAN-8, UPC-A or EAN-13)"),
    ("ean-number", {"ean": 4006381333931}, "ean: must be a string"),
    ("ean-duplicate", {"ean": EAN13}, f"ean: EAN {EAN13} is already used by product TAKEN-1"),
    ("ean-duplicate-upc-form", {"ean": "0" + UPC_A},
     f"ean: EAN 0{UPC_A} is already used by product UPC-1"),
    ("ean-duplicate-upc-of-ean13", {"ean": "012345678905"},
     "ean: EAN 012345678905 is already used by product PAD-1"),
    ("sku-duplicate", {"sku": "TAKEN-1"}, "sku: SKU 'TAKEN-1' is already taken"),
    ("slug-duplicate", {"slug": "taken-one"}, "slug: slug 'taken-one' is already taken"),
    ("slug-invalid", {"slug": "Not A Slug"}, "slug: must be lower-case letters, digits and single hyphens"),
    ("slug-201", {"slug": "s" * 201}, "slug: must be at most 200 characters"),
    ("short-description-2001", {"short_description": "d" * 2001},
     "short_description: must be at most 2000 characters"),
    ("description-65536", {"description": "d" * 65536}, "description: must be at most 65535 characters"),
    ("brand-unknown", {"brand_id": 999}, "brand_id: no brand with id 999"),
    ("brand-string", {"brand_id": "1"}, "brand_id: must be an integer"),
    ("brand-zero", {"brand_id": 0}, "brand_id: must be at least 1"),
    ("supplier-unknown", {"supplier_id": 999}, "supplier_id: no supplier with id 999"),
    ("vat-unknown", {"vat_rate_id": 999}, "vat_rate_id: no vat rate with id 999"),
    ("category-unknown", {"category_ids": [999]}, "category_ids: no category with id 999"),
    ("category-string", {"category_ids": ["1"]}, "category_ids[0]: must be an integer"),
    ("sale-above-price", {"price": "10", "sale_price": "10.0001"}, "sale_price: must not be greater than price"),
    ("attributes-list", {"attributes": []}, "attributes: must be an object"),
    ("attribute-undefined", {"attributes": {"colour": "red"}}, "attributes.colour: no attribute with code 'colour'"),
    ("malformed-json", b'{"name": "X", ', "body: malformed JSON: "),
    ("nan-literal", b'{"name": "X", "sku": "X", "price": NaN}', "body: malformed JSON: NaN is not valid JSON"),
    ("json-array", b'[{"name": "X", "sku": "X"}]', "body: must be a JSON object"),
    ("json-string", b'"X"', "body: must be a JSON object"),
    ("json-null", b"null", "body: must be a JSON object"),
    ("not-utf8", b'{"name": "Caf\xe9", "sku": "X"}', "body: must be UTF-8 encoded JSON"),
    ("empty-body", b"", "body: a JSON body is required"),
]


def _request_body(overrides: Any, valid: dict[str, Any]) -> dict[str, Any]:
    body = {**valid, **overrides}
    return {k: v for k, v in body.items() if v is not MISSING}


async def _send(api: Any, method: str, path: str, case: Any, valid: dict[str, Any]) -> Any:
    if isinstance(case, bytes):
        return await api.call(method, path, raw=case)
    return await api.call(method, path, _request_body(case, valid))


def _check_error(response: Any, expected: str) -> None:
    assert response.code == 400, response.body
    if expected.endswith(": "):  # the parser's own detail follows
        assert response.error.startswith(expected), response.error
    else:
        assert response.error == expected


@pytest.mark.parametrize("case, expected", [c[1:] for c in POST_CASES], ids=[c[0] for c in POST_CASES])
async def test_create_rejects_bad_input_and_writes_nothing(db: Database, api: Any, case: Any, expected: str) -> None:
    await create(api, name="Taken One", sku="TAKEN-1", ean=EAN13)
    await create(api, name="Upc Item", sku="UPC-1", ean=UPC_A)
    await create(api, name="Padded Upc", sku="PAD-1", ean="0012345678905")
    before = snapshot(db)
    response = await _send(api, "POST", "/api/products", case,
                           {"name": "Linen Shirt", "sku": "LIN-001", "stock": 3})
    _check_error(response, expected)
    assert response.body == {"status": 0, "data": None, "error": response.error}
    assert snapshot(db) == before


PATCH_CASES: list[tuple[str, Any, str]] = [
    ("name-null", {"name": None}, "name: must not be null"),
    ("sku-null", {"sku": None}, "sku: must not be null"),
    ("description-null", {"description": None}, "description: must not be null"),
    ("stock-null", {"stock": None}, "stock: must not be null"),
    ("currency-null", {"currency": None}, "currency: must not be null"),
    ("channels-null", {"publishing_channels": None}, "publishing_channels: must not be null"),
    ("name-number", {"name": 5}, "name: must be a string"),
    ("name-256", {"name": "n" * 256}, "name: must be at most 255 characters"),
    ("sku-65", {"sku": "s" * 65}, "sku: must be at most 64 characters"),
    ("stock-string", {"stock": "5"}, "stock: must be an integer"),
    ("stock-negative", {"stock": -1}, "stock: must be at least 0"),
    ("price-bool", {"price": True}, 'price: must be a decimal number or a string such as "19.99"'),
    ("price-negative", {"price": "-0.01"}, "price: must not be negative"),
    ("price-5-places", {"price": "1.00001"}, "price: must have at most 4 decimal places"),
    ("unknown-field", {"colour": "red"}, "colour: unknown field"),
    ("read-only-field", {"id": 5}, "id: unknown field"),
    ("sale-above-price", {"sale_price": "10.01"}, "sale_price: must not be greater than price"),
    ("price-below-sale", {"price": "7.99"}, "sale_price: must not be greater than price"),
    ("ean-contract-example", {"ean": "1234567890123"}, "ean: invalid check digit: expected 8, got 3"),
    ("ean-duplicate", {"ean": EAN13}, f"ean: EAN {EAN13} is already used by product TAKEN-1"),
    ("sku-duplicate", {"sku": "TAKEN-1"}, "sku: SKU 'TAKEN-1' is already taken"),
    ("slug-duplicate", {"slug": "taken-one"}, "slug: slug 'taken-one' is already taken"),
    ("brand-unknown", {"brand_id": 999}, "brand_id: no brand with id 999"),
    ("category-unknown", {"category_ids": [999]}, "category_ids: no category with id 999"),
    ("currency-invalid", {"currency": "EURO"}, "currency: must be an ISO 4217 currency code such as EUR"),
    ("channel-invalid", {"publishing_channels": ["print"]},
     "publishing_channels[0]: must be one of 'web', 'mobile', 'api', 'marketplace', 'social' or 'email'"),
    # A good field beside a bad one: the good one must not land either.
    ("good-and-bad", {"price": "20", "stock": -1}, "stock: must be at least 0"),
    ("late-failure", {"name": "Renamed", "stock": 50, "category_ids": [999]},
     "category_ids: no category with id 999"),
    ("malformed-json", b'{"price": ', "body: malformed JSON: "),
    ("json-array", b'[{"price": "1"}]', "body: must be a JSON object"),
    ("not-utf8", b'{"name": "Caf\xe9"}', "body: must be UTF-8 encoded JSON"),
    ("empty-body", b"", "body: a JSON body is required"),
]


@pytest.mark.parametrize("case, expected", [c[1:] for c in PATCH_CASES], ids=[c[0] for c in PATCH_CASES])
async def test_patch_rejects_bad_input_and_changes_nothing(db: Database, api: Any, case: Any, expected: str) -> None:
    await create(api, name="Taken One", sku="TAKEN-1", ean=EAN13)
    product = await create(api, price="10", sale_price="8", ean=EAN13_B, stock=3)
    before = snapshot(db)
    response = await _send(api, "PATCH", f"/api/products/{product['id']}", case, {})
    _check_error(response, expected)
    assert snapshot(db) == before
    assert (await api.get(f"/api/products/{product['id']}")).data == product


# ---- lists ---------------------------------------------------------------------------

async def test_pagination_arithmetic(api: Any) -> None:
    ids = [(await create(api, name=f"Item {i}", sku=f"I-{i}"))["id"] for i in range(5)]
    pages = []
    for page in (1, 2, 3):
        data = (await api.get(f"/api/products?limit=2&page={page}")).data
        assert data["pagination"] == {"current_page": page, "total_pages": 3, "total_items": 5,
                                      "items_per_page": 2}
        pages.append([p["id"] for p in data["products"]])
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]
    past = (await api.get("/api/products?limit=2&page=4")).data
    assert past == {"products": [], "pagination": {"current_page": 4, "total_pages": 3,
                                                   "total_items": 5, "items_per_page": 2}}
    default = (await api.get("/api/products")).data["pagination"]
    assert default == {"current_page": 1, "total_pages": 1, "total_items": 5, "items_per_page": 20}
    exact = (await api.get("/api/products?limit=5")).data["pagination"]
    assert (exact["total_pages"], exact["total_items"]) == (1, 5)


async def test_empty_list(api: Any) -> None:
    assert (await api.get("/api/products")).data == {
        "products": [],
        "pagination": {"current_page": 1, "total_pages": 0, "total_items": 0, "items_per_page": 20},
    }


SORT_ERROR = ("sort: must be one of id, -id, name, -name, sku, -sku, price"
              ", -price, stock, -stock, created_at, -created_at, updated_at, -updated_at")
LIST_QUERY_CASES = [
    ("limit=0", "limit: must be between 1 and 100"),
    ("limit=101", "limit: must be between 1 and 100"),
    ("limit=-1", "limit: must be between 1 and 100"),
    ("limit=abc", "limit: must be an integer"),
    ("limit=1.5", "limit: must be an integer"),
    ("page=0", "page: must be between 1 and 1000000000"),
    ("page=abc", "page: must be an integer"),
    ("status=deleted", "status: must be one of draft, active, archived, out_of_stock, any (got 'deleted')"),
    ("status=any,deleted", "status: must be one of draft, active, archived, out_of_stock, any (got 'deleted')"),
    ("status=active,deleted", "status: must be one of draft, active, archived, out_of_stock, any (got 'deleted')"),
    ("status=active,,draft", "status: an empty value in the list (two commas, or one at an end)"),
    ("status=active,", "status: an empty value in the list (two commas, or one at an end)"),
    ("status=active&status=draft", "status: sent more than once; send one list separated by commas"),
    ("page=1&page=2", "page: sent more than once"),
    ("limt=5", "limt: unknown query parameter"),
    ("sku=TSH-0002&limt=5&sort=id&q=x", "limt: unknown query parameter; q: unknown query parameter"),
    ("sku=" + "S" * 65, "sku: each SKU is at most 64 characters"),
    ("sku=" + ",".join(f"S{i}" for i in range(101)), "sku: at most 100 values"),
    ("ean=123", "ean: '123' is not 8, 12 or 13 digits (EAN-8, UPC-A or EAN-13)"),
    ("ean=5940000000011,594000000001x", "ean: '594000000001x' is not 8, 12 or 13 digits (EAN-8, UPC-A or EAN-13)"),
    ("include=stock", "include: must be one of stock_levels, variants (got 'stock')"),
    ("channel=print", "channel: must be one of web, mobile, api, marketplace, social, email"),
    ("brand=abc", "brand: must be an integer"),
    ("brand=0", "brand: must be between 1 and 9223372036854775807"),
    ("category=abc", "category: must be an integer"),
    ("updated_since=yesterday", "updated_since: must be an ISO 8601 date or time, e.g. 2026-01-31T12:00:00Z"),
    ("updated_since=0001-01-01T00:00:00%2B05:00",
     "updated_since: must be an ISO 8601 date or time, e.g. 2026-01-31T12:00:00Z"),
    ("updated_since=9999-12-31T23:59:59-05:00",
     "updated_since: must be an ISO 8601 date or time, e.g. 2026-01-31T12:00:00Z"),
    ("limit=1_0", "limit: must be an integer"),
    ("page=%D9%A1", "page: must be an integer"),  # an Arabic-Indic digit one
    ("brand=" + "9" * 30, "brand: must be an integer"),
    ("sort=colour", SORT_ERROR),
    ("sort=%2Bname", SORT_ERROR),
    ("sort=name,id", SORT_ERROR),
    ("search=" + "x" * 201, "search: must be at most 200 characters"),
]


@pytest.mark.parametrize("query, expected", LIST_QUERY_CASES, ids=[q[:30] for q, _ in LIST_QUERY_CASES])
async def test_list_rejects_bad_parameters(api: Any, query: str, expected: str) -> None:
    await create(api)
    response = await api.get(f"/api/products?{query}")
    _check_error(response, expected)


async def test_list_filters(db: Database, api: Any, org_id: int) -> None:
    acme = await create_ref(api, "brands", {"name": "Acme"})
    globex = await create_ref(api, "brands", {"name": "Globex"})
    shirts = category(db, org_id, "Shirts")
    hats = category(db, org_id, "Hats")
    a = (await create(api, sku="A", status="active", brand_id=acme, publishing_channels=["web"],
                      category_ids=[shirts]))["id"]
    b = (await create(api, sku="B", status="active", brand_id=globex,
                      publishing_channels=["web", "marketplace"], category_ids=[shirts, hats]))["id"]
    c = (await create(api, sku="C", status="draft", brand_id=acme, publishing_channels=["marketplace"]))["id"]
    d = (await create(api, sku="D", status="out_of_stock"))["id"]
    e = (await create(api, sku="E", status="archived", brand_id=acme, publishing_channels=["web"],
                      category_ids=[shirts]))["id"]

    assert await list_ids(api) == [a, b, c, d]
    assert await list_ids(api, "status=active") == [a, b]
    assert await list_ids(api, "status=draft") == [c]
    assert await list_ids(api, "status=out_of_stock") == [d]
    assert await list_ids(api, "status=archived") == [e]
    assert await list_ids(api, f"brand={acme}") == [a, c]
    assert await list_ids(api, f"brand={acme}&status=archived") == [e]
    assert await list_ids(api, "brand=999") == []
    assert await list_ids(api, "channel=web") == [a, b]
    assert await list_ids(api, "channel=marketplace") == [b, c]
    assert await list_ids(api, "channel=email") == []
    assert await list_ids(api, f"category={shirts}") == [a, b]
    assert await list_ids(api, f"category={hats}") == [b]
    assert await list_ids(api, f"brand={acme}&channel=web&status=active&category={shirts}") == [a]
    filtered = (await api.get(f"/api/products?brand={acme}&limit=1")).data["pagination"]
    assert (filtered["total_items"], filtered["total_pages"]) == (2, 2)


async def test_filters_do_not_reach_another_organization(db: Database, api: Any, other_api: Any, other_org_id: int) -> None:
    theirs = await create_ref(other_api, "brands", {"name": "Theirs"})
    their_category = category(db, other_org_id, "Theirs")
    await create(other_api, sku="T-1", brand_id=theirs, category_ids=[their_category],
                 publishing_channels=["web"])
    await create(api, sku="MINE")
    assert await list_ids(api, f"brand={theirs}") == []
    assert await list_ids(api, f"category={their_category}") == []
    assert await list_ids(api, "channel=web") == []
    assert (await api.get("/api/products")).data["pagination"]["total_items"] == 1


async def test_updated_since(db: Database, api: Any) -> None:
    ids = [(await create(api, sku=f"U-{i}"))["id"] for i in range(3)]
    for day, product_id in enumerate(ids, start=1):
        set_times(db, product_id, f"2026-01-0{day}T00:00:00.000000Z")
    assert await list_ids(api, "updated_since=2026-01-02T00:00:00Z") == ids[1:]
    assert await list_ids(api, "updated_since=2026-01-02") == ids[1:]  # a naive date is UTC
    assert await list_ids(api, "updated_since=2026-01-02T00:00:00.000001Z") == ids[2:]
    offset = urllib.parse.quote("2026-01-02T01:00:00+01:00")  # the same moment
    assert await list_ids(api, f"updated_since={offset}") == ids[1:]
    assert await list_ids(api, "updated_since=2026-01-02T01:00:00+01:00") == ids[1:]  # '+' as space
    assert await list_ids(api, "updated_since=2027-01-01T00:00:00Z") == []
    spaced = urllib.parse.quote("2026-01-02 00:00:00")  # a space instead of the T
    assert await list_ids(api, f"updated_since={spaced}") == ids[1:]
    # Any write moves a product forward.
    await api.patch(f"/api/products/{ids[0]}", {"price": "1"})
    assert await list_ids(api, "updated_since=2026-01-02T00:00:00Z") == ids


async def _sort_catalog(api: Any, db: Database) -> dict[str, int]:
    rows = [  # name, sku, price, stock, created day, updated day
        ("banana", "S-3", "5", 2, 1, 3),
        ("Apple", "S-1", None, 0, 2, 1),
        ("cherry", "S-2", "7.5", 9, 3, 4),
        ("Date", "S-4", "5", 1, 4, 2),
    ]
    ids = {}
    for name, sku, price, stock, created, updated in rows:
        product = await create(api, name=name, sku=sku, price=price, stock=stock)
        set_times(db, product["id"], f"2026-02-0{updated}T00:00:00.000000Z", f"2026-01-0{created}T00:00:00.000000Z")
        ids[name[0].upper()] = product["id"]
    return ids


SORT_CASES = [
    ("id", "BACD"),  # ids in creation order: banana, Apple, cherry, Date
    ("-id", "DCAB"),
    ("name", "ABCD"),  # case-insensitive
    ("-name", "DCBA"),
    ("price", "BDCA"),  # ties (5.00) by id; no price last
    ("-price", "CDBA"),  # no price last in this direction too
    ("sku", "ACBD"),
    ("-sku", "DBCA"),
    ("stock", "ADBC"),
    ("-stock", "CBDA"),
    ("created_at", "BACD"),
    ("-created_at", "DCAB"),
    ("updated_at", "ADBC"),
    ("-updated_at", "CBDA"),
]


@pytest.mark.parametrize("sort, letters", SORT_CASES)
async def test_sort(db: Database, api: Any, sort: str, letters: str) -> None:
    ids = await _sort_catalog(api, db)
    expected = [ids[letter] for letter in letters]
    assert await list_ids(api, f"sort={sort}") == expected
    # The same order holds across pages.
    pages = [await list_ids(api, f"sort={sort}&limit=3&page={page}") for page in (1, 2)]
    assert pages[0] + pages[1] == expected


async def test_etag_and_if_none_match(api: Any) -> None:
    product = await create(api)
    for path in ("/api/products", f"/api/products/{product['id']}", "/api/products?status=draft"):
        first = await api.get(path)
        etag = first.headers.get("Etag")
        assert etag, path
        again = await api.get(path, headers={"If-None-Match": etag})
        assert again.code == 304
        assert again.raw == b""
        assert (await api.get(path, headers={"If-None-Match": '"something-else"'})).code == 200
    old = (await api.get("/api/products")).headers["Etag"]
    await api.patch(f"/api/products/{product['id']}", {"name": "Changed"})
    changed = await api.get("/api/products", headers={"If-None-Match": old})
    assert changed.code == 200
    assert changed.data["products"][0]["name"] == "Changed"
    assert changed.headers["Etag"] != old


# ---- stock per warehouse -------------------------------------------------------------

async def test_stock_is_the_sum_of_warehouse_levels(api: Any) -> None:
    main = await default_warehouse(api)
    back = await create_ref(api, "warehouses", {"name": "Backroom", "code": "BACK"})
    product = await create(api, stock=5)
    assert (product["stock"], product["in_stock"]) == (5, True)
    path = f"/api/products/{product['id']}/stock"

    def levels(main_qty: int, back_qty: int) -> list[dict[str, Any]]:
        return [
            {"warehouse_id": main, "warehouse_name": "Main warehouse", "warehouse_code": "MAIN",
             "quantity": main_qty},
            {"warehouse_id": back, "warehouse_name": "Backroom", "warehouse_code": "BACK",
             "quantity": back_qty},
        ]

    assert (await api.get(path)).data["stock_levels"] == levels(5, 0)
    response = await api.put(path, [{"warehouse_id": back, "quantity": 7}])
    assert response.code == 200
    assert (response.data["stock"], response.data["in_stock"]) == (12, True)
    assert response.data["stock_levels"] == levels(5, 7)
    assert (await api.get(f"/api/products/{product['id']}")).data["stock"] == 12

    # Writing `stock` on the product sets the default warehouse's level only.
    patched = (await api.patch(f"/api/products/{product['id']}", {"stock": 0})).data
    assert (patched["stock"], patched["in_stock"]) == (7, True)
    assert (await api.get(path)).data["stock_levels"] == levels(0, 7)

    emptied = (await api.put(path, [{"warehouse_id": main, "quantity": 0},
                                    {"warehouse_id": back, "quantity": 0}])).data
    assert (emptied["stock"], emptied["in_stock"]) == (0, False)
    assert (await list_ids(api, "sort=-stock")) == [product["id"]]

    restocked = (await api.put(path, [{"warehouse_id": main, "quantity": 1}])).data
    assert (restocked["stock"], restocked["in_stock"]) == (1, True)
    unchanged = (await api.put(path, [])).data
    assert unchanged["stock"] == 1


async def test_create_with_zero_stock(api: Any) -> None:
    product = await create(api, stock=0)
    assert (product["stock"], product["in_stock"]) == (0, False)
    levels = (await api.get(f"/api/products/{product['id']}/stock")).data["stock_levels"]
    assert [level["quantity"] for level in levels] == [0]


STOCK_CASES: list[tuple[str, Any, str]] = [
    # "MAIN"/"BACK"/"THEIRS" are replaced by the warehouses' ids.
    ("negative", [{"warehouse_id": "BACK", "quantity": -1}], "[0].quantity: must be at least 0"),
    ("quantity-string", [{"warehouse_id": "BACK", "quantity": "5"}], "[0].quantity: must be an integer"),
    ("quantity-missing", [{"warehouse_id": "BACK"}], "[0].quantity: is required"),
    ("unknown-field", [{"warehouse_id": "BACK", "quantity": 1, "bin": "A1"}], "[0].bin: unknown field"),
    ("unknown-warehouse", [{"warehouse_id": 999, "quantity": 1}], "[0].warehouse_id: no warehouse with id 999"),
    ("foreign-warehouse", [{"warehouse_id": "THEIRS", "quantity": 1}],
     "[0].warehouse_id: no warehouse with id THEIRS"),
    ("good-then-unknown", [{"warehouse_id": "MAIN", "quantity": 9}, {"warehouse_id": 999, "quantity": 1}],
     "[1].warehouse_id: no warehouse with id 999"),
    ("duplicate", [{"warehouse_id": "BACK", "quantity": 1}, {"warehouse_id": "BACK", "quantity": 2}],
     "[1].warehouse_id: warehouse BACK is listed twice"),
    ("object-body", {"warehouse_id": "BACK", "quantity": 1},
     'body: must be a JSON list such as [{"warehouse_id": 1, "quantity": 5}]'),
    ("list-of-numbers", [5], "[0]: must be an object"),
    ("malformed-json", b"[{", "body: malformed JSON: "),
    ("empty-body", b"", "body: a JSON body is required"),
]


def _fill(value: Any, ids: dict[str, int]) -> Any:
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, str) and value in ids:
        return ids[value]
    return value


@pytest.mark.parametrize("case, expected", [c[1:] for c in STOCK_CASES], ids=[c[0] for c in STOCK_CASES])
async def test_stock_rejects_bad_input_and_writes_nothing(db: Database, api: Any, other_api: Any, case: Any,
                                                         expected: str) -> None:
    ids = {
        "MAIN": await default_warehouse(api),
        "BACK": await create_ref(api, "warehouses", {"name": "Backroom", "code": "BACK"}),
        "THEIRS": await create_ref(other_api, "warehouses", {"name": "Theirs", "code": "T"}),
    }
    product = await create(api, stock=5)
    before = snapshot(db)
    path = f"/api/products/{product['id']}/stock"
    if isinstance(case, bytes):
        response = await api.put(path, raw=case)
    else:
        response = await api.put(path, _fill(case, ids))
    for name, value in ids.items():
        expected = expected.replace(name, str(value))
    _check_error(response, expected)
    assert snapshot(db) == before


async def test_stock_of_unknown_or_foreign_product_is_404(api: Any, other_api: Any) -> None:
    theirs = await create(other_api, stock=2)
    main = await default_warehouse(api)
    for product_id in (theirs["id"], 999):
        path = f"/api/products/{product_id}/stock"
        assert (await api.get(path)).code == 404
        assert (await api.put(path, [{"warehouse_id": main, "quantity": 1}])).code == 404
    assert (await other_api.get(f"/api/products/{theirs['id']}")).data["stock"] == 2


# ---- barcode lookup ------------------------------------------------------------------

async def test_barcode_lookup_answers_the_product_with_stock_levels(api: Any) -> None:
    main = await default_warehouse(api)
    back = await create_ref(api, "warehouses", {"name": "Backroom", "code": "BACK"})
    product = await create(api, ean=EAN13, stock=4)
    await api.put(f"/api/products/{product['id']}/stock", [{"warehouse_id": back, "quantity": 6}])
    response = await api.get(f"/api/products/barcode/{EAN13}")
    assert response.code == 200
    found = response.data
    assert set(found) == PRODUCT_KEYS | {"stock_levels", "matched_variant"}
    assert found["matched_variant"] is None
    assert (found["id"], found["ean"], found["stock"]) == (product["id"], EAN13, 10)
    assert [(s["warehouse_id"], s["quantity"]) for s in found["stock_levels"]] == [(main, 4), (back, 6)]


async def test_barcode_lookup_forms_and_archived(api: Any) -> None:
    short = await create(api, sku="E8", ean=EAN8)
    upc = await create(api, sku="UPC", ean=UPC_A)
    padded = await create(api, sku="PAD", ean="0012345678905")  # UPC-A 012345678905 as EAN-13
    archived = await create(api, sku="OLD", ean=EAN13_B)
    await api.delete(f"/api/products/{archived['id']}")
    for barcode, product in (
        (EAN8, short), (UPC_A, upc), ("0" + UPC_A, upc), ("012345678905", padded),
        ("0012345678905", padded), (EAN13_B, archived),
    ):
        response = await api.get(f"/api/products/barcode/{barcode}")
        assert response.code == 200, barcode
        assert response.data["id"] == product["id"], barcode
    assert (await api.get(f"/api/products/barcode/{EAN13_B}")).data["status"] == "archived"


@pytest.mark.parametrize("barcode, code, message", [
    (EAN13, 404, f"no product with barcode {EAN13}"),
    ("12345678", 404, "no product with barcode 12345678"),
    ("ABCDEFGHIJKLM", 400, "barcode: must be 8, 12 or 13 digits (EAN-8, UPC-A or EAN-13)"),
    ("12345", 400, "barcode: must be 8, 12 or 13 digits (EAN-8, UPC-A or EAN-13)"),
    ("40063813339311", 400, "barcode: must be 8, 12 or 13 digits (EAN-8, UPC-A or EAN-13)"),
    ("%D9%A1%D9%A2%D9%A3%D9%A4%D9%A5%D9%A6%D9%A7%D9%A8", 400,
     "barcode: must be 8, 12 or 13 digits (EAN-8, UPC-A or EAN-13)"),  # Arabic-Indic digits
])
async def test_barcode_lookup_errors(api: Any, barcode: str, code: int, message: str) -> None:
    await create(api, ean=EAN13_B)
    response = await api.get(f"/api/products/barcode/{barcode}")
    assert (response.code, response.error) == (code, message)


async def test_barcode_lookup_stays_in_the_organization(api: Any, other_api: Any) -> None:
    await create(other_api, ean=EAN13)
    response = await api.get(f"/api/products/barcode/{EAN13}")
    assert response.code == 404
    # Another organization may use the same EAN.
    assert (await create(api, ean=EAN13))["ean"] == EAN13


@pytest.mark.parametrize("path, field, body, shown", [
    ("brands", "brand", {"name": "Acme"}, {"name": "Acme Two"}),
    ("suppliers", "supplier", {"name": "Textiles"}, {"name": "Textiles Two"}),
    ("vat-rates", "vat_rate", {"name": "Standard", "rate": "19", "country_code": "RO"},
     {"rate": "21.0000"}),
])
async def test_a_renamed_reference_shows_in_products_read_before(
    api: Any, path: str, field: str, body: dict[str, Any], shown: dict[str, str],
) -> None:
    ref_id = await create_ref(api, path, body)
    product = await create(api, **{f"{field}_id": ref_id})
    # Read both ways first, so that any cached form of the product exists.
    assert (await api.get(f"/api/products/{product['id']}")).data[field]["id"] == ref_id
    assert (await api.get("/api/products")).data["products"][0][field]["id"] == ref_id
    change = {k: (v.replace(".0000", "") if k == "rate" else v) for k, v in shown.items()}
    assert (await api.put(f"/api/{path}/{ref_id}", change)).code == 200
    detail = (await api.get(f"/api/products/{product['id']}")).data[field]
    listed = (await api.get("/api/products")).data["products"][0][field]
    for key, value in shown.items():
        assert detail[key] == value
        assert listed[key] == value


async def test_updated_since_before_year_1000_matches_everything(api: Any) -> None:
    product = await create(api)
    assert await list_ids(api, "updated_since=0999-01-01") == [product["id"]]


async def test_deeply_nested_json_is_a_400(api: Any) -> None:
    response = await api.post("/api/products", raw=b"[" * 100_000 + b"]" * 100_000)
    _check_error(response, "body: malformed JSON: nested too deeply")


@pytest.mark.parametrize("path, field, change", [
    ("brands", "brand", {"name": "Acme Two"}),
    ("suppliers", "supplier", {"name": "Textiles Two"}),
    ("vat-rates", "vat_rate", {"rate": "21"}),
])
async def test_a_changed_reference_moves_its_products_into_an_incremental_sync(db: Database, 
    api: Any, path: str, field: str, change: dict[str, str],
) -> None:
    bodies = {"brands": {"name": "Acme"}, "suppliers": {"name": "Textiles"},
              "vat-rates": {"name": "Standard", "rate": "19", "country_code": "RO"}}
    ref_id = await create_ref(api, path, bodies[path])
    shown = await create(api, **{f"{field}_id": ref_id})
    await create(api, name="Other", sku="OTHER-1")
    set_times(db, shown["id"], "2026-01-01T00:00:00.000000Z")
    cursor = urllib.parse.quote("2026-06-01T00:00:00Z")
    before = await list_ids(api, f"updated_since={cursor}")
    assert shown["id"] not in before
    assert (await api.put(f"/api/{path}/{ref_id}", change)).code == 200
    assert shown["id"] in await list_ids(api, f"updated_since={cursor}")


async def test_a_description_change_does_not_touch_products(db: Database, api: Any) -> None:
    brand = await create_ref(api, "brands", {"name": "Acme"})
    product = await create(api, brand_id=brand)
    set_times(db, product["id"], "2026-01-01T00:00:00.000000Z")
    assert (await api.put(f"/api/brands/{brand}", {"description": "Since 1900"})).code == 200
    assert (await api.get(f"/api/products/{product['id']}")).data["updated_at"] == "2026-01-01T00:00:00.000000Z"


# ---- descriptions are stored sanitised (store/html.py) ------------------------------------------

UNSAFE = [
    ('<p onclick="steal()">Soft <b style="color:red">cotton</b><script>alert(1)</script></p>',
     "<p>Soft <b>cotton</b></p>"),
    ('<a href="javascript:alert(1)">click</a> <a href="https://shop.example/x" target="_blank">ok</a>',
     'click <a href="https://shop.example/x">ok</a>'),
    ("<img src=x onerror=alert(1)><iframe src=//evil></iframe>5 < 6 & 7", "5 &lt; 6 &amp; 7"),
]


@pytest.mark.parametrize("sent, stored", UNSAFE)
async def test_descriptions_are_stored_sanitised_on_every_write(db: Database, api: Any, sent: str,
                                                                stored: str) -> None:
    created = await post_product(api, "Shirt", "SAN-1", description=sent, short_description=sent)
    assert created["description"] == stored
    assert created["short_description"] == sent  # plain text, never HTML: left as sent
    patched = (await api.patch(f"/api/products/{created['id']}", {"description": "<p>x</p>" + sent})).data
    assert patched["description"] == "<p>x</p>" + stored
    put = await api.put(f"/api/products/{created['id']}/translations/de", {"description": sent})
    assert put.code == 201 and put.data["description"] == stored
    assert (await api.get(f"/api/products/{created['id']}?locale=de")).data["description"] == stored
    rows = db.execute_sql("SELECT description FROM product UNION ALL SELECT description FROM product_translation")
    assert all("script" not in text and "onclick" not in text and "javascript" not in text
               for (text,) in rows.fetchall())


async def test_a_description_the_escaping_makes_too_long_writes_nothing(db: Database, api: Any) -> None:
    product = await post_product(api, "Mugs", "SAN-2", description="<p>kept</p>")
    long = "&" * 20_000  # 20,000 characters sent, 100,000 once stored as &amp;
    for response in (await api.post("/api/products", {"name": "X", "sku": "SAN-3", "description": long}),
                     await api.patch(f"/api/products/{product['id']}", {"description": long}),
                     await api.put(f"/api/products/{product['id']}/translations/de", {"description": long})):
        assert response.code == 400
        assert response.error.startswith("description: longer than 65,535 characters once sanitised")
    assert (await api.get(f"/api/products/{product['id']}")).data["description"] == "<p>kept</p>"
    assert db.execute_sql("SELECT count(*) FROM product_translation").fetchone()[0] == 0
