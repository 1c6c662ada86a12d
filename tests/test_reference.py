"""Brands, suppliers, VAT rates, warehouses (CRUD and rules) and the channel configuration."""

from __future__ import annotations

import re
from typing import Any

import pytest

from store.db import Database
from store.products import read, write
from store.products.stock import set_stock_levels
from store.reference import default_warehouse_id

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

# path, list key, a create body, what the API shows for it, a partial update
RESOURCES = {
    "brands": (
        "brands",
        {"name": "Nordwind", "description": "Outdoor wear"},
        {"name": "Nordwind", "description": "Outdoor wear"},
        {"description": "Outdoor and city wear"},
    ),
    "suppliers": (
        "suppliers",
        {"name": "Textile Partners", "email": "orders@tp.example"},
        {"name": "Textile Partners", "email": "orders@tp.example", "phone": None},
        {"phone": "+40 264 000 000"},
    ),
    "vat-rates": (
        "vat_rates",
        {"name": "Standard Rate", "rate": "19", "country_code": "RO"},
        {"name": "Standard Rate", "rate": "19.0000", "country_code": "RO"},
        {"rate": 21},
    ),
    "warehouses": (
        "warehouses",
        {"name": "Cluj warehouse", "code": "CLJ"},
        {"name": "Cluj warehouse", "code": "CLJ", "is_default": False},
        {"name": "Cluj-Napoca warehouse"},
    ),
}
UPDATED = {
    "brands": {"description": "Outdoor and city wear"},
    "suppliers": {"phone": "+40 264 000 000"},
    "vat-rates": {"rate": "21.0000"},
    "warehouses": {"name": "Cluj-Napoca warehouse"},
}
NOUNS = {"brands": "brand", "suppliers": "supplier", "vat-rates": "VAT rate", "warehouses": "warehouse"}


def sample(resource: str, n: int) -> dict[str, Any]:
    """The n-th distinct valid create body of a resource."""
    body = dict(RESOURCES[resource][1])
    body["name"] = f"{body['name']} {n}"
    if resource == "warehouses":
        body["code"] = f"W{n}"
    return body


async def own_rows(api: Any, resource: str) -> list[dict[str, Any]]:
    response = await api.get(f"/api/{resource}?limit=100")
    return response.data[RESOURCES[resource][0]]


# ---- CRUD --------------------------------------------------------------------------------

@pytest.mark.parametrize("resource", list(RESOURCES))
async def test_create_get_update_delete(api: Any, resource: str) -> None:
    key, create, shown, patch = RESOURCES[resource]
    created = await api.post(f"/api/{resource}", create)
    assert created.code == 201
    row = created.data
    assert {k: row[k] for k in shown} == shown
    assert isinstance(row["id"], int)
    assert TIMESTAMP.match(row["created_at"]) and TIMESTAMP.match(row["updated_at"])
    expected_keys = {"id", "created_at", "updated_at", *shown}
    assert set(row) == expected_keys

    fetched = await api.get(f"/api/{resource}/{row['id']}")
    assert fetched.code == 200 and fetched.data == row

    listed = await own_rows(api, resource)
    assert row in listed

    for method in ("PATCH", "PUT"):
        updated = await api.call(method, f"/api/{resource}/{row['id']}", patch)
        assert updated.code == 200
        assert updated.data == {**row, **UPDATED[resource], "updated_at": updated.data["updated_at"]}
        assert updated.data["created_at"] == row["created_at"]
        assert updated.data["updated_at"] >= row["updated_at"]
    assert (await api.get(f"/api/{resource}/{row['id']}")).data == updated.data

    deleted = await api.delete(f"/api/{resource}/{row['id']}")
    assert deleted.code == 200
    assert deleted.data == updated.data
    missing = await api.get(f"/api/{resource}/{row['id']}")
    assert missing.code == 404
    assert missing.error == f"{NOUNS[resource]} {row['id']} not found"
    assert (await api.delete(f"/api/{resource}/{row['id']}")).code == 404
    assert row["id"] not in [r["id"] for r in await own_rows(api, resource)]


