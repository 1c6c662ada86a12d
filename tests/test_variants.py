"""Product variants against a real server: the contract's shapes, positions, stock sums
through every write path, uniqueness (SKU and EAN across products and variants, axis
values within a product), barcode and search, other organizations, query counts."""

from __future__ import annotations

from typing import Any

import pytest

from store import attributes
from store.db import Database
from tests.factories import count_queries, post_product

VARIANT_KEYS = {"id", "sku", "name", "price", "sale_price", "cost", "stock_quantity", "stock_status",
                "weight", "is_enabled", "position", "image", "attributes", "ean",
                "created_at", "updated_at"}
EAN13 = "4006381333931"
EAN13_B = "5901234123457"
UPC_A = "036000291452"


@pytest.fixture
def axes(db: Database, org_id: int) -> dict[str, int]:
    """Color and Size as variant axes, plus a plain text attribute."""
    ids = {}
    for body in ({"name": "Color", "code": "color", "type": "select", "options": ["Red", "Blue"],
                  "is_variant_axis": True},
                 {"name": "Size", "code": "size", "type": "select", "options": ["S", "M", "L"],
                  "is_variant_axis": True},
                 {"name": "Material", "code": "material", "type": "text"}):
        with db.writing():
            ids[body["code"]] = attributes.create_attribute(db, org_id, body)["id"]
    return ids


async def make_product(api: Any, sku: str = "TS", **fields: Any) -> dict[str, Any]:
    return await post_product(api, fields.pop("name", "T-Shirt"), sku, **fields)


async def add(api: Any, product_id: int, sku: str, **fields: Any) -> dict[str, Any]:
    response = await api.post(f"/api/products/{product_id}/variants", {"sku": sku, **fields})
    assert response.code == 201, response.body
    return response.data  # type: ignore[no-any-return]


async def stock_of(api: Any, product_id: int) -> int:
    return int((await api.get(f"/api/products/{product_id}")).data["stock"])


# ---- shapes ---------------------------------------------------------------------------------

async def test_list_and_detail_are_the_contracts_shape(api: Any, axes: dict[str, int]) -> None:
    product = await make_product(api)
    variant = await add(api, product["id"], "TSHIRT-RED-M", price="29.99", cost=15, weight="0.25",
                        stock_quantity=50, attributes={"size": "M", "color": "Red"})
    assert set(variant) == VARIANT_KEYS
    assert {k: variant[k] for k in VARIANT_KEYS - {"id", "created_at", "updated_at"}} == {
        "sku": "TSHIRT-RED-M", "name": "T-Shirt - Red, M", "price": "29.9900", "sale_price": None,
        "cost": "15.0000", "stock_quantity": 50, "stock_status": "in_stock", "weight": "0.2500",
        "is_enabled": True, "position": 0, "image": None, "ean": None,
        "attributes": [{"attribute_name": "Color", "attribute_code": "color", "value": "Red"},
                       {"attribute_name": "Size", "attribute_code": "size", "value": "M"}],
    }
    listed = await api.get(f"/api/products/{product['id']}/variants")
    assert listed.code == 200
    assert listed.data == {"product_id": product["id"], "product_name": "T-Shirt",
                           "variants": [variant], "total": 1}
    detail = await api.get(f"/api/products/{product['id']}/variants/{variant['id']}")
    assert detail.data == variant


async def test_a_product_without_variants_lists_none(api: Any) -> None:
    product = await make_product(api, stock=3)
    assert (await api.get(f"/api/products/{product['id']}/variants")).data == {
        "product_id": product["id"], "product_name": "T-Shirt", "variants": [], "total": 0}


async def test_first_variant_makes_the_product_variable(api: Any, axes: dict[str, int]) -> None:
    product = await make_product(api)
    assert product["product_type"] == "simple"
    await add(api, product["id"], "V-1", attributes={"color": "Red"}, stock_quantity=4)
    now = (await api.get(f"/api/products/{product['id']}")).data
    assert (now["product_type"], now["stock"], now["in_stock"]) == ("variable", 4, True)
    assert now["updated_at"] > product["updated_at"]


