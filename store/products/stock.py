"""Stock per warehouse. A product's `stock` is the sum of its warehouse levels, kept by
triggers (migration 1); a variable product has no levels of its own: its stock is the
sum of its enabled variants' `stock_quantity` (migration 3)."""

from __future__ import annotations

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
    return stock_levels_of(db, org_id, [product_id])[product_id]


def stock_levels_of(db: Database, org_id: int, product_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """`stock_levels` of each of the organization's products among `product_ids`, in one
    query (a page of a list); a product of another organization gets none."""
    found: dict[int, list[dict[str, Any]]] = {product_id: [] for product_id in product_ids}
    if not product_ids:
        return found
    marks = ",".join("?" * len(found))
    for product_id, wid, name, code, qty in db.execute_sql(
        # `+p.org_id`: look the products up by id, not by walking the organization's.
        "SELECT p.id, w.id, w.name, w.code, coalesce(s.quantity, 0) FROM product p"
        " CROSS JOIN warehouse w LEFT JOIN stock_level s ON s.product_id = p.id AND s.warehouse_id = w.id"
        f" WHERE p.id IN ({marks}) AND +p.org_id = ? AND w.org_id = ?"
        " ORDER BY p.id, w.is_default DESC, w.name, w.id",
        (*found, org_id, org_id),
    ):
        found[product_id].append(
            {"warehouse_id": wid, "warehouse_name": name, "warehouse_code": code, "quantity": qty})
    return found


def product_with_stock(db: Database, org_id: int, product_id: int,
                       locale: str | None = None) -> dict[str, Any]:
    product = get_product(db, org_id, product_id, locale)
    product["stock_levels"] = stock_levels(db, org_id, product_id)
    return product


def set_default_stock(db: Database, org_id: int, product_id: int, quantity: int, now: str) -> None:
    """`stock` written on a product: its level in the organization's default warehouse."""
    db.execute_sql(_UPSERT, (product_id, default_warehouse_id(db, org_id), quantity, now))


def set_stock_levels(db: Database, org_id: int, product_id: int,
                     levels: list[dict[str, int]]) -> dict[str, Any]:
    """Set the listed warehouses' levels; warehouses not listed keep theirs."""
    if get_product(db, org_id, product_id)["product_type"] == "variable":
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
    now = utcnow()
    for level in levels:
        db.execute_sql(_UPSERT, (product_id, level["warehouse_id"], level["quantity"], now))
    db.execute_sql("UPDATE product SET updated_at = ? WHERE id = ?", (now, product_id))
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
