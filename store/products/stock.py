"""Stock per warehouse. A product's `stock` is the sum of its warehouse levels, kept by
triggers (migration 1); a variable product has no levels of its own: its stock is the
sum of its enabled variants' `stock_quantity` (migration 3)."""

from __future__ import annotations

import json
from typing import Any

from store.db import Database
from store.errors import BadRequest
from store.products.read import get_product
from store.reference import default_warehouse_id
from store.values import utcnow

_UPSERT = ("INSERT INTO stock_level (product_id, warehouse_id, quantity, updated_at)"
           " VALUES (?, ?, ?, ?) ON CONFLICT (product_id, warehouse_id)"
           " DO UPDATE SET quantity = excluded.quantity, updated_at = excluded.updated_at")


def stock_levels(db: Database, org_id: int, product_id: int) -> list[dict[str, Any]]:
    """The product's level in every warehouse of the organization (0 where none)."""
    levels: list[dict[str, Any]] = json.loads(stock_levels_json(db, org_id, [product_id])[product_id])
    return levels


def stock_levels_json(db: Database, org_id: int, product_ids: list[int]) -> dict[int, str]:
    """`stock_levels` of each of the organization's products among `product_ids`, as
    JSON text, in one query for a page of a list (SQLite writes the JSON: a tenth of
    the time of building and encoding the dicts); another organization's: `[]`."""
    found = {product_id: "[]" for product_id in product_ids}
    if not product_ids:
        return found
    marks = ",".join("?" * len(found))
    found.update(db.execute_sql(
        "SELECT p.id, json_group_array(json_object('warehouse_id', w.id, 'warehouse_name', w.name,"
        " 'warehouse_code', w.code, 'quantity', coalesce(s.quantity, 0))"
        " ORDER BY w.is_default DESC, w.name, w.id) FROM product p"
        " CROSS JOIN warehouse w LEFT JOIN stock_level s ON s.product_id = p.id AND s.warehouse_id = w.id"
        # `+p.org_id`: look the products up by id, not by walking the organization's.
        f" WHERE p.id IN ({marks}) AND +p.org_id = ? AND w.org_id = ? GROUP BY p.id",
        (*found, org_id, org_id),
    ).fetchall())
    return found


def levels_of(db: Database, org_id: int, product_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """`stock_levels` of each of `product_ids` (every warehouse of the organization, 0
    where none), in two queries for them all."""
    warehouses = db.execute_sql(
        "SELECT id, name, code FROM warehouse WHERE org_id = ? ORDER BY is_default DESC, name, id",
        (org_id,)).fetchall()
    held: dict[tuple[int, int], int] = {}
    if product_ids:
        marks = ",".join("?" * len(product_ids))
        held = {(int(p), int(w)): int(q) for p, w, q in db.execute_sql(
            f"SELECT product_id, warehouse_id, quantity FROM stock_level WHERE product_id IN ({marks})",
            product_ids)}
    return {pid: [{"warehouse_id": wid, "warehouse_name": name, "warehouse_code": code,
                   "quantity": held.get((pid, wid), 0)} for wid, name, code in warehouses]
            for pid in product_ids}


def product_with_stock(db: Database, org_id: int, product_id: int,
                       locale: str | None = None) -> dict[str, Any]:
    product = get_product(db, org_id, product_id, locale)
    product["stock_levels"] = stock_levels(db, org_id, product_id)
    return product


def stock_data(db: Database, org_id: int, product_id: int, _: int | None = None) -> dict[str, Any]:
    """A `stock.updated` event's data: the product with its levels, as
    `GET /api/products/{id}/stock` shows it."""
    return product_with_stock(db, org_id, product_id)


def default_stock(db: Database, org_id: int, product_id: int) -> int:
    """The product's level in the organization's default warehouse (0 where none)."""
    row = db.execute_sql(
        "SELECT s.quantity FROM stock_level s JOIN warehouse w ON w.id = s.warehouse_id"
        " WHERE s.product_id = ? AND w.org_id = ? AND w.is_default", (product_id, org_id)).fetchone()
    return 0 if row is None else int(row[0])


def set_default_stock(db: Database, org_id: int, product_id: int, quantity: int, now: str,
                      warehouse_id: int | None = None) -> None:
    """`stock` written on a product: its level in the organization's default warehouse
    (`warehouse_id` when the caller knows it)."""
    db.execute_sql(_UPSERT, (product_id, warehouse_id or default_warehouse_id(db, org_id), quantity, now))


def apply_stock_levels(db: Database, org_id: int, product_id: int, product_type: str,
                       levels: list[dict[str, int]], now: str | None = None) -> bool:
    """Set the listed warehouses' levels (the others keep theirs); answers whether any
    level changed. A level set to what it is writes nothing and moves no `updated_at`."""
    if product_type == "variable":
        raise BadRequest("body: a variable product's stock is the sum of its variants'"
                         " stock_quantity; set it on the variants")
    seen: set[int] = set()
    for i, level in enumerate(levels):
        warehouse_id = level["warehouse_id"]
        if warehouse_id in seen:
            raise BadRequest(f"[{i}].warehouse_id: warehouse {warehouse_id} is listed twice")
        seen.add(warehouse_id)
        owned = db.execute_sql(
            "SELECT 1 FROM warehouse WHERE id = ? AND org_id = ?", (warehouse_id, org_id)
        ).fetchone()
        if owned is None:
            raise BadRequest(f"[{i}].warehouse_id: no warehouse with id {warehouse_id}")
    held = dict(db.execute_sql("SELECT warehouse_id, quantity FROM stock_level WHERE product_id = ?",
                               (product_id,)).fetchall())
    changed = [level for level in levels if held.get(level["warehouse_id"], 0) != level["quantity"]]
    if not changed:
        return False
    now = now or utcnow()
    for level in changed:
        db.execute_sql(_UPSERT, (product_id, level["warehouse_id"], level["quantity"], now))
    db.execute_sql("UPDATE product SET updated_at = ? WHERE id = ?", (now, product_id))
    db.changed(org_id, "stock.updated", product_id, product_id=product_id, describe=stock_data)
    return True


def set_stock_levels(db: Database, org_id: int, product_id: int,
                     levels: list[dict[str, int]]) -> dict[str, Any]:
    """Set the listed warehouses' levels; warehouses not listed keep theirs. Answers
    the product with its levels."""
    product_type = get_product(db, org_id, product_id)["product_type"]
    apply_stock_levels(db, org_id, product_id, product_type, levels)
    return product_with_stock(db, org_id, product_id)


def check_can_become_variable(current: dict[str, Any]) -> None:
    """A product that gets variants must hold no warehouse stock of its own."""
    if current["stock"] > 0:
        raise BadRequest(f"product_type: the product holds {current['stock']} units in its"
                         " warehouses; set its stock to 0 before it gets variants")


def drop_stock_levels(db: Database, product_id: int) -> None:
    """A product that became variable keeps no warehouse levels (all 0 by then), so
    that no stock_level trigger recomputes its stock from them."""
    db.execute_sql("DELETE FROM stock_level WHERE product_id = ?", (product_id,))
