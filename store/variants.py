"""Product variants: list, read, create, partial update and delete.

A variant belongs to one product and holds values for the organization's variant-axis
attributes (two variants of a product never share them). Adding a variant makes the
product `variable`; its `stock` is then the sum of its enabled variants'
`stock_quantity`, kept by triggers (migration 3). Every variant write moves the
product's `updated_at`, since its stock may show the change (store/cache.py).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Sequence

from store import attributes
from store.attributes import Definition
from store.db import Database
from store.errors import BadRequest, NotFound
from store.identity import check_ean_free, check_sku_free
from store.models import MoneyField, ProductVariant, column_names, fields_of
from store.ordering import Siblings, clamp
from store.products.read import get_product
from store.products.stock import check_can_become_variable, drop_stock_levels
from store.values import money_from_db, money_to_db, utcnow

FIELDS = column_names(ProductVariant, without=("org_id",))
# The variant's image: the public URL of the product's media it points at.
IMAGE = "(SELECT media_url(m.token) FROM media m WHERE m.id = product_variant.media_id)"
SELECTED = f"{', '.join(FIELDS)}, {IMAGE}"
MONEY = tuple(field.name for field in fields_of(ProductVariant, MoneyField))


def _siblings(product_id: int) -> Siblings:
    return Siblings("product_variant", "product_id = ?", (product_id,))


def _axis_names(db: Database, org_id: int) -> dict[str, tuple[int, str]]:
    """code -> (id, name) of the organization's variant-axis attributes, in one query."""
    return {code: (row_id, name) for row_id, code, name in db.execute_sql(
        "SELECT id, code, name FROM product_attribute WHERE org_id = ? AND is_variant_axis", (org_id,)
    )}


def _stock_status(quantity: int, backorders: bool) -> str:
    if quantity > 0:
        return "in_stock"
    return "backorder" if backorders else "out_of_stock"


def _to_api(row: tuple[Any, ...], names: dict[str, tuple[int, str]]) -> dict[str, Any]:
    shown = dict(zip(FIELDS, row))
    image = row[len(FIELDS)]
    values = attributes.decode(shown["attributes"])
    order = sorted(values, key=lambda code: names.get(code, (0, code)))
    quantity = shown["stock_quantity"]
    return {
        "id": shown["id"], "sku": shown["sku"], "name": shown["name"],
        "price": money_from_db(shown["price"]), "sale_price": money_from_db(shown["sale_price"]),
        "cost": money_from_db(shown["cost"]), "stock_quantity": quantity,
        "stock_status": _stock_status(quantity, bool(shown["backorders"])),
        "weight": money_from_db(shown["weight"]), "is_enabled": bool(shown["is_enabled"]),
        "position": shown["position"], "ean": shown["ean"], "image": image,
        "attributes": [
            {"attribute_name": names.get(code, (0, code))[1], "attribute_code": code,
             "value": _shown(values[code])}
            for code in order
        ],
        "created_at": shown["created_at"], "updated_at": shown["updated_at"],
    }


