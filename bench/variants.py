"""Attributes and variants benchmark: in-process timings of the store calls behind them.

Run from the repository root:

    .venv/bin/python bench/variants.py [--products N] [--variants V] [--repeat R] [--db PATH]

Builds N products (default 100,000) with five attribute values each through the bulk
importer, attribute definitions for them, and one product with V variants (default 50)
through `create_variant`. Then prints the median of R runs (default 20) of: the
variant list of that product, the product itself, a product list page, a product
create and an attribute PATCH with five values, a variant create and PATCH, an exact
search by a variant SKU, a barcode lookup by a variant EAN, and once each the calls
that look through every product: removing an unused option, changing an attribute's
type (refused: in use), and deleting an attribute every product holds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from loader import bulk_import  # noqa: E402

from store import attributes, orgs, variants  # noqa: E402
from store.db import Database, open_database  # noqa: E402
from store.products.barcode import find_by_barcode  # noqa: E402
from store.products.query import ProductQuery, list_products_json  # noqa: E402
from store.products.read import get_product_json  # noqa: E402
from store.products.write import create_product, update_product  # noqa: E402
from store.errors import BadRequest  # noqa: E402
from store.values import ean_check_digit  # noqa: E402

COLOURS = ["Black", "White", "Navy", "Red", "Green", "Sand", "Grey", "Blue", "Pink", "Teal"]
SIZES = ["XS", "S", "M", "L", "XL"]


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def written(db: Database, fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(db, *args)` in its own write transaction, as the API runs a write."""
    with db.writing():
        return fn(db, *args)


def once_ms(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    try:
        result = fn()
    except BadRequest as exc:
        result = f"400 {exc.message[:60]}"
    return (time.perf_counter() - start) * 1000, result


def ean(n: int) -> str:
    body = f"200{n:09d}"
    return body + str(ean_check_digit(body))


def build(db: Database, org_id: int, count: int, variant_count: int) -> tuple[int, list[int]]:
    for body in (
        {"name": "Colour", "code": "colour", "type": "select", "options": COLOURS, "is_variant_axis": True},
        {"name": "Size", "code": "size", "type": "select", "options": SIZES, "is_variant_axis": True},
        {"name": "Material", "code": "material", "type": "text"},
        {"name": "Weight", "code": "weight", "type": "number", "unit": "kg"},
        {"name": "Organic", "code": "organic", "type": "boolean"},
        {"name": "Length", "code": "length", "type": "number", "is_variant_axis": True},
    ):
        written(db, attributes.create_attribute, org_id, body)
    start = time.perf_counter()
    bulk_import(db, org_id, (
        {"name": f"Product {n}", "sku": f"P-{n}", "status": "active",
         "attributes": {"colour": COLOURS[n % 10], "size": SIZES[n % 5], "material": "Cotton",
                        "weight": n % 7 + 0.5, "organic": n % 2 == 0}}
        for n in range(count)
    ))
    print(f"bulk import of {count} products: {time.perf_counter() - start:.1f} s")
    shirt = written(db, create_product, org_id, {"name": "Shirt", "sku": "SHIRT", "status": "active"})
    ids = []
    start = time.perf_counter()
    for n in range(variant_count):
        ids.append(written(db, variants.create_variant, org_id, shirt["id"], {
            "sku": f"SHIRT-{n}", "ean": ean(n), "stock_quantity": n, "price": Decimal("19.99"),
            "attributes": {"colour": COLOURS[n % 10], "size": SIZES[(n // 10) % 5], "length": n // 50},
        })["id"])
    print(f"{variant_count} variant creates: {(time.perf_counter() - start) * 1000 / variant_count:.2f} ms each")
    return shirt["id"], ids


def run(db: Database, args: argparse.Namespace) -> None:
    """Build the catalog in `db`, then time the calls."""
    org_id = written(db, orgs.get_or_create_org, "Bench variants")
    shirt, ids = build(db, org_id, args.products, args.variants)
    values = {"colour": "Red", "size": "M", "material": "Linen", "weight": "1.25", "organic": True}
    counter = iter(range(10**9))
    query = ProductQuery(status=("active",), page=2, limit=20)
    rows = [
        (f"list {args.variants} variants", lambda: variants.list_variants(db, org_id, shirt)),
        ("get the variable product (cached)", lambda: get_product_json(db, org_id, shirt)),
        ("product list page of 20 (cached)", lambda: list_products_json(db, org_id, query)),
        ("create a product without attributes", lambda: written(
            db, create_product, org_id, {"name": f"New {next(counter)}", "sku": f"NEW-{next(counter)}"})),
        ("create a product with 5 attributes", lambda: written(
            db, create_product, org_id,
            {"name": f"New {next(counter)}", "sku": f"NEW-{next(counter)}", "attributes": values})),
        ("PATCH a product's 5 attributes", lambda: written(
            db, update_product, org_id, 1, {"attributes": {**values, "weight": next(counter) % 9}})),
        ("create a variant", lambda: written(
            db, variants.create_variant, org_id, shirt,
            {"sku": f"SHIRT-X{next(counter)}", "attributes": {"length": 1000 + next(counter)}})),
        ("PATCH a variant's stock", lambda: written(
            db, variants.update_variant, org_id, shirt, ids[0], {"stock_quantity": next(counter) % 50})),
        ("search by a variant SKU", lambda: list_products_json(
            db, org_id, ProductQuery(search=f"SHIRT-{args.variants // 2}"))),
        ("barcode of a variant", lambda: find_by_barcode(db, org_id, ean(args.variants // 2))),
    ]
    print(f"\n{'call':<42} {'median ms':>10}")
    for label, fn in rows:
        print(f"{label:<42} {median_ms(fn, args.repeat):>10.2f}")

    print(f"\n{'scans of every product (once)':<42} {'ms':>10}  result")
    defined = attributes.list_attributes(db, org_id, 1, 100)[0]
    size_id = next(a["id"] for a in defined if a["code"] == "size")
    weight_id = next(a["id"] for a in defined if a["code"] == "weight")
    material_id = next(a["id"] for a in defined if a["code"] == "material")
    update = attributes.update_attribute
    for label, fn in (
        ("add an option", lambda: written(db, update, org_id, size_id, {"options": [*SIZES, "XXL"]})),
        ("remove an unused option", lambda: written(db, update, org_id, size_id, {"options": SIZES})),
        ("remove a used option (refused)", lambda: written(
            db, update, org_id, size_id, {"options": SIZES[1:]})),
        ("change a used type (refused)", lambda: written(
            db, update, org_id, weight_id, {"type": "text"})),
        ("delete an attribute all products hold", lambda: written(
            db, attributes.delete_attribute, org_id, material_id)),
    ):
        ms, result = once_ms(fn)
        shown = result if isinstance(result, str) else result.get("products_changed", "ok")
        print(f"{label:<42} {ms:>10.1f}  {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--variants", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--db", help="database file (default: a temporary one)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(args.db or str(Path(tmp) / "bench.db"))
        try:
            run(db, args)
        finally:
            db.close()


if __name__ == "__main__":
    main()
