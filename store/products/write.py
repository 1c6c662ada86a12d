"""Product writes: create, partial update, archive. Each runs inside the caller's write
transaction (`db.write`, `db.writing`) and a rejected write raises before it has
written anything a commit would keep.

The columns a write may set are derived from the `Product` model: every column but
the row's identity, timestamps and what triggers keep (`Product.DERIVED`); money
columns are parsed as money, references checked against the organization's rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field
from typing import Any

import peewee as pw

from store import attributes
from store.db import Database
from store.errors import BadRequest, NotFound
from store.html import clean_description
from store.identity import check_ean_free, check_product_slug_free, check_sku_free, unique_product_slug
from store.models import ChannelsField, JsonField, MoneyField, Product, column_names
from store.products.read import get_product, product_data
from store.products.stock import (
    check_can_become_variable, default_stock, drop_stock_levels, set_default_stock, stock_data,
)
from store.values import channels_to_mask, money_to_db, utcnow

_IDENTITY = ("id", "org_id", "created_at", "updated_at")
WRITABLE: list[pw.Field] = [field for field in Product._meta.sorted_fields
                            if field.name not in _IDENTITY and field.name not in Product.DERIVED]
_MONEY = [field.column_name for field in WRITABLE if isinstance(field, MoneyField)]
# brand_id -> brand: the organization's rows a product may reference.
_REFERENCES = {field.column_name: field.rel_model._meta.table_name
               for field in WRITABLE if isinstance(field, pw.ForeignKeyField)}
# Set as sent: text, choices and references (by id).
_DIRECT = [field.column_name for field in WRITABLE
           if not isinstance(field, (MoneyField, ChannelsField, JsonField))]
ROW_NAMES = column_names(Product)
ROW_COLUMNS = ", ".join(ROW_NAMES)


def request_name(field: pw.Field) -> str:
    """The name a request sets a column by: `brand_id`, `publishing_channels`, `price`."""
    return "publishing_channels" if isinstance(field, ChannelsField) else str(field.column_name)


#: Every field a create or PATCH body may send: the writable columns, the product's
#: stock in its default warehouse and its categories.
REQUEST_FIELDS = frozenset([request_name(field) for field in WRITABLE] + ["stock", "category_ids"])


@dataclass
class Held:
    """What a caller writing many products in one transaction (a bulk import's batch)
    holds already, so that each write need not look it up again: every attribute
    definition of the organization, its default warehouse, and the rows (brands,
    suppliers, VAT rates, categories) found to be the organization's. Only what no
    write of that transaction takes away; `owned` is emptied when a savepoint that may
    have made some of those rows rolls back (`forget`)."""

    definitions: dict[str, attributes.Definition]
    default_warehouse: int
    owned: set[tuple[str, int]] = dataclass_field(default_factory=set)

    def forget(self) -> None:
        self.owned.clear()


def _check_reference(db: Database, org_id: int, field: str, row_id: int, held: Held | None = None) -> None:
    table = _REFERENCES[field]
    if held is not None and (table, row_id) in held.owned:
        return
    row = db.execute_sql(f"SELECT 1 FROM {table} WHERE id = ? AND org_id = ?", (row_id, org_id))
    if row.fetchone() is None:
        raise BadRequest(f"{field}: no {table.replace('_', ' ')} with id {row_id}")
    if held is not None:
        held.owned.add((table, row_id))


def check_categories(db: Database, org_id: int, category_ids: list[int], held: Held | None = None) -> list[int]:
    """The ids, each once, in order: 400 naming the first that is not the organization's."""
    wanted = list(dict.fromkeys(category_ids))
    if not wanted:
        return []
    found = {category_id for category_id in wanted if held is not None and ("category", category_id) in held.owned}
    asked = [category_id for category_id in wanted if category_id not in found]
    if asked:
        marks = ",".join("?" * len(asked))
        found.update(row[0] for row in db.execute_sql(
            f"SELECT id FROM category WHERE +org_id = ? AND id IN ({marks})", [org_id, *asked]))
    missing = [category_id for category_id in wanted if category_id not in found]
    if missing:
        raise BadRequest(f"category_ids: no category with id {missing[0]}")
    if held is not None:
        held.owned.update(("category", category_id) for category_id in wanted)
    return wanted


def product_row(db: Database, org_id: int, product_id: int) -> dict[str, Any]:
    """The product's columns as stored (money as integer units, channels as a bitmask,
    attributes as canonical JSON text); 404 unless the organization has it."""
    cursor = db.execute_sql(f"SELECT {ROW_COLUMNS} FROM product WHERE id = ? AND org_id = ?",
                            (product_id, org_id))
    row = cursor.fetchone()
    if row is None:
        raise NotFound(f"product {product_id} not found")
    return dict(zip(ROW_NAMES, row))


def _check_product_type(db: Database, data: dict[str, Any], columns: dict[str, Any],
                        current: dict[str, Any] | None) -> None:
    """A variable product's stock is its variants' (no warehouse levels of its own);
    a product with variants stays variable."""
    was = (current or {}).get("product_type", "simple")
    kind = columns.get("product_type", was)
    if kind == "variable" and "stock" in data:
        raise BadRequest("stock: a variable product's stock is the sum of its variants'"
                         " stock_quantity; set it on the variants")
    if kind == "variable" and was != "variable" and current is not None:
        check_can_become_variable(current)
    if kind == "simple" and was == "variable" and current is not None:
        count = db.execute_sql("SELECT count(*) FROM product_variant WHERE product_id = ?",
                               (current["id"],)).fetchone()[0]
        if count:
            raise BadRequest(f"product_type: the product has {count} variant"
                             f"{'' if count == 1 else 's'}; delete them before making it simple")


def product_values(db: Database, org_id: int, data: dict[str, Any], current: dict[str, Any] | None,
                   definitions: dict[str, attributes.Definition] | None = None) -> dict[str, Any]:
    """The stored values of the columns `data` sets (a create, or a partial update of
    the stored row `current`): text as sent (descriptions sanitised), money in units,
    channels as a bitmask, attributes merged and checked against their definitions
    (`definitions` when the caller has them), and the product type's rules; a 400
    naming the field. Nothing else is looked up: see `product_columns`."""
    columns: dict[str, Any] = {field: data[field] for field in _DIRECT if field in data}
    if "description" in columns:  # HTML: stored sanitised, whoever wrote it (store/html.py)
        columns["description"] = clean_description("description", columns["description"])
    for field in _MONEY:
        if field in data:
            columns[field] = money_to_db(data[field])
    if "publishing_channels" in data:
        columns["channels"] = channels_to_mask(data["publishing_channels"])
    if "attributes" in data or current is None:  # on create, required ones are checked
        stored = None if current is None else attributes.decode(current["attributes"])
        columns["attributes"] = attributes.encode(attributes.merge_values(
            db, org_id, data.get("attributes") or {}, stored, variant=False, known=definitions))
    _check_product_type(db, data, columns, current)
    return columns


def sale_price_error(columns: dict[str, Any], current: dict[str, Any] | None) -> str | None:
    """The sale price above the price, once `columns` apply to `current`."""
    price = columns.get("price", (current or {}).get("price"))
    sale = columns.get("sale_price", (current or {}).get("sale_price"))
    if price is not None and sale is not None and sale > price:
        return "sale_price: must not be greater than price"
    return None


def product_columns(db: Database, org_id: int, data: dict[str, Any], current: dict[str, Any] | None,
                    held: Held | None = None) -> dict[str, Any]:
    """Validated column values for the fields in `data` (a create, or a partial update
    of the stored row `current`); a 400 naming the field for anything wrong.

    A value an update sends as it is stored needs no look-up: the write that stored it
    checked it (its reference is the organization's, its SKU, EAN and slug were free,
    and every later write of another row checked against it). So a PATCH or a bulk
    line that repeats what the product holds costs no uniqueness queries."""
    product_id = current["id"] if current else None
    columns = product_values(db, org_id, data, current, None if held is None else held.definitions)

    def changes(field: str) -> bool:
        return current is None or current[field] != columns[field]

    for field in _REFERENCES:
        if columns.get(field) is not None and changes(field):
            _check_reference(db, org_id, field, columns[field], held)
    if "sku" in columns and changes("sku"):
        check_sku_free(db, org_id, columns["sku"], product_id=product_id)
    if columns.get("ean") is not None and changes("ean"):
        check_ean_free(db, org_id, columns["ean"], product_id=product_id)
    if columns.get("slug") is not None:
        if changes("slug"):
            check_product_slug_free(db, org_id, columns["slug"], product_id)
    elif current is None or "slug" in columns:  # new product, or slug reset with null
        name = columns.get("name") or (current or {}).get("name", "")
        columns["slug"] = unique_product_slug(db, org_id, name, product_id)

    problem = sale_price_error(columns, current)
    if problem:
        raise BadRequest(problem)
    return columns


def _category_ids(db: Database, product_id: int) -> set[int]:
    return {int(row[0]) for row in db.execute_sql(
        "SELECT category_id FROM product_category WHERE product_id = ?", (product_id,))}


def _set_categories(db: Database, product_id: int, category_ids: list[int], new: bool = False) -> None:
    if not new:
        db.execute_sql("DELETE FROM product_category WHERE product_id = ?", (product_id,))
    for category_id in category_ids:
        db.execute_sql(
            "INSERT INTO product_category (product_id, category_id) VALUES (?, ?)",
            (product_id, category_id),
        )


def insert_product(db: Database, org_id: int, data: dict[str, Any], *, held: Held | None = None,
                   now: str | None = None) -> int:
    """Create a product from validated fields; answers its id. A bulk import's batch
    gives what it `held`s already, and `now`, the time it writes the line at."""
    columns = product_columns(db, org_id, data, None, held)
    category_ids = check_categories(db, org_id, data.get("category_ids") or [], held)
    now = now or utcnow()
    columns.update(org_id=org_id, created_at=now, updated_at=now)
    cursor = db.execute_sql(
        f"INSERT INTO product ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})",
        list(columns.values()),
    )
    product_id = int(cursor.lastrowid)
    if columns.get("product_type") == "variable":
        drop_stock_levels(db, product_id)
    if data.get("stock"):
        set_default_stock(db, org_id, product_id, data["stock"], now, None if held is None else held.default_warehouse)
    _set_categories(db, product_id, category_ids, new=True)
    db.changed(org_id, "product.created", product_id, product_id=product_id, describe=product_data)
    return product_id


def create_product(db: Database, org_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Create a product from validated fields; answers the full product."""
    return get_product(db, org_id, insert_product(db, org_id, data))


def apply_update(db: Database, org_id: int, current: dict[str, Any], data: dict[str, Any],
                 now: str | None = None, held: Held | None = None) -> bool:
    """Apply a partial update to the stored row `current` (`product_row`); answers
    whether anything changed. A field sent with the value it has is no change: an
    update that changes nothing writes nothing and moves no `updated_at`."""
    product_id = current["id"]
    columns = {name: value for name, value in product_columns(db, org_id, data, current, held).items()
               if current[name] != value}
    stock_changed = "stock" in data and default_stock(db, org_id, product_id) != data["stock"]
    categories: list[int] | None = None
    if "category_ids" in data:
        categories = check_categories(db, org_id, data["category_ids"], held)
        if set(categories) == _category_ids(db, product_id):
            categories = None
    if not columns and not stock_changed and categories is None:
        return False
    now = now or utcnow()
    columns["updated_at"] = now
    assignments = ", ".join(f"{name} = ?" for name in columns)
    db.execute_sql(f"UPDATE product SET {assignments} WHERE id = ?", [*columns.values(), product_id])
    if stock_changed:
        set_default_stock(db, org_id, product_id, data["stock"], now)
    if columns.get("product_type") == "variable" and current["product_type"] != "variable":
        drop_stock_levels(db, product_id)
    if categories is not None:
        _set_categories(db, product_id, categories)
    if len(columns) > 1 or categories is not None:  # more than updated_at
        archived = columns.get("status") == "archived"
        db.changed(org_id, "product.archived" if archived else "product.updated", product_id,
                   product_id=product_id, describe=product_data)
    if stock_changed:
        db.changed(org_id, "stock.updated", product_id, product_id=product_id, describe=stock_data)
    return True


def update_product(db: Database, org_id: int, product_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Apply a partial update; a rejected update writes nothing. Answers the product."""
    apply_update(db, org_id, product_row(db, org_id, product_id), data)
    return get_product(db, org_id, product_id)


def archive_product(db: Database, org_id: int, product_id: int) -> dict[str, Any]:
    """Soft delete: the product stays, with status `archived`."""
    get_product(db, org_id, product_id)
    archived = db.execute_sql(
        "UPDATE product SET status = 'archived', updated_at = ?"
        " WHERE id = ? AND org_id = ? AND status != 'archived'",
        (utcnow(), product_id, org_id),
    ).rowcount
    if archived:
        db.changed(org_id, "product.archived", product_id, product_id=product_id, describe=product_data)
    return get_product(db, org_id, product_id)