@pytest.mark.parametrize("resource", list(RESOURCES))
async def test_empty_update_changes_nothing(api: Any, resource: str) -> None:
    row = (await api.post(f"/api/{resource}", sample(resource, 1))).data
    for method in ("PATCH", "PUT"):
        response = await api.call(method, f"/api/{resource}/{row['id']}", {})
        assert response.code == 200
        assert {k: v for k, v in response.data.items() if k != "updated_at"} == \
            {k: v for k, v in row.items() if k != "updated_at"}


@pytest.mark.parametrize("resource", list(RESOURCES))
async def test_put_is_partial_like_patch(api: Any, resource: str) -> None:
    row = (await api.post(f"/api/{resource}", sample(resource, 1))).data
    response = await api.put(f"/api/{resource}/{row['id']}", {"name": "Renamed"})
    assert response.code == 200
    assert response.data["name"] == "Renamed"
    for field, value in row.items():
        if field not in ("name", "updated_at"):
            assert response.data[field] == value, field


async def test_optional_supplier_fields_can_be_cleared_with_null(api: Any) -> None:
    row = (await api.post("/api/suppliers", {"name": "S", "email": "a@b.example", "phone": "1"})).data
    response = await api.patch(f"/api/suppliers/{row['id']}", {"email": None, "phone": None})
    assert response.code == 200
    assert (response.data["email"], response.data["phone"]) == (None, None)


async def test_names_are_trimmed(api: Any) -> None:
    response = await api.post("/api/brands", {"name": "  Lumen  "})
    assert response.code == 201
    assert response.data["name"] == "Lumen"
    assert response.data["description"] == ""


@pytest.mark.parametrize("rate, shown", [
    ("0", "0.0000"), (0, "0.0000"), ("100", "100.0000"), (100, "100.0000"),
    ("9.5", "9.5000"), (5.5, "5.5000"), ("0.0001", "0.0001"), (" 19 ", "19.0000"),
])
async def test_vat_rates_are_exact_decimals(api: Any, rate: Any, shown: str) -> None:
    response = await api.post("/api/vat-rates", {"name": "R", "rate": rate, "country_code": "DE"})
    assert response.code == 201, response.body
    assert response.data["rate"] == shown


# ---- lists -------------------------------------------------------------------------------