def _shown(value: Any) -> Any:
    """Numbers as exact JSON numbers: an int, or a float that prints as the decimal."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _product(db: Database, org_id: int, product_id: int) -> tuple[int, str, str, int]:
    row = db.execute_sql(
        "SELECT id, name, product_type, stock FROM product WHERE id = ? AND org_id = ?",
        (product_id, org_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"product {product_id} not found")
    return row  # type: ignore[no-any-return]


def list_variants(db: Database, org_id: int, product_id: int) -> dict[str, Any]:
    """The contract's answer: the product's id and name, its variants in order, total."""
    with db.atomic():  # one snapshot
        _, name, _, _ = _product(db, org_id, product_id)
        rows = db.execute_sql(
            f"SELECT {SELECTED} FROM product_variant WHERE product_id = ? AND org_id = ?"
            " ORDER BY position, id", (product_id, org_id),
        ).fetchall()
        names = _axis_names(db, org_id) if rows else {}
    variants = [_to_api(row, names) for row in rows]
    return {"product_id": product_id, "product_name": name, "variants": variants, "total": len(variants)}


# The organization's variant axes as one JSON text, beside every row of a batch: an
# uncorrelated subquery, which SQLite runs once per statement.
_AXES = ("(SELECT json_group_array(json_array(id, code, name)) FROM product_attribute"
         " WHERE org_id = ? AND is_variant_axis)")


def variants_of(db: Database, org_id: int, product_ids: list[int], *, skus: Sequence[str] = (),
                eans: Sequence[str] = ()) -> dict[int, list[dict[str, Any]]]:
    """The variants of each of `product_ids` (the organization's), as the variant list
    shows them, in position order, in one query for the whole page. With `skus` or
    `eans` (every spelling already): only the variants holding one of those codes."""
    found: dict[int, list[dict[str, Any]]] = {product_id: [] for product_id in product_ids}
    if not product_ids:
        return found
    codes: list[str] = []
    wanted = []
    for column, values in (("sku", skus), ("ean", eans)):
        if values:
            wanted.append(f"{column} IN ({','.join('?' * len(values))})")
            codes += values
    where = f" AND ({' OR '.join(wanted)})" if wanted else ""
    rows = db.execute_sql(
        # `+org_id`: through the (product_id, position) index, never the organization's
        # (org_id, sku) one, which would walk every variant of the organization.
        f"SELECT {SELECTED}, product_id, {_AXES} FROM product_variant"
        f" WHERE +org_id = ? AND product_id IN ({','.join('?' * len(found))}){where}"
        " ORDER BY product_id, position, id",
        [org_id, org_id, *found, *codes],
    ).fetchall()
    if rows:
        names = {code: (row_id, name) for row_id, code, name in json.loads(rows[0][-1])}
        for row in rows:
            found[row[-2]].append(_to_api(row[:-2], names))
    return found


def _row(db: Database, org_id: int, product_id: int, variant_id: int) -> tuple[Any, ...]:
    _product(db, org_id, product_id)
    row = db.execute_sql(
        f"SELECT {SELECTED} FROM product_variant WHERE id = ? AND product_id = ? AND org_id = ?",
        (variant_id, product_id, org_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"variant {variant_id} not found")
    return row  # type: ignore[no-any-return]


def get_variant(db: Database, org_id: int, product_id: int, variant_id: int) -> dict[str, Any]:
    return _to_api(_row(db, org_id, product_id, variant_id), _axis_names(db, org_id))


# ---- writes -------------------------------------------------------------------------------

def variant_data(db: Database, org_id: int, variant_id: int, product_id: int | None) -> dict[str, Any]:
    """A variant event's data: the variant as the API shows it."""
    assert product_id is not None
    return get_variant(db, org_id, product_id, variant_id)


def _default_name(db: Database, org_id: int, product_name: str, values: dict[str, Any],
                  known: dict[str, Definition] | None = None) -> str:
    """"T-Shirt - Red, M": the product's name and the axis values in attribute order."""
    if not values:
        return product_name
    defs: dict[str, Definition] = (attributes.definitions(db, org_id, values) if known is None
                                   else {code: d for code, d in known.items() if code in values})
    order = sorted(values, key=lambda code: defs[code].id if code in defs else 0)
    return f"{product_name} - {', '.join(_value_text(defs.get(c), values[c]) for c in order)}"[:255]


def _value_text(definition: Definition | None, value: Any) -> str:
    """A value as a name shows it; a bare "Yes" would not say what is yes."""
    if isinstance(value, bool):
        return f"{definition.name if definition else 'Yes/No'}: {'Yes' if value else 'No'}"
    return value if isinstance(value, str) else attributes.encode_value(value)


def _check_unique(db: Database, org_id: int, product_id: int, columns: dict[str, Any],
                  variant_id: int | None) -> None:
    if "sku" in columns:
        check_sku_free(db, org_id, columns["sku"], variant_id=variant_id)
    if columns.get("ean") is not None:
        check_ean_free(db, org_id, columns["ean"], variant_id=variant_id)
    if "attributes" in columns:
        clash = db.execute_sql(
            "SELECT sku FROM product_variant WHERE product_id = ? AND attributes = ? AND id != ?",
            (product_id, columns["attributes"], variant_id or 0),
        ).fetchone()
        if clash is not None:
            raise BadRequest(f"attributes: variant {clash[0]} of this product has the same axis values")


def _check_media(db: Database, org_id: int, product_id: int, media_id: int | None) -> None:
    """A variant's image is one of its own product's media."""
    if media_id is not None and db.execute_sql(
        "SELECT 1 FROM media WHERE id = ? AND product_id = ? AND org_id = ?",
        (media_id, product_id, org_id),
    ).fetchone() is None:
        raise BadRequest(f"media_id: product {product_id} has no media {media_id}")


def _money_columns(data: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    columns = {field: money_to_db(data[field]) for field in MONEY if field in data}
    price = columns.get("price", current.get("price"))
    sale = columns.get("sale_price", current.get("sale_price"))
    if price is not None and sale is not None and sale > price:
        raise BadRequest("sale_price: must not be greater than price")
    return columns


def _stock_columns(data: dict[str, Any], quantity: int) -> dict[str, Any]:
    """`stock_status` follows `stock_quantity`; `backorder` lets a variant at 0 be
    sold anyway, and `in_stock`/`out_of_stock` turn that off (they must agree with the
    quantity)."""
    status = data.get("stock_status")
    if status is None:
        return {}
    if status == "in_stock" and quantity == 0:
        raise BadRequest("stock_status: in_stock needs a stock_quantity above 0")
    if status == "out_of_stock" and quantity > 0:
        raise BadRequest("stock_status: out_of_stock needs a stock_quantity of 0")
    return {"backorders": status == "backorder"}


def _touch(db: Database, org_id: int, product_id: int, now: str) -> None:
    attributes.touch_products(db, org_id, [product_id], now)


def insert_variant(db: Database, org_id: int, product_id: int, data: dict[str, Any],
                   definitions: dict[str, Definition] | None = None) -> int:
    """Add a variant; a simple product becomes variable (it must hold no warehouse
    stock). Answers the variant's id. `definitions`: every attribute definition of the
    organization, when the caller holds them (a bulk import's batch)."""
    _, product_name, product_type, stock = _product(db, org_id, product_id)
    if product_type != "variable":
        check_can_become_variable({"stock": stock})
        db.execute_sql("UPDATE product SET product_type = 'variable' WHERE id = ?", (product_id,))
        drop_stock_levels(db, product_id)
    values = attributes.merge_values(db, org_id, data.get("attributes") or {}, None, variant=True,
                                     known=definitions)
    columns: dict[str, Any] = {
        "sku": data["sku"], "ean": data.get("ean"), "attributes": attributes.encode(values),
        "stock_quantity": data.get("stock_quantity", 0),
        "is_enabled": data.get("is_enabled", True), "media_id": data.get("media_id"),
    }
    _check_unique(db, org_id, product_id, columns, None)
    _check_media(db, org_id, product_id, columns["media_id"])
    columns.update(_money_columns(data, {}))
    columns.update(_stock_columns(data, columns["stock_quantity"]))
    columns["name"] = data.get("name") or _default_name(db, org_id, product_name, values, definitions)
    siblings = _siblings(product_id)
    columns["position"] = clamp(data.get("position"), siblings.count(db))
    siblings.open_at(db, columns["position"])
    now = utcnow()
    columns.update(org_id=org_id, product_id=product_id, created_at=now, updated_at=now)
    cursor = db.execute_sql(
        f"INSERT INTO product_variant ({', '.join(columns)})"
        f" VALUES ({','.join('?' * len(columns))})", list(columns.values()),
    )
    _touch(db, org_id, product_id, now)
    variant_id = int(cursor.lastrowid)
    db.changed(org_id, "variant.created", variant_id, product_id=product_id, describe=variant_data)
    return variant_id


def create_variant(db: Database, org_id: int, product_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Add a variant (see `insert_variant`); answers it."""
    return get_variant(db, org_id, product_id, insert_variant(db, org_id, product_id, data))


def apply_variant_update(db: Database, org_id: int, product_id: int, variant_id: int,
                         data: dict[str, Any]) -> bool:
    """A partial update: `attributes` merges keys (null removes one); `name: null`
    makes the name again from the product's name and the axis values. Answers whether
    anything changed: values sent as they are write nothing and move no `updated_at`."""
    current = dict(zip(FIELDS, _row(db, org_id, product_id, variant_id)))
    columns: dict[str, Any] = {
        field: data[field] for field in ("sku", "ean", "stock_quantity", "is_enabled", "media_id")
        if field in data
    }
    if "media_id" in columns:
        _check_media(db, org_id, product_id, columns["media_id"])
    values = attributes.decode(current["attributes"])
    if "attributes" in data:
        values = attributes.merge_values(db, org_id, data["attributes"], values, variant=True)
        columns["attributes"] = attributes.encode(values)
    # A value sent as it is stored was checked when it was stored (see product_columns).
    _check_unique(db, org_id, product_id, {name: value for name, value in columns.items()
                                           if current[name] != value}, variant_id)
    columns.update(_money_columns(data, current))
    quantity = columns.get("stock_quantity", current["stock_quantity"])
    columns.update(_stock_columns(data, quantity))
    if "name" in data:
        product_name = _product(db, org_id, product_id)[1]
        columns["name"] = data["name"] or _default_name(db, org_id, product_name, values)
    if "position" in data:
        siblings = _siblings(product_id)
        columns["position"] = clamp(data["position"], siblings.count(db) - 1)
    columns = {name: value for name, value in columns.items() if current[name] != value}
    if not columns:
        return False
    if "position" in columns:
        _siblings(product_id).move(db, current["position"], columns["position"])
    now = utcnow()
    columns["updated_at"] = now
    db.execute_sql(
        f"UPDATE product_variant SET {', '.join(f'{name} = ?' for name in columns)} WHERE id = ?",
        [*columns.values(), variant_id],
    )
    _touch(db, org_id, product_id, now)
    db.changed(org_id, "variant.updated", variant_id, product_id=product_id, describe=variant_data)
    return True


def repeats_stored(db: Database, org_id: int, current: dict[str, Any], data: dict[str, Any], siblings: int,
                   definitions: dict[str, Definition]) -> bool:
    """True when `apply_variant_update` of `data` on the stored variant `current` (a
    dict of FIELDS; the product has `siblings` variants) would change nothing and refuse
    nothing: the same columns, worked out as it does, without a query (a bulk import's
    unchanged lines). False when not certain. Keep in step with `apply_variant_update`."""
    if "media_id" in data or ("name" in data and not data["name"]):
        return False
    columns: dict[str, Any] = {field: data[field] for field in ("sku", "ean", "stock_quantity", "is_enabled")
                               if field in data}
    try:
        if "attributes" in data:
            columns["attributes"] = attributes.encode(attributes.merge_values(
                db, org_id, data["attributes"], attributes.decode(current["attributes"]), variant=True,
                known=definitions))
        columns.update(_money_columns(data, current))
        columns.update(_stock_columns(data, columns.get("stock_quantity", current["stock_quantity"])))
    except BadRequest:
        return False
    if "name" in data:
        columns["name"] = data["name"]
    if "position" in data:
        columns["position"] = clamp(data["position"], siblings - 1)
    return all(current[name] == value for name, value in columns.items())


def update_variant(db: Database, org_id: int, product_id: int, variant_id: int,
                   data: dict[str, Any]) -> dict[str, Any]:
    """A partial update (see `apply_variant_update`); answers the variant."""
    apply_variant_update(db, org_id, product_id, variant_id, data)
    return get_variant(db, org_id, product_id, variant_id)


def variant_by_sku(db: Database, org_id: int, sku: str) -> tuple[int, int] | None:
    """(product id, variant id) of the organization's variant with this SKU, or None."""
    row = db.execute_sql("SELECT product_id, id FROM product_variant WHERE org_id = ? AND sku = ?",
                         (org_id, sku)).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def delete_variant(db: Database, org_id: int, product_id: int, variant_id: int) -> dict[str, Any]:
    """Delete a variant (the product stays variable); answers the deleted variant."""
    shown = get_variant(db, org_id, product_id, variant_id)
    db.execute_sql("DELETE FROM product_variant WHERE id = ?", (variant_id,))
    _siblings(product_id).close_at(db, shown["position"])
    _touch(db, org_id, product_id, utcnow())
    db.changed(org_id, "variant.deleted", variant_id, product_id=product_id, data=shown)
    return shown
