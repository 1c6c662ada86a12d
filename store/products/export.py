"""Export: every product a list query matches, in id order and chunks, each chunk one
snapshot, so an export of a million products runs in constant memory and another
writer never makes it skip or repeat a product (a product changed meanwhile shows in
its newer form)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

from store import translations, variants
from store.db import Database
from store.products.query import ProductQuery, matching
from store.products.read import keys_of, products_json
from store.products.stock import stock_levels_json

CHUNK = 500


@dataclass(frozen=True)
class Exported:
    """One product: its JSON text (the object `GET /api/products/{id}` answers), its
    variants and stock levels as those routes show them (the levels as JSON text, which
    SQLite writes), and, when asked for, its translations (locale -> fields)."""

    id: int
    json: str
    variants: list[dict[str, Any]]
    levels_json: str
    translations: dict[str, dict[str, Any]] | None = None

    @property
    def stock_levels(self) -> list[dict[str, Any]]:
        levels: list[dict[str, Any]] = json.loads(self.levels_json)
        return levels


def export(db: Database, org_id: int, query: ProductQuery, *, with_translations: bool = False,
           chunk: int = CHUNK) -> Iterator[list[Exported]]:
    """The products `query` matches (its filters, search and locale; not its page or
    sort), `chunk` at a time."""
    found = matching(db, org_id, query)
    if found is None:
        return
    where, params = found
    last = 0
    while True:
        with db.atomic():  # one snapshot per chunk
            ids = [int(row[0]) for row in db.execute_sql(
                f"SELECT p.id FROM product p WHERE {where} AND p.id > ? ORDER BY p.id LIMIT ?",
                [*params, last, chunk])]
            if not ids:
                return
            # Not kept in the JSON cache: an export reads each product once, and would
            # push out what the API's readers read again and again.
            texts = products_json(db, org_id, keys_of(db, org_id, ids), query.locale, keep=False)
            by_product = variants.variants_of(db, org_id, ids)
            levels = stock_levels_json(db, org_id, ids)
            texts_of = translations.translations_of(db, ids) if with_translations else {}
        yield [Exported(product_id, text, by_product.get(product_id, []), levels[product_id],
                        texts_of.get(product_id, {}) if with_translations else None)
               for product_id, text in zip(ids, texts)]
        last = ids[-1]