async def test_names_default_from_the_product_and_axis_values(db: Database,
    api: Any, org_id: int, axes: dict[str, int]
) -> None:
    product = await make_product(api)
    plain = await add(api, product["id"], "V-0")
    assert plain["name"] == "T-Shirt"
    named = await add(api, product["id"], "V-1", name="  Special  ", attributes={"color": "Blue"})
    assert named["name"] == "Special"
    remade = await api.patch(f"/api/products/{product['id']}/variants/{named['id']}",
                             {"name": None, "attributes": {"size": "L"}})
    assert remade.data["name"] == "T-Shirt - Blue, L"
    with db.writing():
        attributes.create_attribute(db, org_id, {"name": "Organic", "type": "boolean", "is_variant_axis": True})
    organic = await add(api, product["id"], "V-2", attributes={"organic": True, "size": "S"})
    assert organic["name"] == "T-Shirt - S, Organic: Yes"  # axis values in attribute order


# ---- positions ----------------------------------------------------------------------------------

async def positions(api: Any, product_id: int) -> list[tuple[str, int]]:
    listed = (await api.get(f"/api/products/{product_id}/variants")).data["variants"]
    return [(v["sku"], v["position"]) for v in listed]


async def test_positions_new_last_explicit_shifts_and_delete_closes_gaps(api: Any, axes: dict[str, int]) -> None:
    product = await make_product(api)
    pid = product["id"]
    ids = {}
    for n, color_size in enumerate([("Red", "S"), ("Red", "M"), ("Red", "L")]):
        ids[n] = (await add(api, pid, f"V-{n}", attributes=dict(zip(("color", "size"), color_size))))["id"]
    assert await positions(api, pid) == [("V-0", 0), ("V-1", 1), ("V-2", 2)]
    first = await add(api, pid, "V-F", position=0, attributes={"color": "Blue"})
    assert first["position"] == 0
    assert await positions(api, pid) == [("V-F", 0), ("V-0", 1), ("V-1", 2), ("V-2", 3)]
    far = await add(api, pid, "V-E", position=99, attributes={"color": "Blue", "size": "S"})
    assert far["position"] == 4
    moved = await api.patch(f"/api/products/{pid}/variants/{ids[2]}", {"position": 1})
    assert moved.data["position"] == 1
    assert await positions(api, pid) == [("V-F", 0), ("V-2", 1), ("V-0", 2), ("V-1", 3), ("V-E", 4)]
    down = await api.patch(f"/api/products/{pid}/variants/{first['id']}", {"position": 50})
    assert down.data["position"] == 4
    assert await positions(api, pid) == [("V-2", 0), ("V-0", 1), ("V-1", 2), ("V-E", 3), ("V-F", 4)]
    assert (await api.delete(f"/api/products/{pid}/variants/{ids[0]}")).code == 200
    assert await positions(api, pid) == [("V-2", 0), ("V-1", 1), ("V-E", 2), ("V-F", 3)]


# ---- stock ----------------------------------------------------------------------------------------

