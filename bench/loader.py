"""A fast loader of already-valid products, for the benchmarks' catalogs.

`bulk_import(db, org_id, products)` drops the per-row triggers of the product table
(text index, status counts, stock sums), executemany-inserts the rows, fills the text
index and the status counts in one statement each and makes the triggers again: five
to seven times faster than firing them row by row. The triggers it drops and makes are
today's (`store.schema`). It used to be `store.products.bulk_import`; only the
benchmarks used it.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from store import attributes, schema  # noqa: E402
from store.db import Database  # noqa: E402
from store.migrations import split_sql  # noqa: E402
from store.reference import default_warehouse_id  # noqa: E402
from store.values import channels_to_mask, money_to_db, slugify, utcnow  # noqa: E402

_BULK_COLUMNS = (
    "org_id", "sku", "slug", "name", "description", "short_description", "product_type",
    "price", "sale_price", "cost_price", "currency", "status", "ean", "brand_id",
    "supplier_id", "vat_rate_id", "channels", "product_condition", "attributes",
    "stock", "created_at", "updated_at",
)


def bulk_import(db: Database, org_id: int, products: Iterable[dict[str, Any]]) -> int:
    """Insert many already-valid products in one write transaction; answers how many.

    Per-row triggers (text index, status counts) are dropped for the load and their
    tables rebuilt once at the end, which is 5-7x faster than firing them row by row.
    Each product dict has the create fields; `stock` goes to the default warehouse.
    """
    now = utcnow()
    count = 0
    with db.writing():
        warehouse_id = default_warehouse_id(db, org_id)
        conn = db.connection()
        for name in schema.ROW_TRIGGER_NAMES:
            conn.execute(f"DROP TRIGGER {name}")
        first_id = (db.execute_sql("SELECT coalesce(max(id), 0) FROM product").fetchone()[0]) + 1
        insert = (
            f"INSERT INTO product ({', '.join(_BULK_COLUMNS)})"
            f" VALUES ({','.join('?' * len(_BULK_COLUMNS))})"
        )
        batch: list[tuple[Any, ...]] = []
        stock: list[tuple[int, int]] = []
        for product in products:
            batch.append((
                org_id, product["sku"], product.get("slug") or slugify(product["name"]),
                product["name"], product.get("description", ""),
                product.get("short_description", ""), product.get("product_type", "simple"),
                money_to_db(_money(product.get("price"))),
                money_to_db(_money(product.get("sale_price"))),
                money_to_db(_money(product.get("cost_price"))),
                product.get("currency", "EUR"), product.get("status", "draft"),
                product.get("ean"), product.get("brand_id"), product.get("supplier_id"),
                product.get("vat_rate_id"),
                channels_to_mask(product.get("publishing_channels", [])),
                product.get("product_condition", "new"),
                attributes.encode(product.get("attributes", {})),
                product.get("stock", 0), now, now,
            ))
            if product.get("stock"):
                stock.append((first_id + count, product["stock"]))
            count += 1
            if len(batch) >= 5000:
                conn.executemany(insert, batch)
                batch.clear()
        if batch:
            conn.executemany(insert, batch)
        conn.executemany(
            "INSERT INTO stock_level (product_id, warehouse_id, quantity, updated_at)"
            f" VALUES (?, {warehouse_id}, ?, '{now}')",
            stock,
        )
        conn.execute(
            f"INSERT INTO product_fts ({schema.FTS_COLUMNS})"
            f" SELECT {schema.TEXT_INDEX_VALUES.format(t='p')} FROM product p WHERE p.id >= ?",
            (first_id,),
        )
        # A load leaves the text index in many segments; merged, searches take about a
        # third less time (100k products: `shirt` 1.8 -> 1.2 ms, for 0.8 s here).
        conn.execute("INSERT INTO product_fts(product_fts) VALUES ('optimize')")
        conn.execute("DELETE FROM product_status_count")
        conn.execute(
            "INSERT INTO product_status_count (org_id, status, n)"
            " SELECT org_id, status, count(*) FROM product GROUP BY org_id, status"
        )
        for statement in split_sql(schema.ROW_TRIGGERS):
            conn.execute(statement)
    return count


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
