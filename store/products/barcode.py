"""Barcode lookup: the product whose EAN/UPC, or whose variant's, is the scanned code."""

from __future__ import annotations

from typing import Any

from store import variants
from store.db import Database
from store.errors import NotFound
from store.identity import barcode_forms
from store.products.stock import product_with_stock


def find_by_barcode(db: Database, org_id: int, barcode: str, locale: str | None = None) -> dict[str, Any]:
    """The product with this EAN/UPC (a UPC-A also matches as EAN-13 with a leading 0),
    with its stock per warehouse; a variant's code answers its product with that
    variant as `matched_variant`."""
    forms = barcode_forms(barcode)
    marks = ",".join("?" * len(forms))
    row = db.execute_sql(
        f"SELECT id FROM product WHERE org_id = ? AND ean IN ({marks}) ORDER BY id LIMIT 1",
        [org_id, *forms],
    ).fetchone()
    if row is not None:
        return {**product_with_stock(db, org_id, int(row[0]), locale), "matched_variant": None}
    row = db.execute_sql(
        f"SELECT product_id, id FROM product_variant WHERE org_id = ? AND ean IN ({marks})"
        " ORDER BY id LIMIT 1", [org_id, *forms],
    ).fetchone()
    if row is None:
        raise NotFound(f"no product with barcode {barcode}")
    product = product_with_stock(db, org_id, int(row[0]), locale)
    return {**product, "matched_variant": variants.get_variant(db, org_id, int(row[0]), int(row[1]))}