async def test_stock_is_the_sum_of_enabled_variants_through_every_write(api: Any, axes: dict[str, int]) -> None:
    product = await make_product(api)
    pid = product["id"]
    seen = [product["updated_at"]]

    async def check(expected: int) -> None:
        now = (await api.get(f"/api/products/{pid}")).data  # through the JSON cache
        assert now["stock"] == expected
        assert now["in_stock"] is (expected > 0)
        assert now["updated_at"] > seen[-1]
        seen.append(now["updated_at"])
        listed = (await api.get("/api/products")).data["products"]
        assert [p["stock"] for p in listed if p["id"] == pid] == [expected]

    red = await add(api, pid, "V-R", attributes={"color": "Red"}, stock_quantity=5)
    await check(5)
    blue = await add(api, pid, "V-B", attributes={"color": "Blue"}, stock_quantity=7)
    await check(12)
    await add(api, pid, "V-OFF", attributes={"size": "S"}, stock_quantity=100, is_enabled=False)
    await check(12)
    await api.patch(f"/api/products/{pid}/variants/{red['id']}", {"stock_quantity": 1})
    await check(8)
    await api.patch(f"/api/products/{pid}/variants/{blue['id']}", {"is_enabled": False})
    await check(1)
    await api.patch(f"/api/products/{pid}/variants/{blue['id']}", {"is_enabled": True, "stock_quantity": 0})
    await check(1)
    await api.delete(f"/api/products/{pid}/variants/{red['id']}")
    await check(0)
    await api.patch(f"/api/products/{pid}/variants/{blue['id']}", {"price": "3"})  # not stock, still a change
    await check(0)


async def test_warehouse_stock_rules_for_variable_products(api: Any, axes: dict[str, int]) -> None:
    stocked = await make_product(api, "STOCKED", stock=5)
    refused = await api.post(f"/api/products/{stocked['id']}/variants", {"sku": "V-1"})
    assert refused.code == 400
    assert refused.error == ("product_type: the product holds 5 units in its warehouses;"
                             " set its stock to 0 before it gets variants")
    assert (await api.get(f"/api/products/{stocked['id']}")).data["product_type"] == "simple"
    made = await api.patch(f"/api/products/{stocked['id']}", {"product_type": "variable"})
    assert made.code == 400 and made.error == refused.error
    await api.patch(f"/api/products/{stocked['id']}", {"stock": 0})
    await add(api, stocked["id"], "V-1", stock_quantity=2)
    assert await stock_of(api, stocked["id"]) == 2

    message = "stock: a variable product's stock is the sum of its variants' stock_quantity; set it on the variants"
    response = await api.patch(f"/api/products/{stocked['id']}", {"stock": 9})
    assert response.code == 400 and response.error == message
    response = await api.post("/api/products", {"name": "X", "sku": "X", "product_type": "variable", "stock": 1})
    assert response.code == 400 and response.error == message
    warehouse = (await api.get("/api/warehouses")).data["warehouses"][0]["id"]
    response = await api.put(f"/api/products/{stocked['id']}/stock", [{"warehouse_id": warehouse, "quantity": 3}])
    assert response.code == 400
    assert response.error == ("body: a variable product's stock is the sum of its variants'"
                              " stock_quantity; set it on the variants")
    response = await api.patch(f"/api/products/{stocked['id']}", {"product_type": "simple"})
    assert response.code == 400
    assert response.error == "product_type: the product has 1 variant; delete them before making it simple"
    assert await stock_of(api, stocked["id"]) == 2


async def test_a_product_made_variable_keeps_no_warehouse_levels(db: Database, api: Any, axes: dict[str, int]) -> None:
    product = await make_product(api, stock=4)
    await api.patch(f"/api/products/{product['id']}", {"stock": 0})
    changed = await api.patch(f"/api/products/{product['id']}", {"product_type": "variable"})
    assert changed.code == 200 and changed.data["stock"] == 0
    rows = db.execute_sql("SELECT count(*) FROM stock_level WHERE product_id = ?", (product["id"],)).fetchone()[0]
    assert rows == 0
    await add(api, product["id"], "V-1", stock_quantity=3)
    # A warehouse delete (which clears empty levels) does not recompute it from levels.
    second = (await api.post("/api/warehouses", {"name": "Second", "code": "SEC"})).data["id"]
    assert (await api.delete(f"/api/warehouses/{second}")).code == 200
    assert await stock_of(api, product["id"]) == 3


