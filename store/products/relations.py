"""What a product list or read carries besides the product object itself.

`?include=stock_levels,variants` adds, to each product, the `stock_levels` that
`GET /api/products/{id}/stock` shows and the `variants` that
`GET /api/products/{id}/variants` lists, so a sync of many warehouses or variants needs
one call per page, not one per product. A list filtered by `sku` or `ean` also marks
the variants whose code was asked for (`matched_variants`, as barcode lookup's
`matched_variant`). Each relation is one query for the whole page, however many
products it holds; none of it is cached (the product's JSON is, see `store.cache`).
The keys follow the product object's own, in the order of `EXTRA_KEYS`.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from store import variants
from store.db import Database
from store.errors import NotFound
from store.identity import barcode_forms
from store.products.read import get_product_json, keys_of, product_pairs
from store.products.stock import stock_levels_json

#: What `?include=` may name, in the order the keys follow the product object.
INCLUDES = ("stock_levels", "variants")
#: Every key a product may carry beyond its own, in order.
EXTRA_KEYS = (*INCLUDES, "matched_variants")


def with_relations(db: Database, org_id: int, pairs: list[tuple[int, str]], include: Sequence[str],
                   skus: Sequence[str] = (), eans: Sequence[str] = ()) -> list[str]:
    """The products' JSON texts (`pairs` of id and text), each with the relations in
    `include` and, when `skus` or `eans` are given, `matched_variants`: the product's
    variants holding one of those codes (`[]` when only the product's own matched)."""
    texts = [text for _, text in pairs]
    if not pairs or not (include or skus or eans):
        return texts
    ids = [product_id for product_id, _ in pairs]
    found: dict[str, dict[int, str]] = {}  # key -> product id -> JSON text
    if "stock_levels" in include:
        found["stock_levels"] = stock_levels_json(db, org_id, ids)
    if "variants" in include:
        found["variants"] = _texts(variants.variants_of(db, org_id, ids))
    if skus or eans:
        spellings = list(dict.fromkeys(form for ean in eans for form in barcode_forms(ean)))
        found["matched_variants"] = _texts(variants.variants_of(db, org_id, ids, skus=skus, eans=spellings))
    shown = [key for key in EXTRA_KEYS if key in found]
    # The product's JSON is an object built by SQLite: its last character is its `}`.
    return [text[:-1] + "".join(f',"{key}":{found[key][product_id]}' for key in shown) + "}"
            for product_id, text in pairs]


def _texts(rows: dict[int, list[dict[str, Any]]]) -> dict[int, str]:
    return {product_id: json.dumps(items, ensure_ascii=False, separators=(",", ":")) if items else "[]"
            for product_id, items in rows.items()}


def product_json_with(db: Database, org_id: int, product_id: int, locale: str | None,
                      include: Sequence[str]) -> str:
    """One product as JSON text with the relations in `include`, from one snapshot."""
    if not include:
        return get_product_json(db, org_id, product_id, locale)  # no transaction: the hot path
    with db.atomic():
        pairs = product_pairs(db, org_id, keys_of(db, org_id, [product_id]), locale)
        if not pairs:
            raise NotFound(f"product {product_id} not found")
        return with_relations(db, org_id, pairs, include)[0]
