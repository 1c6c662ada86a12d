"""Every decimal a body carries (money, VAT rates, weights, number attributes), at the
edges of what `decimal` can hold: a 400 naming the field, never a 500, never a silent 0.

JSON numbers are parsed as exact Decimals, so `1e1000000` arrives as a number with a
million digits; arithmetic on it raises `decimal.Overflow`, and `1e-999999999`
rounds to zero. The rules are checked on the number's digits and exponent alone.
"""

from __future__ import annotations

from typing import Any

import pytest

from store.db import Database
from tests.factories import post_product

MONEY_CASES = [
    # (the JSON number as sent, the problem)
    ("1e1000000", "must be less than 100000000000"),
    ("1E+999999", "must be less than 100000000000"),
    ("1e99999999999999999999999", "must be less than 100000000000"),  # past what Decimal holds
    ("123456789012345678901234567890", "must be less than 100000000000"),
    ("100000000000", "must be less than 100000000000"),
    ("-1e1000000", "must not be negative"),
    ("1e-999999999", "must have at most 4 decimal places"),
    ("1e-99999999999999999999999", "must have at most 4 decimal places"),
    ("1e-20", "must have at most 4 decimal places"),
    ("0.00001", "must have at most 4 decimal places"),
]


def _body(fields: dict[str, Any], field: str, number: str) -> bytes:
    """A JSON body with `field` set to the literal `number` (json.dumps would round it)."""
    import json

    text = json.dumps({**fields, field: "__NUMBER__"})
    return text.replace('"__NUMBER__"', number).encode()


async def _product(api: Any) -> dict[str, Any]:
    return await post_product(api, "Lamp", "LAMP-1", price="10")


def _rows(db: Database) -> tuple[int, ...]:
    return tuple(db.execute_sql(f"SELECT count(*) FROM {table}").fetchone()[0]
                 for table in ("product", "product_variant", "vat_rate"))


@pytest.mark.parametrize("number, problem", MONEY_CASES)
@pytest.mark.parametrize("field", ["price", "sale_price", "cost_price"])
async def test_product_money_out_of_range_is_a_400(db: Database, api: Any, field: str, number: str,
                                                   problem: str) -> None:
    created = await api.call("POST", "/api/products", raw=_body({"name": "X", "sku": "X-1"}, field, number))
    assert created.code == 400 and created.error == f"{field}: {problem}", created.body
    existing = await _product(api)
    before = _rows(db)
    patched = await api.call("PATCH", f"/api/products/{existing['id']}", raw=_body({}, field, number))
    assert patched.code == 400 and patched.error == f"{field}: {problem}", patched.body
    assert _rows(db) == before
    assert (await api.get(f"/api/products/{existing['id']}")).data["price"] == "10.0000"


@pytest.mark.parametrize("number, problem", MONEY_CASES)
@pytest.mark.parametrize("field", ["price", "sale_price", "cost", "weight"])
async def test_variant_money_and_weight_out_of_range_is_a_400(db: Database, api: Any, field: str, number: str,
                                                              problem: str) -> None:
    product = await _product(api)
    before = _rows(db)
    path = f"/api/products/{product['id']}/variants"
    response = await api.call("POST", path, raw=_body({"sku": "V-1"}, field, number))
    assert response.code == 400 and response.error == f"{field}: {problem}", response.body
    assert _rows(db) == before


@pytest.mark.parametrize("number, problem", MONEY_CASES)
async def test_vat_rate_out_of_range_is_a_400(db: Database, api: Any, number: str, problem: str) -> None:
    body = {"name": "Standard", "country_code": "RO"}
    response = await api.call("POST", "/api/vat-rates", raw=_body(body, "rate", number))
    assert response.code == 400 and response.error == f"rate: {problem}", response.body
    assert _rows(db) == (0, 0, 0)
    rate = (await api.post("/api/vat-rates", {**body, "rate": "19"})).data
    response = await api.call("PATCH", f"/api/vat-rates/{rate['id']}", raw=_body({}, "rate", number))
    assert response.code == 400 and response.error == f"rate: {problem}", response.body
    assert (await api.get(f"/api/vat-rates/{rate['id']}")).data["rate"] == "19.0000"


@pytest.mark.parametrize("number", [
    "1e1000000", "-1e1000000", "1e-999999999", "1e-20", "1e99999999999999999999999", "-1e-99999999999999999999999",
    # More digits than Decimal's 28-digit arithmetic keeps: rounding would store 1.
    "1.000000000000000000000000000000000001", "0.9999999999999999999999999999999999",
])
async def test_number_attributes_out_of_range_are_a_400(db: Database, api: Any, number: str) -> None:
    for code, axis in (("weight", False), ("size", True)):
        response = await api.post("/api/product-attributes",
                                  {"name": code.title(), "code": code, "type": "number", "is_variant_axis": axis})
        assert response.code == 201, response.body
    product = await _product(api)
    before = _rows(db)
    response = await api.call("POST", "/api/products",
                              raw=_body({"name": "X", "sku": "X-1"}, "attributes", f'{{"weight": {number}}}'))
    assert response.code == 400 and response.error == "attributes.weight: must have at most 15 digits", response.body
    response = await api.call("POST", f"/api/products/{product['id']}/variants",
                              raw=_body({"sku": "V-1"}, "attributes", f'{{"size": {number}}}'))
    assert response.code == 400 and response.error == "attributes.size: must have at most 15 digits", response.body
    assert _rows(db) == before


@pytest.mark.parametrize("number, shown", [
    ("1e2", "100.0000"), ("19.990000", "19.9900"), ("0e1000000", "0.0000"), ("0e-999999999", "0.0000"),
    ("-0", "0.0000"), ("99999999999.9999", "99999999999.9999"), ("1.5E+1", "15.0000"),
])
async def test_money_in_range_in_any_notation_is_kept_exactly(api: Any, number: str, shown: str) -> None:
    created = await api.call("POST", "/api/products", raw=_body({"name": "X", "sku": "X-1"}, "price", number))
    assert created.code == 201, created.body
    assert created.data["price"] == shown


@pytest.mark.parametrize("number", ["1e99999999999999999999999", "-1e-99999999999999999999999"])
async def test_a_number_past_what_decimal_holds_is_a_400_in_any_field(api: Any, number: str) -> None:
    """Not a crash of the JSON parser: the field the number was sent in says why."""
    response = await api.call("POST", "/api/products", raw=_body({"name": "X", "sku": "X-1"}, "stock", number))
    assert response.code == 400 and response.error == "stock: must be an integer", response.body
    response = await api.call("POST", "/api/products", raw=_body({"sku": "X-1"}, "name", number))
    assert response.code == 400 and response.error == "name: must be a string", response.body


@pytest.mark.parametrize("number, problem", [
    ("1e99999999999999999999999", "must be less than 100000000000"),
    ("1e1000000", "must be less than 100000000000"),
    ("1e-999999999", "must have at most 4 decimal places"),
])
async def test_a_bulk_line_refuses_them_as_a_body_does(db: Database, api: Any, number: str, problem: str) -> None:
    line = _body({"sku": "B-1", "name": "Bulk"}, "price", number) + b"\n"
    response = await api.call("POST", "/api/products/bulk", raw=line, headers={"Content-Type": "application/x-ndjson"})
    assert response.code == 200, response.body
    (result,) = response.data["results"]
    assert result["status"] == "failed" and result["error"] == f"price: {problem}"
    assert _rows(db) == (0, 0, 0)