@pytest.mark.parametrize("quantity, sent, shown", [
    (5, None, "in_stock"), (0, None, "out_of_stock"), (0, "backorder", "backorder"),
    (5, "backorder", "in_stock"), (0, "out_of_stock", "out_of_stock"), (3, "in_stock", "in_stock"),
])
async def test_stock_status_follows_the_quantity(api: Any, quantity: int, sent: str | None, shown: str) -> None:
    product = await make_product(api)
    body = {"stock_quantity": quantity} | ({"stock_status": sent} if sent else {})
    assert (await add(api, product["id"], "V-1", **body))["stock_status"] == shown


async def test_backorder_sticks_until_turned_off(api: Any) -> None:
    product = await make_product(api)
    variant = await add(api, product["id"], "V-1", stock_status="backorder")
    path = f"/api/products/{product['id']}/variants/{variant['id']}"
    assert (await api.patch(path, {"stock_quantity": 2})).data["stock_status"] == "in_stock"
    assert (await api.patch(path, {"stock_quantity": 0})).data["stock_status"] == "backorder"
    assert (await api.patch(path, {"stock_status": "out_of_stock"})).data["stock_status"] == "out_of_stock"
    bad = await api.patch(path, {"stock_status": "in_stock"})
    assert bad.code == 400 and bad.error == "stock_status: in_stock needs a stock_quantity above 0"
    bad = await api.patch(path, {"stock_quantity": 4, "stock_status": "out_of_stock"})
    assert bad.code == 400 and bad.error == "stock_status: out_of_stock needs a stock_quantity of 0"


# ---- uniqueness and bad input --------------------------------------------------------------------------

async def test_skus_are_unique_across_products_and_variants(api: Any, axes: dict[str, int]) -> None:
    product = await make_product(api, "TS")
    other = await make_product(api, "OTHER")
    variant = await add(api, product["id"], "TS-RED", attributes={"color": "Red"})
    for path in (f"/api/products/{product['id']}/variants", f"/api/products/{other['id']}/variants"):
        taken = await api.post(path, {"sku": "OTHER", "attributes": {"color": "Blue"}})
        assert taken.code == 400 and taken.error == "sku: SKU 'OTHER' is already taken"
        taken = await api.post(path, {"sku": "TS-RED", "attributes": {"color": "Blue"}})
        assert taken.code == 400 and taken.error == "sku: SKU 'TS-RED' is already taken"
    created = await api.post("/api/products", {"name": "X", "sku": "TS-RED"})
    assert created.code == 400 and created.error == "sku: SKU 'TS-RED' is already taken"
    patched = await api.patch(f"/api/products/{other['id']}", {"sku": "TS-RED"})
    assert patched.code == 400 and patched.error == "sku: SKU 'TS-RED' is already taken"
    renamed = await api.patch(f"/api/products/{product['id']}/variants/{variant['id']}", {"sku": "TS"})
    assert renamed.code == 400 and renamed.error == "sku: SKU 'TS' is already taken"
    # Keeping its own SKU is no clash.
    same = await api.patch(f"/api/products/{product['id']}/variants/{variant['id']}", {"sku": "TS-RED"})
    assert same.code == 200


async def test_eans_are_unique_across_products_and_variants(api: Any, axes: dict[str, int]) -> None:
    product = await make_product(api, "TS", ean=EAN13)
    variant = await add(api, product["id"], "V-1", ean=UPC_A)
    response = await api.post(f"/api/products/{product['id']}/variants", {"sku": "V-2", "ean": EAN13,
                                                                          "attributes": {"size": "S"}})
    assert response.code == 400 and response.error == f"ean: EAN {EAN13} is already used by product TS"
    response = await api.post("/api/products", {"name": "X", "sku": "X", "ean": "0" + UPC_A})
    assert response.code == 400 and response.error == f"ean: EAN 0{UPC_A} is already used by variant V-1"
    second = await add(api, product["id"], "V-2", ean=EAN13_B, attributes={"size": "S"})
    response = await api.patch(f"/api/products/{product['id']}/variants/{second['id']}", {"ean": UPC_A})
    assert response.code == 400 and response.error == f"ean: EAN {UPC_A} is already used by variant V-1"
    cleared = await api.patch(f"/api/products/{product['id']}/variants/{variant['id']}", {"ean": None})
    assert cleared.data["ean"] is None
    assert (await api.patch(f"/api/products/{product['id']}/variants/{second['id']}", {"ean": UPC_A})).code == 200