@pytest.mark.parametrize("resource", list(RESOURCES))
async def test_lists_are_paginated_like_products(api: Any, resource: str) -> None:
    key = RESOURCES[resource][0]
    existing = len(await own_rows(api, resource))  # warehouses start with the default one
    for n in range(5):
        assert (await api.post(f"/api/{resource}", sample(resource, n))).code == 201
    total = existing + 5

    first = await api.get(f"/api/{resource}?limit=2")
    assert first.code == 200
    assert set(first.data) == {key, "pagination"}
    assert first.data["pagination"] == {
        "current_page": 1, "total_pages": (total + 1) // 2, "total_items": total, "items_per_page": 2,
    }
    names = []
    for page in range(1, (total + 1) // 2 + 1):
        response = await api.get(f"/api/{resource}?limit=2&page={page}")
        assert response.data["pagination"]["current_page"] == page
        names += [row["name"] for row in response.data[key]]
    assert names == sorted(names)  # ordered by name
    assert len(names) == len(set(names)) == total

    past = await api.get(f"/api/{resource}?limit=2&page=99")
    assert past.code == 200
    assert past.data == {key: [], "pagination": {
        "current_page": 99, "total_pages": (total + 1) // 2, "total_items": total, "items_per_page": 2}}

    default = await api.get(f"/api/{resource}")
    assert default.data["pagination"]["items_per_page"] == 20
    assert default.data["pagination"]["current_page"] == 1


async def test_an_empty_list_has_zero_pages(api: Any) -> None:
    response = await api.get("/api/brands")
    assert response.data == {"brands": [], "pagination": {
        "current_page": 1, "total_pages": 0, "total_items": 0, "items_per_page": 20}}


@pytest.mark.parametrize("resource", list(RESOURCES))
@pytest.mark.parametrize("query, message", [
    ("limit=0", "limit: must be between 1 and 100"),
    ("limit=101", "limit: must be between 1 and 100"),
    ("limit=-5", "limit: must be between 1 and 100"),
    ("limit=ten", "limit: must be an integer"),
    ("page=0", "page: must be between 1 and 1000000000"),
    ("page=abc", "page: must be an integer"),
    ("page=1.5", "page: must be an integer"),
])
async def test_bad_pagination_is_400(api: Any, resource: str, query: str, message: str) -> None:
    response = await api.get(f"/api/{resource}?{query}")
    assert response.code == 400
    assert response.error == message


# ---- bad input -----------------------------------------------------------------------------

LONG = "x" * 256
BAD_CREATES = [
    ("brands", {}, "name: is required"),
    ("brands", {"name": ""}, "name: must not be empty"),
    ("brands", {"name": "   "}, "name: must not be empty"),
    ("brands", {"name": LONG}, "name: must be at most 255 characters"),
    ("brands", {"name": 5}, "name: must be a string"),
    ("brands", {"name": None}, "name: must not be null"),
    ("brands", {"name": ["a"]}, "name: must be a string"),
    ("brands", {"name": "B", "description": "d" * 2001}, "description: must be at most 2000 characters"),
    ("brands", {"name": "B", "description": None}, "description: must not be null"),
    ("brands", {"name": "B", "colour": "red"}, "colour: unknown field"),
    ("brands", {"nmae": "B"}, "name: is required; nmae: unknown field"),
    ("suppliers", {"email": "a@b.example"}, "name: is required"),
    ("suppliers", {"name": "S", "email": 5}, "email: must be a string"),
    ("suppliers", {"name": "S", "phone": "1" * 2001}, "phone: must be at most 2000 characters"),
    ("suppliers", {"name": "S", "website": "x"}, "website: unknown field"),
    ("vat-rates", {"name": "R", "rate": "19"}, "country_code: is required"),
    ("vat-rates", {"name": "R", "country_code": "RO"}, "rate: is required"),
    ("vat-rates", {"name": "R", "rate": None, "country_code": "RO"}, "rate: must not be null"),
    ("vat-rates", {"name": "R", "rate": "100.0001", "country_code": "RO"}, "rate: must be between 0 and 100"),
    ("vat-rates", {"name": "R", "rate": 101, "country_code": "RO"}, "rate: must be between 0 and 100"),
    ("vat-rates", {"name": "R", "rate": "-1", "country_code": "RO"}, "rate: must not be negative"),
    ("vat-rates", {"name": "R", "rate": -0.5, "country_code": "RO"}, "rate: must not be negative"),
    ("vat-rates", {"name": "R", "rate": "19.12345", "country_code": "RO"},
     "rate: must have at most 4 decimal places"),
    ("vat-rates", {"name": "R", "rate": 19.12345, "country_code": "RO"},
     "rate: must have at most 4 decimal places"),
    ("vat-rates", {"name": "R", "rate": "abc", "country_code": "RO"},
     'rate: must be a decimal number such as "19.99"'),
    ("vat-rates", {"name": "R", "rate": "NaN", "country_code": "RO"},
     'rate: must be a decimal number such as "19.99"'),
    ("vat-rates", {"name": "R", "rate": True, "country_code": "RO"},
     'rate: must be a decimal number or a string such as "19.99"'),
    ("vat-rates", {"name": "R", "rate": [19], "country_code": "RO"},
     'rate: must be a decimal number or a string such as "19.99"'),
    ("vat-rates", {"name": "R", "rate": 19, "country_code": "ro"},
     "country_code: must be an ISO 3166-1 alpha-2 code such as RO"),
    ("vat-rates", {"name": "R", "rate": 19, "country_code": "ROU"},
     "country_code: must be an ISO 3166-1 alpha-2 code such as RO"),
    ("vat-rates", {"name": "R", "rate": 19, "country_code": "R1"},
     "country_code: must be an ISO 3166-1 alpha-2 code such as RO"),
    ("vat-rates", {"name": "R", "rate": 19, "country_code": ""},
     "country_code: must be an ISO 3166-1 alpha-2 code such as RO"),
    ("vat-rates", {"name": "R", "rate": 19, "country_code": "ÄÖ"},
     "country_code: must be an ISO 3166-1 alpha-2 code such as RO"),
    ("vat-rates", {"name": "R", "rate": 19, "country_code": 40},
     "country_code: must be a string"),
    ("warehouses", {"name": "W"}, "code: is required"),
    ("warehouses", {"code": "W"}, "name: is required"),
    ("warehouses", {"name": "W", "code": LONG}, "code: must be at most 255 characters"),
    ("warehouses", {"name": "W", "code": "W2", "is_default": "yes"}, "is_default: must be true or false"),
    ("warehouses", {"name": "W", "code": "W2", "is_default": 1}, "is_default: must be true or false"),
    ("warehouses", {"name": "W", "code": "W2", "is_default": None}, "is_default: must not be null"),
    ("warehouses", {"name": "W", "code": "W2", "address": "x"}, "address: unknown field"),
]


@pytest.mark.parametrize("resource, body, message", BAD_CREATES)
async def test_bad_creates_are_400_and_write_nothing(
    api: Any, resource: str, body: dict[str, Any], message: str
) -> None:
    before = await own_rows(api, resource)
    response = await api.post(f"/api/{resource}", body)
    assert response.code == 400
    assert response.error == message
    assert await own_rows(api, resource) == before


BAD_UPDATES = [
    ("brands", {"name": ""}, "name: must not be empty"),
    ("brands", {"name": None}, "name: must not be null"),
    ("brands", {"name": LONG}, "name: must be at most 255 characters"),
    ("brands", {"id": 5}, "id: unknown field"),
    ("brands", {"created_at": "2020-01-01"}, "created_at: unknown field"),
    ("suppliers", {"email": ["x"]}, "email: must be a string"),
    ("vat-rates", {"rate": None}, "rate: must not be null"),
    ("vat-rates", {"rate": "100.5"}, "rate: must be between 0 and 100"),
    ("vat-rates", {"rate": "-0.0001"}, "rate: must not be negative"),
    ("vat-rates", {"rate": "1.00001"}, "rate: must have at most 4 decimal places"),
    ("vat-rates", {"country_code": "Romania"}, "country_code: must be an ISO 3166-1 alpha-2 code such as RO"),
    ("vat-rates", {"country_code": None}, "country_code: must not be null"),
    ("warehouses", {"code": ""}, "code: must not be empty"),
    ("warehouses", {"is_default": "true"}, "is_default: must be true or false"),
]


@pytest.mark.parametrize("resource, body, message", BAD_UPDATES)
async def test_bad_updates_are_400_and_change_nothing(
    api: Any, resource: str, body: dict[str, Any], message: str
) -> None:
    row = (await api.post(f"/api/{resource}", sample(resource, 1))).data
    for method in ("PATCH", "PUT"):
        response = await api.call(method, f"/api/{resource}/{row['id']}", body)
        assert response.code == 400
        assert response.error == message
    assert (await api.get(f"/api/{resource}/{row['id']}")).data == row


@pytest.mark.parametrize("resource", list(RESOURCES))
async def test_a_body_that_is_not_an_object_is_400(api: Any, resource: str) -> None:
    for raw in (b"[]", b"null", b"42", b"{bad json"):
        response = await api.call("POST", f"/api/{resource}", raw=raw)
        assert response.code == 400
        assert response.error.startswith("body: "), response.error


# ---- uniqueness --------------------------------------------------------------------------

DUPLICATES = [
    ("brands", {"name": "Lumen"}, {"name": "Lumen"}, "name: a brand with name 'Lumen' already exists"),
    ("brands", {"name": "Lumen"}, {"name": " Lumen "}, "name: a brand with name 'Lumen' already exists"),
    ("suppliers", {"name": "EuroFoot"}, {"name": "EuroFoot", "email": "x@y.example"},
     "name: a supplier with name 'EuroFoot' already exists"),
    ("vat-rates", {"name": "Std", "rate": 19, "country_code": "RO"},
     {"name": "Std", "rate": 21, "country_code": "RO"},
     "name: a VAT rate with name 'Std', country_code 'RO' already exists"),
    ("warehouses", {"name": "A", "code": "CLJ"}, {"name": "B", "code": "CLJ"},
     "code: a warehouse with code 'CLJ' already exists"),
    ("warehouses", {"name": "A", "code": "X1"}, {"name": "B", "code": "MAIN"},
     "code: a warehouse with code 'MAIN' already exists"),
]


@pytest.mark.parametrize("resource, first, second, message", DUPLICATES)
async def test_duplicates_are_400(
    api: Any, resource: str, first: dict[str, Any], second: dict[str, Any], message: str
) -> None:
    assert (await api.post(f"/api/{resource}", first)).code == 201
    before = await own_rows(api, resource)
    response = await api.post(f"/api/{resource}", second)
    assert response.code == 400
    assert response.error == message
    assert await own_rows(api, resource) == before


@pytest.mark.parametrize("resource, first, second, message", DUPLICATES)
async def test_renaming_onto_a_duplicate_is_400(
    api: Any, resource: str, first: dict[str, Any], second: dict[str, Any], message: str
) -> None:
    if (await api.post(f"/api/{resource}", first)).code != 201:
        pytest.fail("setup")
    other = sample(resource, 9)
    row = (await api.post(f"/api/{resource}", other)).data
    clash = {k: v for k, v in second.items() if k in ("name", "code", "country_code")}
    response = await api.patch(f"/api/{resource}/{row['id']}", clash)
    assert response.code == 400
    assert response.error == message
    assert (await api.get(f"/api/{resource}/{row['id']}")).data == row


async def test_a_vat_rate_name_may_repeat_in_another_country(api: Any) -> None:
    assert (await api.post("/api/vat-rates", {"name": "Std", "rate": 19, "country_code": "RO"})).code == 201
    assert (await api.post("/api/vat-rates", {"name": "Std", "rate": 19, "country_code": "DE"})).code == 201
    row = (await api.post("/api/vat-rates", {"name": "Std", "rate": 20, "country_code": "FR"})).data
    moved = await api.patch(f"/api/vat-rates/{row['id']}", {"country_code": "RO"})
    assert moved.code == 400
    assert moved.error == "name: a VAT rate with name 'Std', country_code 'RO' already exists"


async def test_saving_a_row_under_its_own_name_is_not_a_duplicate(api: Any) -> None:
    row = (await api.post("/api/brands", {"name": "Lumen"})).data
    response = await api.put(f"/api/brands/{row['id']}", {"name": "Lumen", "description": "d"})
    assert response.code == 200
    assert response.data["description"] == "d"


# ---- deletes blocked by use ------------------------------------------------------------------

@pytest.mark.parametrize("resource, field, noun", [
    ("brands", "brand_id", "brand"),
    ("suppliers", "supplier_id", "supplier"),
    ("vat-rates", "vat_rate_id", "VAT rate"),
])
async def test_a_row_used_by_products_cannot_be_deleted(db: Database,
    api: Any, org_id: int, resource: str, field: str, noun: str
) -> None:
    row = (await api.post(f"/api/{resource}", sample(resource, 1))).data
    spare = (await api.post(f"/api/{resource}", sample(resource, 2))).data
    with db.writing():
        first = write.create_product(db, org_id, {"name": "P1", "sku": "P1", field: row["id"]})

    response = await api.delete(f"/api/{resource}/{row['id']}")
    assert response.code == 400
    assert response.error == f"id: 1 product uses this {noun}; reassign them before deleting it"

    with db.writing():
        write.create_product(db, org_id, {"name": "P2", "sku": "P2", field: row["id"]})
    with db.writing():
        archived = write.create_product(db, org_id, {"name": "P3", "sku": "P3", field: row["id"]})
    with db.writing():
        write.archive_product(db, org_id, archived["id"])
    response = await api.delete(f"/api/{resource}/{row['id']}")
    assert response.code == 400
    assert response.error == f"id: 3 products use this {noun}; reassign them before deleting it"
    assert (await api.get(f"/api/{resource}/{row['id']}")).data == row
    assert read.get_product(db, org_id, first["id"])[field.removesuffix("_id")]["id"] == row["id"]

    # Once no product uses it, it goes; the unused one always could.
    assert (await api.delete(f"/api/{resource}/{spare['id']}")).code == 200
    for product_id in (first["id"], first["id"] + 1, archived["id"]):
        with db.writing():
            write.update_product(db, org_id, product_id, {field: None})
    assert (await api.delete(f"/api/{resource}/{row['id']}")).code == 200


# ---- warehouses ----------------------------------------------------------------------------

async def test_every_organization_starts_with_a_default_warehouse(api: Any) -> None:
    rows = await own_rows(api, "warehouses")
    assert [(r["name"], r["code"], r["is_default"]) for r in rows] == [("Main warehouse", "MAIN", True)]


async def test_the_default_warehouse_cannot_be_deleted(db: Database, api: Any, org_id: int) -> None:
    main = default_warehouse_id(db, org_id)
    response = await api.delete(f"/api/warehouses/{main}")
    assert response.code == 400
    assert response.error == "id: the default warehouse cannot be deleted"
    assert (await api.get(f"/api/warehouses/{main}")).data["is_default"] is True


async def test_the_default_cannot_be_unset_only_moved(db: Database, api: Any, org_id: int) -> None:
    main = default_warehouse_id(db, org_id)
    response = await api.patch(f"/api/warehouses/{main}", {"is_default": False})
    assert response.code == 400
    assert response.error == "is_default: make another warehouse the default instead"
    assert default_warehouse_id(db, org_id) == main


async def test_setting_is_default_moves_the_default(db: Database, api: Any, org_id: int) -> None:
    main = default_warehouse_id(db, org_id)
    second = (await api.post("/api/warehouses", {"name": "Second", "code": "SEC"})).data
    assert second["is_default"] is False

    moved = await api.patch(f"/api/warehouses/{second['id']}", {"is_default": True})
    assert moved.code == 200 and moved.data["is_default"] is True
    rows = {r["id"]: r["is_default"] for r in await own_rows(api, "warehouses")}
    assert rows == {main: False, second["id"]: True}
    assert default_warehouse_id(db, org_id) == second["id"]

    # Creating one as the default moves it again.
    third = (await api.post("/api/warehouses", {"name": "Third", "code": "THR", "is_default": True})).data
    assert third["is_default"] is True
    rows = {r["id"]: r["is_default"] for r in await own_rows(api, "warehouses")}
    assert rows == {main: False, second["id"]: False, third["id"]: True}

    # The old default is now an ordinary warehouse and can go.
    assert (await api.delete(f"/api/warehouses/{main}")).code == 200
    # Product stock written through `stock` lands in the new default.
    with db.writing():
        product = write.create_product(db, org_id, {"name": "Mug", "sku": "MUG", "stock": 4})
    levels = {s["warehouse_id"]: s["quantity"] for s in
              (await api.get(f"/api/products/{product['id']}/stock")).data["stock_levels"]}
    assert levels == {second["id"]: 0, third["id"]: 4}


async def test_setting_is_default_on_the_default_is_harmless(db: Database, api: Any, org_id: int) -> None:
    main = default_warehouse_id(db, org_id)
    response = await api.put(f"/api/warehouses/{main}", {"is_default": True})
    assert response.code == 200 and response.data["is_default"] is True
    assert default_warehouse_id(db, org_id) == main


async def test_a_warehouse_holding_stock_cannot_be_deleted(db: Database, api: Any, org_id: int) -> None:
    second = (await api.post("/api/warehouses", {"name": "Second", "code": "SEC"})).data
    with db.writing():
        mug = write.create_product(db, org_id, {"name": "Mug", "sku": "MUG"})
    with db.writing():
        cup = write.create_product(db, org_id, {"name": "Cup", "sku": "CUP"})
    with db.writing():
        set_stock_levels(db, org_id, mug["id"], [{"warehouse_id": second["id"], "quantity": 3}])

    response = await api.delete(f"/api/warehouses/{second['id']}")
    assert response.code == 400
    assert response.error == "id: 1 product has stock in this warehouse; move it first"
    with db.writing():
        set_stock_levels(db, org_id, cup["id"], [{"warehouse_id": second["id"], "quantity": 1}])
    response = await api.delete(f"/api/warehouses/{second['id']}")
    assert response.error == "id: 2 products have stock in this warehouse; move it first"
    assert read.get_product(db, org_id, mug["id"])["stock"] == 3

    # Emptied (level 0) it can be deleted; the product's stock is unaffected elsewhere.
    for product in (mug, cup):
        with db.writing():
            set_stock_levels(db, org_id, product["id"], [{"warehouse_id": second["id"], "quantity": 0}])
    assert (await api.delete(f"/api/warehouses/{second['id']}")).code == 200
    stock = (await api.get(f"/api/products/{mug['id']}/stock")).data
    assert [s["warehouse_id"] for s in stock["stock_levels"]] == [default_warehouse_id(db, org_id)]
    assert stock["stock"] == 0


# ---- channels --------------------------------------------------------------------------------

DEFAULT_CHANNELS = [
    {"value": "web", "label": "Web Store", "description": "Products visible on web storefront"},
    {"value": "mobile", "label": "Mobile App", "description": "Products visible in the mobile app"},
]


async def test_channels_default_to_web_and_mobile(api: Any) -> None:
    response = await api.get("/api/channels")
    assert response.code == 200
    assert response.data == {"channels": DEFAULT_CHANNELS, "total": 2}


async def test_put_channels_configures_them_in_order(api: Any) -> None:
    body = {"channels": [
        {"value": "marketplace", "label": "eMAG", "description": "Listed on eMAG"},
        {"value": "web"},
        {"value": "email", "label": None},
    ]}
    expected = {"channels": [
        {"value": "marketplace", "label": "eMAG", "description": "Listed on eMAG"},
        {"value": "web", "label": "Web Store", "description": "Products visible on web storefront"},
        {"value": "email", "label": "Email", "description": "Products featured in email campaigns"},
    ], "total": 3}
    response = await api.put("/api/channels", body)
    assert response.code == 200
    assert response.data == expected
    assert (await api.get("/api/channels")).data == expected

    # A second PUT replaces the whole set.
    response = await api.put("/api/channels", {"channels": [{"value": "api"}]})
    assert response.data == {"channels": [
        {"value": "api", "label": "API", "description": "Products exposed to API integrations"}],
        "total": 1}


async def test_all_six_channels_can_be_active(api: Any) -> None:
    values = ["web", "mobile", "api", "marketplace", "social", "email"]
    response = await api.put("/api/channels", {"channels": [{"value": v} for v in values]})
    assert response.code == 200
    assert [c["value"] for c in response.data["channels"]] == values
    assert response.data["total"] == 6


async def test_an_empty_list_restores_the_defaults(api: Any) -> None:
    await api.put("/api/channels", {"channels": [{"value": "social"}]})
    response = await api.put("/api/channels", {"channels": []})
    assert response.code == 200
    assert response.data == {"channels": DEFAULT_CHANNELS, "total": 2}
    assert (await api.get("/api/channels")).data == {"channels": DEFAULT_CHANNELS, "total": 2}


CHANNEL_ERRORS = [
    ({"channels": [{"value": "tv"}]},
     "channels[0].value: must be one of 'web', 'mobile', 'api', 'marketplace', 'social' or 'email'"),
    ({"channels": [{"value": "web"}, {"value": "WEB"}]},
     "channels[1].value: must be one of 'web', 'mobile', 'api', 'marketplace', 'social' or 'email'"),
    ({"channels": [{"value": "web"}, {"value": "mobile"}, {"value": "web"}]},
     "channels[2].value: 'web' is listed twice"),
    ({"channels": [{"value": "web", "label": "A"}, {"value": "web", "label": "B"}]},
     "channels[1].value: 'web' is listed twice"),
    ({"channels": [{"label": "Web"}]}, "channels[0].value: is required"),
    ({"channels": [{"value": "web", "colour": "red"}]}, "channels[0].colour: unknown field"),
    ({"channels": [{"value": "web", "label": "x" * 256}]},
     "channels[0].label: must be at most 255 characters"),
    ({"channels": [{"value": "web", "label": ""}]}, "channels[0].label: must not be empty"),
    ({"channels": [{"value": "web", "description": 5}]}, "channels[0].description: must be a string"),
    ({"channels": ["web"]}, "channels[0]: must be an object"),
    ({"channels": "web"}, "channels: must be a list"),
    ({"channels": None}, "channels: must not be null"),
    ({}, "channels: is required"),
    ({"channels": [], "extra": 1}, "extra: unknown field"),
    ({"channels": [{"value": v} for v in ("web", "mobile", "api", "marketplace", "social", "email", "web")]},
     "channels: must have at most 6 items"),
]


@pytest.mark.parametrize("body, message", CHANNEL_ERRORS)
async def test_bad_channel_configurations_are_400_and_change_nothing(
    api: Any, body: dict[str, Any], message: str
) -> None:
    configured = (await api.put("/api/channels", {"channels": [{"value": "social"}]})).data
    response = await api.put("/api/channels", body)
    assert response.code == 400
    assert response.error == message
    assert (await api.get("/api/channels")).data == configured


async def test_channels_body_must_be_an_object(api: Any) -> None:
    response = await api.call("PUT", "/api/channels", raw=b'[{"value": "web"}]')
    assert response.code == 400
    assert response.error == "body: must be a JSON object"
