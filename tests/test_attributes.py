"""Product attribute definitions and the values products hold for them.

CRUD of definitions and their rules; every type's good and bad values (each message
names the attribute); PATCH merging keys; required attributes; deleting an attribute
removes its values (and says how many products changed); changing a type, code or
options never strands a value; no query per attribute or per listed product.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from store.db import Database
from tests.factories import count_queries, post_product

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
ATTRIBUTE_KEYS = {"id", "name", "code", "type", "options", "unit", "is_required",
                  "is_variant_axis", "created_at", "updated_at"}

# code -> definition: one of every type
DEFINITIONS = {
    "color": {"name": "Color", "type": "select", "options": ["red", "blue"]},
    "tags": {"name": "Tags", "type": "multiselect", "options": ["eco", "new", "sale"]},
    "material": {"name": "Material", "type": "text"},
    "weight": {"name": "Weight", "type": "number", "unit": "kg"},
    "organic": {"name": "Organic", "type": "boolean"},
    "released": {"name": "Released", "type": "date"},
}


async def define(api: Any, code: str, **overrides: Any) -> dict[str, Any]:
    body = {**DEFINITIONS.get(code, {"name": code.title(), "type": "text"}), "code": code, **overrides}
    response = await api.post("/api/product-attributes", body)
    assert response.code == 201, response.body
    return response.data  # type: ignore[no-any-return]


async def define_all(api: Any) -> dict[str, int]:
    return {code: (await define(api, code))["id"] for code in DEFINITIONS}


async def product(api: Any, sku: str = "P-1", **attributes: Any) -> dict[str, Any]:
    return await post_product(api, f"Product {sku}", sku, attributes=attributes)


def stored(db: Database, product_id: int) -> str:
    return str(db.execute_sql("SELECT attributes FROM product WHERE id = ?", (product_id,)).fetchone()[0])


# ---- definitions -------------------------------------------------------------------------

async def test_create_get_list_update_delete(api: Any) -> None:
    created = await api.post("/api/product-attributes",
                             {"name": "Color", "code": "color", "type": "select", "options": ["red", "blue"]})
    assert created.code == 201
    row = created.data
    assert set(row) == ATTRIBUTE_KEYS
    assert {k: row[k] for k in ("name", "code", "type", "options", "unit", "is_required", "is_variant_axis")} == {
        "name": "Color", "code": "color", "type": "select", "options": ["red", "blue"], "unit": None,
        "is_required": False, "is_variant_axis": False}
    assert TIMESTAMP.match(row["created_at"]) and TIMESTAMP.match(row["updated_at"])
    assert (await api.get(f"/api/product-attributes/{row['id']}")).data == row

    listed = (await api.get("/api/product-attributes")).data
    assert listed == {"product_attributes": [row], "pagination": {
        "current_page": 1, "total_pages": 1, "total_items": 1, "items_per_page": 20}}

    for method, change in (("PATCH", {"options": ["red", "blue", "green"]}), ("PUT", {"is_variant_axis": True})):
        updated = await api.call(method, f"/api/product-attributes/{row['id']}", change)
        assert updated.code == 200, updated.body
        assert {k: updated.data[k] for k in change} == change
        assert updated.data["name"] == "Color" and updated.data["created_at"] == row["created_at"]
    assert updated.data["options"] == ["red", "blue", "green"]

    deleted = await api.delete(f"/api/product-attributes/{row['id']}")
    assert deleted.code == 200
    assert deleted.data == {**updated.data, "products_changed": 0, "variants_changed": 0}
    missing = await api.get(f"/api/product-attributes/{row['id']}")
    assert missing.code == 404 and missing.error == f"attribute {row['id']} not found"
    assert (await api.delete(f"/api/product-attributes/{row['id']}")).code == 404


async def test_code_defaults_from_the_name_and_list_is_by_name(api: Any) -> None:
    screen = (await api.post("/api/product-attributes", {"name": "Screen size (in)", "type": "number"})).data
    assert screen["code"] == "screen_size_in"
    year = (await api.post("/api/product-attributes", {"name": "2024 collection", "type": "boolean"})).data
    assert year["code"] == "a_2024_collection"
    names = [a["name"] for a in (await api.get("/api/product-attributes")).data["product_attributes"]]
    assert names == ["2024 collection", "Screen size (in)"]
    page = (await api.get("/api/product-attributes?limit=1&page=2")).data
    assert [a["code"] for a in page["product_attributes"]] == ["screen_size_in"]
    assert page["pagination"]["total_items"] == 2


DEFINITION_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("name-missing", {"code": "x", "type": "text"}, "name: is required"),
    ("type-missing", {"name": "X"}, "type: is required"),
    ("type-unknown", {"name": "X", "type": "color"},
     "type: must be one of 'text', 'number', 'boolean', 'select', 'multiselect' or 'date'"),
    ("code-upper", {"name": "X", "code": "Color", "type": "text"},
     "code: must start with a lower-case letter and hold only lower-case letters, digits and"
     " underscores (at most 64)"),
    ("code-digit-first", {"name": "X", "code": "1x", "type": "text"},
     "code: must start with a lower-case letter and hold only lower-case letters, digits and"
     " underscores (at most 64)"),
    ("code-dash", {"name": "X", "code": "a-b", "type": "text"},
     "code: must start with a lower-case letter and hold only lower-case letters, digits and"
     " underscores (at most 64)"),
    ("code-65", {"name": "X", "code": "a" * 65, "type": "text"},
     "code: must start with a lower-case letter and hold only lower-case letters, digits and"
     " underscores (at most 64)"),
    ("code-taken", {"name": "Other", "code": "taken", "type": "text"},
     "code: an attribute with code 'taken' already exists"),
    ("code-taken-by-name", {"name": "Taken", "type": "text"}, "code: an attribute with code 'taken' already exists"),
    ("select-no-options", {"name": "X", "type": "select"}, "options: a select attribute needs at least one option"),
    ("select-empty-options", {"name": "X", "type": "multiselect", "options": []},
     "options: a multiselect attribute needs at least one option"),
    ("text-with-options", {"name": "X", "type": "text", "options": ["a"]},
     "options: only select and multiselect attributes have options, not text"),
    ("options-repeated", {"name": "X", "type": "select", "options": ["a", "b", "a"]},
     "options: 'a' is listed twice"),
    ("option-blank", {"name": "X", "type": "select", "options": ["a", " "]}, "options[1]: must not be empty"),
    ("option-number", {"name": "X", "type": "select", "options": ["a", 1]}, "options[1]: must be a string"),
    ("options-string", {"name": "X", "type": "select", "options": "a, b"}, "options: must be a list"),
    ("options-1001", {"name": "X", "type": "select", "options": [str(n) for n in range(1001)]},
     "options: must have at most 1000 items"),
    ("select-null-options", {"name": "X", "type": "select", "options": None},
     "options: a select attribute needs at least one option"),
    ("axis-multiselect", {"name": "X", "type": "multiselect", "options": ["a"], "is_variant_axis": True},
     "is_variant_axis: a multiselect attribute cannot be a variant axis; axes are text, number, boolean, select"),
    ("axis-date", {"name": "X", "type": "date", "is_variant_axis": True},
     "is_variant_axis: a date attribute cannot be a variant axis; axes are text, number, boolean, select"),
    ("required-string", {"name": "X", "type": "text", "is_required": "yes"}, "is_required: must be true or false"),
    ("unit-too-long", {"name": "X", "type": "number", "unit": "u" * 33}, "unit: must be at most 32 characters"),
    ("unknown-field", {"name": "X", "type": "text", "position": 1}, "position: unknown field"),
]


@pytest.mark.parametrize("body, message", [c[1:] for c in DEFINITION_CASES], ids=[c[0] for c in DEFINITION_CASES])
async def test_bad_definitions_are_400_naming_the_field(api: Any, body: dict[str, Any], message: str) -> None:
    await define(api, "taken")
    response = await api.post("/api/product-attributes", body)
    assert response.code == 400, response.body
    assert response.error == message
    assert len((await api.get("/api/product-attributes")).data["product_attributes"]) == 1


@pytest.mark.parametrize("change, message", [
    ({"type": "select"}, "options: a select attribute needs at least one option"),
    ({"code": "taken"}, "code: an attribute with code 'taken' already exists"),
    ({"options": ["a"]}, "options: only select and multiselect attributes have options, not text"),
    ({"name": None}, "name: must not be null"),
    ({"is_required": None}, "is_required: must not be null"),
    ({"code": "Bad"}, "code: must start with a lower-case letter and hold only lower-case letters,"
                      " digits and underscores (at most 64)"),
])
async def test_bad_updates_are_400_and_change_nothing(api: Any, change: dict[str, Any], message: str) -> None:
    await define(api, "taken")
    row = await define(api, "material")
    for method in ("PATCH", "PUT"):
        response = await api.call(method, f"/api/product-attributes/{row['id']}", change)
        assert response.code == 400, response.body
        assert response.error == message
    assert (await api.get(f"/api/product-attributes/{row['id']}")).data == row


async def test_an_unused_attribute_may_change_type_and_code(api: Any) -> None:
    row = await define(api, "color")
    changed = await api.patch(f"/api/product-attributes/{row['id']}", {"type": "text", "code": "colour"})
    assert changed.code == 200, changed.body
    assert (changed.data["type"], changed.data["code"], changed.data["options"]) == ("text", "colour", None)
    back = await api.put(f"/api/product-attributes/{row['id']}", {"type": "multiselect", "options": ["x"]})
    assert (back.data["type"], back.data["options"]) == ("multiselect", ["x"])


# ---- values: every type, good and bad -------------------------------------------------------

GOOD_VALUES: list[tuple[str, Any, Any]] = [
    # (code, sent, shown)
    ("color", "red", "red"),
    ("tags", ["eco", "sale"], ["eco", "sale"]),
    ("tags", ["sale", "eco", "sale"], ["sale", "eco"]),  # repeats kept once, order kept
    ("material", "Linen – ÿ 漢字", "Linen – ÿ 漢字"),
    ("material", "x" * 2000, "x" * 2000),
    ("weight", 2, 2),
    ("weight", "2.50", 2.5),
    ("weight", 0.1, 0.1),
    ("weight", -3.25, -3.25),
    ("weight", "0", 0),
    ("weight", 123456789012345, 123456789012345),
    ("organic", True, True),
    ("organic", False, False),
    ("released", "2024-02-29", "2024-02-29"),
]


@pytest.mark.parametrize("code, sent, shown", GOOD_VALUES)
async def test_good_values_are_stored_and_shown(api: Any, code: str, sent: Any, shown: Any) -> None:
    await define_all(api)
    created = await product(api, **{code: sent})
    assert created["attributes"] == {code: shown}
    assert (await api.get(f"/api/products/{created['id']}")).data["attributes"] == {code: shown}


BAD_VALUES: list[tuple[str, Any, str]] = [
    ("color", "green", "attributes.color: must be one of red, blue"),
    ("color", "Red", "attributes.color: must be one of red, blue"),
    ("color", ["red"], "attributes.color: must be one of red, blue"),
    ("color", 1, "attributes.color: must be one of red, blue"),
    ("tags", "eco", "attributes.tags: must be a list of options among eco, new, sale"),
    ("tags", ["eco", "old"], "attributes.tags[1]: must be one of eco, new, sale"),
    ("tags", ["eco", 5], "attributes.tags[1]: must be one of eco, new, sale"),
    ("tags", ["eco"] * 101, "attributes.tags: must have at most 100 items"),
    ("material", 5, "attributes.material: must be a string"),
    ("material", True, "attributes.material: must be a string"),
    ("material", ["a"], "attributes.material: must be a string"),
    ("material", "  ", "attributes.material: must not be empty; send null to remove the value"),
    ("material", "x" * 2001, "attributes.material: must be at most 2000 characters"),
    ("material", "\ud800", "attributes.material: is not valid Unicode text"),
    ("weight", "heavy", "attributes.weight: must be a number such as 12.5"),
    ("weight", "1e3", "attributes.weight: must be a number such as 12.5"),
    ("weight", "NaN", "attributes.weight: must be a number such as 12.5"),
    ("weight", True, "attributes.weight: must be a number"),
    ("weight", [1], "attributes.weight: must be a number"),
    ("weight", {"value": 1}, "attributes.weight: must be a number"),
    ("weight", 1234567890123456, "attributes.weight: must have at most 15 digits"),
    ("weight", "0.1234567890123456", "attributes.weight: must have at most 15 digits"),
    ("organic", "true", "attributes.organic: must be true or false"),
    ("organic", 1, "attributes.organic: must be true or false"),
    ("released", "2024-2-1", "attributes.released: must be a date in the form YYYY-MM-DD"),
    ("released", "01/02/2024", "attributes.released: must be a date in the form YYYY-MM-DD"),
    ("released", "2024-02-01T10:00:00", "attributes.released: must be a date in the form YYYY-MM-DD"),
    ("released", 20240201, "attributes.released: must be a date in the form YYYY-MM-DD"),
    ("released", "2023-02-29", "attributes.released: 2023-02-29 is not a calendar date"),
    ("unknown", "x", "attributes.unknown: no attribute with code 'unknown'"),
]


@pytest.mark.parametrize("code, sent, message", BAD_VALUES)
async def test_bad_values_are_400_naming_the_attribute(db: Database, api: Any, code: str, sent: Any, message: str) -> None:
    await define_all(api)
    existing = await product(api, "P-0", color="blue")
    before = stored(db, existing["id"])
    created = await api.post("/api/products", {"name": "X", "sku": "X-1", "attributes": {code: sent}})
    assert created.code == 400 and created.error == message
    patched = await api.patch(f"/api/products/{existing['id']}",
                              {"name": "Changed", "attributes": {"organic": True, code: sent}})
    assert patched.code == 400 and patched.error == message
    assert stored(db, existing["id"]) == before
    assert (await api.get(f"/api/products/{existing['id']}")).data["name"] == "Product P-0"
    assert db.execute_sql("SELECT count(*) FROM product").fetchone()[0] == 1


@pytest.mark.parametrize("raw, message", [
    (b'{"name": "X", "sku": "X", "attributes": {"weight": 1.5e400}}', "attributes.weight: must have at most 15 digits"),
    (b'{"name": "X", "sku": "X", "attributes": {"weight": 1e5000}}', "attributes.weight: must have at most 15 digits"),
    (b'{"name": "X", "sku": "X", "attributes": {"weight": 1e-20}}', "attributes.weight: must have at most 15 digits"),
    (b'{"name": "X", "sku": "X", "attributes": []}', "attributes: must be an object"),
    (b'{"name": "X", "sku": "X", "attributes": null}', "attributes: must not be null"),
])
async def test_numbers_out_of_range_and_bad_shapes(api: Any, raw: bytes, message: str) -> None:
    await define_all(api)
    response = await api.call("POST", "/api/products", raw=raw)
    assert response.code == 400 and response.error == message


async def test_numbers_are_kept_exactly(db: Database, api: Any) -> None:
    await define_all(api)
    created = await api.call("POST", "/api/products",
                             raw=b'{"name": "X", "sku": "X", "attributes": {"weight": 0.30000000000001}}')
    assert created.code == 201
    assert b'"weight":0.30000000000001' in created.raw
    for sent, text in ((1e3, "1000"), ("12.50", "12.5"), (-0.0, "0"), ("100.000", "100")):
        patched = await api.patch(f"/api/products/{created.data['id']}", {"attributes": {"weight": sent}})
        assert f'"weight":{text}'.encode() in patched.raw, (sent, patched.raw)
        assert stored(db, created.data["id"]) == f'{{"weight":{text}}}'


# ---- PATCH merges; required attributes ----------------------------------------------------------

async def test_patch_merges_keys_and_null_removes_one(api: Any) -> None:
    await define_all(api)
    created = await product(api, color="red", material="Linen", weight="1.25")
    patched = await api.patch(f"/api/products/{created['id']}",
                              {"attributes": {"material": None, "organic": True, "weight": 2}})
    assert patched.data["attributes"] == {"color": "red", "organic": True, "weight": 2}
    again = await api.patch(f"/api/products/{created['id']}", {"attributes": {"tags": ["new"]}})
    assert again.data["attributes"] == {"color": "red", "organic": True, "tags": ["new"], "weight": 2}
    emptied = await api.patch(f"/api/products/{created['id']}", {"attributes": {"tags": [], "color": None}})
    assert emptied.data["attributes"] == {"organic": True, "weight": 2}
    untouched = await api.patch(f"/api/products/{created['id']}", {"name": "Renamed"})
    assert untouched.data["attributes"] == {"organic": True, "weight": 2}
    # Removing a key nobody set is harmless.
    assert (await api.patch(f"/api/products/{created['id']}", {"attributes": {"color": None}})).code == 200


LEGACY_STAMP = "2026-01-01T00:00:00.000000Z"  # a row written before (and a fresh cache key)


async def test_null_removes_a_legacy_key_that_has_no_definition(db: Database, api: Any) -> None:
    # The foundation stored attributes with any keys; such a key has no definition (and
    # cannot get one: codes are lower-case), yet it must be removable.
    await define(api, "material")
    created = await product(api, material="Linen")
    db.execute_sql("UPDATE product SET attributes = ?, updated_at = ? WHERE id = ?",
                   ('{"Color":"Red","material":"Linen","Size":"M"}', LEGACY_STAMP, created["id"]))
    path = f"/api/products/{created['id']}"
    before = (await api.get(path)).data
    assert before["attributes"]["Color"] == "Red"
    removed = await api.patch(path, {"attributes": {"Color": None, "Size": []}})
    assert removed.code == 200, removed.body
    assert removed.data["attributes"] == {"material": "Linen"}
    assert removed.data["updated_at"] > before["updated_at"]
    assert stored(db, created["id"]) == '{"material":"Linen"}'
    read = (await api.get(path)).data
    assert read["attributes"] == {"material": "Linen"} and read["updated_at"] == removed.data["updated_at"]
    listed = (await api.get(f"/api/products?updated_since={before['updated_at']}")).data["products"]
    assert [p["id"] for p in listed] == [created["id"]]


@pytest.mark.parametrize("change", [
    {"Color": None},                 # no definition, and the product does not hold it
    {"Color": "Blue"},               # a legacy key cannot be given a value
    {"Legacy": None, "ghost": None},  # the first key the product holds, the second not
])
async def test_an_undefined_key_the_product_does_not_hold_is_still_a_400(db: Database,
    api: Any, change: dict[str, Any]
) -> None:
    created = await product(api)
    db.execute_sql("UPDATE product SET attributes = ?, updated_at = ? WHERE id = ?",
                   ('{"Legacy":"x"}', LEGACY_STAMP, created["id"]))
    code = next(code for code, value in change.items() if code != "Legacy")
    response = await api.patch(f"/api/products/{created['id']}", {"attributes": change})
    assert response.code == 400
    assert response.error == f"attributes.{code}: no attribute with code '{code}'"
    assert stored(db, created["id"]) == '{"Legacy":"x"}'


async def test_required_attributes(api: Any) -> None:
    await define_all(api)
    await define(api, "brand_line", is_required=True)
    await define(api, "size", type="select", options=["S", "M"], is_required=True, is_variant_axis=True)
    missing = await api.post("/api/products", {"name": "X", "sku": "X"})
    assert missing.code == 400 and missing.error == "attributes.brand_line: is required"
    # A required variant axis belongs on variants: the product does not need it.
    created = await product(api, brand_line="Classic")
    removed = await api.patch(f"/api/products/{created['id']}", {"attributes": {"brand_line": None}})
    assert removed.code == 400 and removed.error == "attributes.brand_line: is required"
    changed = await api.patch(f"/api/products/{created['id']}", {"attributes": {"brand_line": "Pro"}})
    assert changed.data["attributes"] == {"brand_line": "Pro"}


async def test_a_newly_required_attribute_does_not_block_other_edits(api: Any) -> None:
    created = await product(api)
    await define(api, "brand_line", is_required=True)
    patched = await api.patch(f"/api/products/{created['id']}", {"price": "5"})
    assert patched.code == 200 and patched.data["attributes"] == {}


async def test_another_organizations_attribute_cannot_be_used(api: Any, other_api: Any) -> None:
    await define(other_api, "secret")
    response = await api.post("/api/products", {"name": "X", "sku": "X", "attributes": {"secret": "v"}})
    assert response.code == 400 and response.error == "attributes.secret: no attribute with code 'secret'"
    assert (await api.get("/api/product-attributes")).data["product_attributes"] == []


# ---- delete cascades; changes never strand values ------------------------------------------------

async def test_delete_removes_values_and_moves_updated_at(api: Any, other_api: Any) -> None:
    ids = await define_all(api)
    await define(other_api, "color")
    theirs = (await other_api.post("/api/products", {"name": "T", "sku": "T", "attributes": {"color": "red"}})).data
    using = [await product(api, f"P-{n}", color="red", material="Wool") for n in range(3)]
    other = await product(api, "P-9", material="Silk")
    for p in using + [other]:  # cache their JSON
        await api.get(f"/api/products/{p['id']}")

    deleted = await api.delete(f"/api/product-attributes/{ids['color']}")
    assert deleted.code == 200
    assert (deleted.data["products_changed"], deleted.data["variants_changed"]) == (3, 0)
    for p in using:
        now = (await api.get(f"/api/products/{p['id']}")).data
        assert now["attributes"] == {"material": "Wool"}
        assert now["updated_at"] > p["updated_at"]
    assert (await api.get(f"/api/products/{other['id']}")).data == other
    listed = (await api.get(f"/api/products?updated_since={using[0]['updated_at']}")).data["products"]
    assert {p["id"] for p in listed} >= {p["id"] for p in using}
    assert (await other_api.get(f"/api/products/{theirs['id']}")).data["attributes"] == {"color": "red"}
    # The code is free again, and the old values did not come back with it.
    await define(api, "color")
    assert (await api.get(f"/api/products/{using[0]['id']}")).data["attributes"] == {"material": "Wool"}


async def test_type_and_code_of_a_used_attribute_cannot_change(api: Any) -> None:
    ids = await define_all(api)
    for n in range(7):
        await product(api, f"P-{n}", weight=n)
    response = await api.patch(f"/api/product-attributes/{ids['weight']}", {"type": "text"})
    assert response.code == 400
    assert response.error == ("type: 7 products (P-0, P-1, P-2, P-3, P-4, ...) hold values of this"
                              " attribute; the type cannot change")
    response = await api.put(f"/api/product-attributes/{ids['weight']}", {"code": "mass"})
    assert response.error.startswith("code: 7 products (P-0")
    # Other changes are fine.
    renamed = await api.patch(f"/api/product-attributes/{ids['weight']}", {"name": "Mass", "unit": "g", "type": "number"})
    assert renamed.code == 200 and (renamed.data["name"], renamed.data["unit"]) == ("Mass", "g")


@pytest.mark.parametrize("code, value", [("color", "red"), ("tags", ["eco", "new"])])
async def test_removing_an_option_in_use_is_a_400_naming_the_products(api: Any, code: str, value: Any) -> None:
    ids = await define_all(api)
    await product(api, "USES-1", **{code: value})
    options = DEFINITIONS[code]["options"]
    kept = [o for o in options if o not in (value if isinstance(value, list) else [value])]
    response = await api.patch(f"/api/product-attributes/{ids[code]}", {"options": kept})
    assert response.code == 400
    first = value[0] if isinstance(value, list) else value
    assert response.error == f"options: '{first}' is used by 1 product (USES-1); change them first"
    assert (await api.get(f"/api/product-attributes/{ids[code]}")).data["options"] == options
    # An option nobody uses can go, and new ones can come.
    unused = [o for o in options if o not in kept] + ["extra"]
    changed = await api.patch(f"/api/product-attributes/{ids[code]}", {"options": unused})
    assert changed.code == 200 and changed.data["options"] == unused


# ---- query counts -----------------------------------------------------------------------------------

def _touching(seen: list[str], table: str) -> list[str]:
    return [sql for sql in seen if table in sql]


async def test_a_product_write_looks_up_its_attributes_in_one_query(db: Database, api: Any) -> None:
    await define_all(api)
    values = {"color": "red", "tags": ["eco"], "material": "Linen", "weight": 1, "organic": True,
              "released": "2024-01-01"}
    with count_queries(db) as seen:
        created = await api.post("/api/products", {"name": "X", "sku": "X", "attributes": values})
    assert created.code == 201
    assert len(_touching(seen, "product_attribute")) == 1, seen
    with count_queries(db) as seen:
        patched = await api.patch(f"/api/products/{created.data['id']}", {"attributes": values})
    assert patched.code == 200
    assert len(_touching(seen, "product_attribute")) == 1, seen


async def test_product_lists_do_not_query_per_row(db: Database, api: Any) -> None:
    await define_all(api)
    counts = []
    for total in (2, 20):
        while db.execute_sql("SELECT count(*) FROM product").fetchone()[0] < total:
            n = db.execute_sql("SELECT count(*) FROM product").fetchone()[0]
            await product(api, f"P-{n}", color="red", tags=["eco"], weight=n)
        with count_queries(db) as seen:
            listed = await api.get("/api/products?limit=100&sort=name")
        assert len(listed.data["products"]) == total
        assert all(p["attributes"]["color"] == "red" for p in listed.data["products"])
        counts.append(len(seen))
    assert counts[0] == counts[1], counts


async def test_bulk_stored_values_keep_their_json_form(db: Database, api: Any) -> None:
    await define_all(api)
    created = await product(api, color="red", tags=["eco"])
    assert json.loads(stored(db, created["id"])) == {"color": "red", "tags": ["eco"]}
    assert stored(db, created["id"]) == '{"color":"red","tags":["eco"]}'