async def test_two_variants_with_the_same_axis_values_are_refused(api: Any, axes: dict[str, int]) -> None:
    product = await make_product(api)
    pid = product["id"]
    first = await add(api, pid, "V-1", attributes={"color": "Red", "size": "M"})
    same = await api.post(f"/api/products/{pid}/variants", {"sku": "V-2", "attributes": {"size": "M", "color": "Red"}})
    assert same.code == 400 and same.error == "attributes: variant V-1 of this product has the same axis values"
    second = await add(api, pid, "V-2", attributes={"color": "Red"})
    clash = await api.patch(f"/api/products/{pid}/variants/{second['id']}", {"attributes": {"size": "M"}})
    assert clash.code == 400 and clash.error == same.error
    # The same values on another product are fine; so is a variant keeping its own.
    other = await make_product(api, "OTHER")
    await add(api, other["id"], "O-1", attributes={"color": "Red", "size": "M"})
    assert (await api.patch(f"/api/products/{pid}/variants/{first['id']}", {"attributes": {"color": "Red"}})).code == 200
    # Merged: removing size leaves {"color": "Red"}, which V-2 has.
    merged = await api.patch(f"/api/products/{pid}/variants/{first['id']}", {"attributes": {"size": None}})
    assert merged.code == 400 and merged.error == "attributes: variant V-2 of this product has the same axis values"


async def test_variant_attributes_must_be_defined_axes(api: Any, other_api: Any, axes: dict[str, int]) -> None:
    await other_api.post("/api/product-attributes", {"name": "Fit", "code": "fit", "type": "text",
                                                     "is_variant_axis": True})
    await api.post("/api/product-attributes", {"name": "Length", "code": "length", "type": "number",
                                               "is_variant_axis": True, "is_required": True})
    product = await make_product(api)
    path = f"/api/products/{product['id']}/variants"
    for body, message in (
        ({"attributes": {"material": "Wool", "length": 1}}, "attributes.material: 'material' is not a variant axis attribute"),
        ({"attributes": {"fit": "Slim", "length": 1}}, "attributes.fit: no attribute with code 'fit'"),
        ({"attributes": {"color": "Green", "length": 1}}, "attributes.color: must be one of Red, Blue"),
        ({"attributes": {"color": "Red"}}, "attributes.length: is required"),
        ({"attributes": {"length": "long"}}, "attributes.length: must be a number such as 12.5"),
    ):
        response = await api.post(path, {"sku": "V-1", **body})
        assert response.code == 400 and response.error == message
    variant = await add(api, product["id"], "V-1", attributes={"length": "70.0", "color": "Red"})
    assert variant["attributes"] == [
        {"attribute_name": "Color", "attribute_code": "color", "value": "Red"},
        {"attribute_name": "Length", "attribute_code": "length", "value": 70}]
    assert variant["name"] == "T-Shirt - Red, 70"
    removed = await api.patch(f"{path}/{variant['id']}", {"attributes": {"length": None}})
    assert removed.code == 400 and removed.error == "attributes.length: is required"


VARIANT_CASES: list[tuple[str, Any, str]] = [
    ("sku-missing", {"price": "1"}, "sku: is required"),
    ("sku-space", {"sku": "A B"}, "sku: must not contain spaces or control characters"),
    ("sku-65", {"sku": "s" * 65}, "sku: must be at most 64 characters"),
    ("price-words", {"sku": "V", "price": "cheap"}, 'price: must be a decimal number such as "19.99"'),
    ("cost-negative", {"sku": "V", "cost": "-1"}, "cost: must not be negative"),
    ("weight-5-places", {"sku": "V", "weight": "0.00001"}, "weight: must have at most 4 decimal places"),
    ("sale-above-price", {"sku": "V", "price": "5", "sale_price": "6"}, "sale_price: must not be greater than price"),
    ("stock-negative", {"sku": "V", "stock_quantity": -1}, "stock_quantity: must be at least 0"),
    ("stock-string", {"sku": "V", "stock_quantity": "3"}, "stock_quantity: must be an integer"),
    ("status-unknown", {"sku": "V", "stock_status": "gone"},
     "stock_status: must be one of 'in_stock', 'out_of_stock' or 'backorder'"),
    ("enabled-string", {"sku": "V", "is_enabled": "yes"}, "is_enabled: must be true or false"),
    ("position-negative", {"sku": "V", "position": -1}, "position: must be at least 0"),
    ("ean-check-digit", {"sku": "V", "ean": "4006381333932"}, "ean: invalid check digit: expected 1, got 2"),
    ("image", {"sku": "V", "image": "https://x.example/a.webp"}, "image: unknown field"),
    ("attributes-list", {"sku": "V", "attributes": [{"attribute_name": "Color", "value": "Red"}]},
     "attributes: must be an object"),
    ("name-empty", {"sku": "V", "name": " "}, "name: must not be empty"),
    ("id", {"sku": "V", "id": 3}, "id: unknown field"),
]


@pytest.mark.parametrize("body, message", [c[1:] for c in VARIANT_CASES], ids=[c[0] for c in VARIANT_CASES])
async def test_bad_variant_input_is_400_and_writes_nothing(db: Database,
    api: Any, axes: dict[str, int], body: dict[str, Any], message: str
) -> None:
    product = await make_product(api)
    variant = await add(api, product["id"], "KEEP", attributes={"color": "Red"}, price="5", stock_quantity=2)
    before = list(db.execute_sql("SELECT * FROM product_variant"))
    product_before = (await api.get(f"/api/products/{product['id']}")).data
    response = await api.post(f"/api/products/{product['id']}/variants", body)
    assert response.code == 400 and response.error == message
    if message != "sku: is required":  # the same body on PATCH fails the same way
        patched = await api.patch(f"/api/products/{product['id']}/variants/{variant['id']}",
                                  {k: v for k, v in body.items() if k != "sku" or message.startswith("sku")})
        assert patched.code == 400 and patched.error == message
    assert list(db.execute_sql("SELECT * FROM product_variant")) == before
    assert (await api.get(f"/api/products/{product['id']}")).data == product_before


# ---- attributes changing under variants --------------------------------------------------------------

async def test_deleting_an_axis_attribute_strips_variants_and_counts_their_products(
    api: Any, axes: dict[str, int]
) -> None:
    product = await make_product(api)
    await add(api, product["id"], "V-1", attributes={"color": "Red", "size": "S"})
    await add(api, product["id"], "V-2", attributes={"color": "Blue", "size": "S"})
    before = (await api.get(f"/api/products/{product['id']}")).data
    clash = await api.delete(f"/api/product-attributes/{axes['color']}")
    assert clash.code == 400
    assert clash.error == ("id: without this attribute, variants V-1 and V-2 would have the same axis"
                           " values; delete or change one of them first")
    deleted = await api.delete(f"/api/product-attributes/{axes['size']}")
    assert deleted.code == 200
    assert (deleted.data["products_changed"], deleted.data["variants_changed"]) == (1, 2)
    listed = (await api.get(f"/api/products/{product['id']}/variants")).data["variants"]
    assert [v["attributes"] for v in listed] == [
        [{"attribute_name": "Color", "attribute_code": "color", "value": "Red"}],
        [{"attribute_name": "Color", "attribute_code": "color", "value": "Blue"}]]
    assert (await api.get(f"/api/products/{product['id']}")).data["updated_at"] > before["updated_at"]


async def test_axis_options_and_flags_in_use_by_variants(api: Any, axes: dict[str, int]) -> None:
    product = await make_product(api)
    await add(api, product["id"], "V-1", attributes={"size": "S"})
    response = await api.patch(f"/api/product-attributes/{axes['size']}", {"options": ["M", "L"]})
    assert response.code == 400 and response.error == "options: 'S' is used by 1 variant (V-1); change them first"
    response = await api.patch(f"/api/product-attributes/{axes['size']}", {"is_variant_axis": False})
    assert response.code == 400 and response.error == "is_variant_axis: 1 variant (V-1) use this attribute as an axis"
    renamed = await api.patch(f"/api/product-attributes/{axes['size']}", {"name": "Taille"})
    assert renamed.code == 200
    listed = (await api.get(f"/api/products/{product['id']}/variants")).data["variants"]
    assert listed[0]["attributes"][0]["attribute_name"] == "Taille"


# ---- barcode and search ---------------------------------------------------------------------------------

async def test_barcode_finds_a_variant_and_marks_it(api: Any, axes: dict[str, int]) -> None:
    product = await make_product(api, ean=EAN13)
    variant = await add(api, product["id"], "V-1", ean=UPC_A, attributes={"color": "Red"}, stock_quantity=3)
    for code in (UPC_A, "0" + UPC_A):
        found = (await api.get(f"/api/products/barcode/{code}")).data
        assert found["id"] == product["id"] and found["stock"] == 3
        assert found["matched_variant"] == variant
        assert "stock_levels" in found
    own = (await api.get(f"/api/products/barcode/{EAN13}")).data
    assert own["id"] == product["id"] and own["matched_variant"] is None
    await api.delete(f"/api/products/{product['id']}")  # archived: still found, still readable
    assert (await api.get(f"/api/products/barcode/{UPC_A}")).data["matched_variant"]["id"] == variant["id"]
    assert (await api.get(f"/api/products/{product['id']}/variants")).data["total"] == 1


async def test_an_exact_variant_sku_or_ean_finds_its_product_first(api: Any) -> None:
    shirt = await make_product(api, "TS", status="active")
    await make_product(api, "TS-RED-ZED", name="Other", status="active")  # a prefix match, not exact
    await add(api, shirt["id"], "TS-RED", ean=EAN13_B)
    for term in ("TS-RED", EAN13_B):
        listed = (await api.get(f"/api/products?search={term}")).data["products"]
        assert listed and listed[0]["id"] == shirt["id"], (term, listed)


# ---- other organizations ----------------------------------------------------------------------------------

async def test_another_organizations_variant_is_a_404_like_a_missing_one(api: Any, other_api: Any) -> None:
    mine = await make_product(api, "MINE")
    my_variant = await add(api, mine["id"], "MINE-1")
    theirs = await make_product(other_api, "THEIRS")
    their_variant = await add(other_api, theirs["id"], "THEIRS-1", stock_quantity=4)
    missing = their_variant["id"] + 1000
    for method, body in (("GET", None), ("PATCH", {"stock_quantity": 99}), ("DELETE", None)):
        # Their variant under my product; my variant under their product; both theirs.
        for path, noun, target in (
            (f"/api/products/{mine['id']}/variants/{their_variant['id']}", "variant", their_variant["id"]),
            (f"/api/products/{mine['id']}/variants/{missing}", "variant", missing),
            (f"/api/products/{theirs['id']}/variants/{my_variant['id']}", "product", theirs["id"]),
            (f"/api/products/{theirs['id']}/variants/{their_variant['id']}", "product", theirs["id"]),
        ):
            response = await api.call(method, path, body)
            assert response.code == 404 and response.error == f"{noun} {target} not found", (method, path)
    for method, body in (("GET", None), ("POST", {"sku": "HIJACK"})):
        response = await api.call(method, f"/api/products/{theirs['id']}/variants", body)
        assert response.code == 404 and response.error == f"product {theirs['id']} not found"
    assert (await other_api.get(f"/api/products/{theirs['id']}/variants/{their_variant['id']}")).data == their_variant
    assert await stock_of(other_api, theirs["id"]) == 4
    # SKUs and EANs repeat freely across organizations.
    assert (await add(api, (await make_product(api, "MINE-2"))["id"], "THEIRS-1"))["sku"] == "THEIRS-1"


async def test_a_variant_of_another_product_is_not_found_under_this_one(api: Any) -> None:
    first = await make_product(api, "A")
    second = await make_product(api, "B")
    variant = await add(api, first["id"], "A-1")
    response = await api.get(f"/api/products/{second['id']}/variants/{variant['id']}")
    assert response.code == 404 and response.error == f"variant {variant['id']} not found"


# ---- query counts ------------------------------------------------------------------------------------------

async def test_variant_lists_do_not_query_per_row(db: Database, api: Any, axes: dict[str, int]) -> None:
    product = await make_product(api)
    counts = []
    # Every combination of (no) color and (no) size: 12 distinct axis values.
    combos = [{k: v for k, v in (("color", c), ("size", z)) if v}
              for c in (None, "Red", "Blue") for z in (None, "S", "M", "L")]
    n = 0
    for total in (2, 12):
        while n < total:
            await add(api, product["id"], f"V-{n}", attributes=combos[n])
            n += 1
        with count_queries(db) as seen:
            listed = await api.get(f"/api/products/{product['id']}/variants")
        assert listed.data["total"] == total
        counts.append(len(seen))
    assert counts[0] == counts[1] <= 5, (counts, seen)


async def test_variable_products_list_without_a_query_per_row(db: Database, api: Any) -> None:
    counts = []
    for total in (2, 10):
        while db.execute_sql("SELECT count(*) FROM product").fetchone()[0] < total:
            n = db.execute_sql("SELECT count(*) FROM product").fetchone()[0]
            created = await make_product(api, f"P-{n}")
            await add(api, created["id"], f"P-{n}-V", stock_quantity=n)
        with count_queries(db) as seen:
            listed = await api.get("/api/products?limit=50&sort=-stock")
        assert [p["stock"] for p in listed.data["products"]] == list(range(total - 1, -1, -1))
        counts.append(len(seen))
    assert counts[0] == counts[1], counts


async def test_a_variant_shows_one_of_its_products_media_as_its_image(api: Any, axes: dict[str, int]) -> None:
    from tests.factories import draw, upload

    product, other = await make_product(api), await make_product(api, sku="OTHER")
    mine = (await upload(api, product["id"], draw(1))).data
    theirs = (await upload(api, other["id"], draw(2))).data
    path = f"/api/products/{product['id']}/variants"
    created = await api.post(path, {"sku": "TS-R", "attributes": {"color": "Red"}, "media_id": mine["id"]})
    assert created.code == 201, created.body
    assert created.data["image"] == mine["url"] and mine["url"].endswith(".webp")
    assert (await api.get(f"{path}/{created.data['id']}")).data["image"] == mine["url"]

    refused = await api.post(path, {"sku": "TS-B", "attributes": {"color": "Blue"}, "media_id": theirs["id"]})
    assert refused.code == 400
    assert refused.error == f"media_id: product {product['id']} has no media {theirs['id']}"
    moved = await api.patch(f"{path}/{created.data['id']}", {"media_id": theirs["id"]})
    assert moved.code == 400 and moved.error.startswith("media_id: ")
    assert (await api.patch(f"{path}/{created.data['id']}", {"media_id": None})).data["image"] is None
    assert (await api.patch(f"{path}/{created.data['id']}", {"media_id": mine["id"]})).data["image"] == mine["url"]

    # Deleting the media takes it off the variant.
    assert (await api.delete(f"/api/products/{product['id']}/media/{mine['id']}")).code == 200
    assert (await api.get(path)).data["variants"][0]["image"] is None
