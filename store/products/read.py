"""The product object as the API shows it, built by SQLite as JSON text.

`PRODUCT_JSON` is derived from the `Product` model (`store/models.py`): each column
shows by its kind (money as a string with 4 places, the channel bitmask as
`publishing_channels`, a reference as the row it names), and `RELATIONS` adds what the
product shows beyond its own columns. One query per page, no Python objects per row;
the texts are cached by (id, updated_at) in `db.product_json` (see `store.cache`).
"""

from __future__ import annotations

import json
from typing import Any

import peewee as pw

from store.cache import CacheKey
from store.db import Database
from store.errors import NotFound
from store.models import TIMESTAMPS, ChannelsField, JsonField, MoneyField, Product, ProductTranslation
from store.values import CHANNELS, locale_fallbacks

Key = tuple[int, str]  # (id, updated_at): what a product's JSON depends on
TRANSLATED = ProductTranslation.TRANSLATED


def money_sql(column: str) -> str:
    """SQL for `money_from_db`: 1/10000 units as a string with 4 places, or NULL."""
    return (f"CASE WHEN {column} IS NULL THEN NULL ELSE printf('%s%d.%04d',"
            f" CASE WHEN {column} < 0 THEN '-' ELSE '' END, abs({column}) / 10000,"
            f" abs({column}) % 10000) END")


_CHANNEL_BITS = " UNION ALL ".join(
    f"SELECT '{name}' AS name, {bit} AS bit" for name, (bit, _, _) in CHANNELS.items()
)

#: What the product shows that is not a column of its own, each after the field it follows.
RELATIONS: dict[str, list[tuple[str, str]]] = {
    "stock": [("in_stock", "json(CASE WHEN p.stock > 0 THEN 'true' ELSE 'false' END)")],
    "supplier": [
        ("categories", "(SELECT json_group_array(json_object('id', c.id, 'name', c.name)"
                       " ORDER BY c.name, c.id) FROM product_category pc"
                       " JOIN category c ON c.id = pc.category_id WHERE pc.product_id = p.id)"),
        ("images", "(SELECT json_group_array(media_url(m.token) ORDER BY m.position)"
                   " FROM media m WHERE m.product_id = p.id)"),
    ],
    "channels": [("available_translations", "(SELECT json_group_array(t.locale ORDER BY t.locale)"
                                            " FROM product_translation t WHERE t.product_id = p.id)")],
}


def api_name(field: pw.Field) -> str:
    """The name the product object shows a column under."""
    return "publishing_channels" if isinstance(field, ChannelsField) else str(field.name)


def _reference_sql(field: pw.ForeignKeyField) -> str:
    """The referenced row as an object (or null), from its join (aliased as the field)."""
    alias, model = field.name, field.rel_model
    parts = ", ".join(
        f"'{name}', {money_sql(f'{alias}.{name}') if isinstance(getattr(model, name), MoneyField) else f'{alias}.{name}'}"
        for name in model.SHOWN_IN_PRODUCTS)
    return f"json(CASE WHEN {alias}.id IS NULL THEN NULL ELSE json_object({parts}) END)"


def _column_sql(field: pw.Field) -> str:
    column = f"p.{field.column_name}"
    if isinstance(field, MoneyField):
        return money_sql(column)
    if isinstance(field, ChannelsField):
        return (f"(SELECT json_group_array(name ORDER BY bit) FROM ({_CHANNEL_BITS})"
                f" WHERE {column} & bit)")
    if isinstance(field, JsonField):
        return f"json({column})"
    if isinstance(field, pw.ForeignKeyField):
        return _reference_sql(field)
    return column


def shown_fields() -> list[pw.Field]:
    """The product's columns the object shows, in its order (timestamps last)."""
    fields = [f for f in Product._meta.sorted_fields if f.name != "org_id"]
    return [f for f in fields if f.name not in TIMESTAMPS] + [f for f in fields if f.name in TIMESTAMPS]


def product_json_sql(overrides: dict[str, str] | None = None) -> str:
    """The SELECT of (id, updated_at, JSON text) per product; `overrides` replaces the
    SQL of some entries (a localized read's texts). Ends with the joins, for the caller's
    WHERE."""
    overrides = overrides or {}
    entries: list[tuple[str, str]] = []
    joins: list[str] = []
    for field in shown_fields():
        name = api_name(field)
        entries.append((name, overrides.get(name, _column_sql(field))))
        entries += RELATIONS.get(field.name, [])
        if isinstance(field, pw.ForeignKeyField):
            table = field.rel_model._meta.table_name
            joins.append(f"LEFT JOIN {table} {field.name} ON {field.name}.id = p.{field.column_name}")
    body = ",\n    ".join(f"'{name}', {sql}" for name, sql in entries)
    return f"SELECT p.id, p.updated_at, json_object(\n    {body})\nFROM product p\n" + "\n".join(joins)


#: Every key the product object has, in order.
PRODUCT_KEYS = [key for field in shown_fields()
                for key in [api_name(field)] + [name for name, _ in RELATIONS.get(field.name, [])]]
PRODUCT_JSON = product_json_sql()


def _localized_json_sql(depth: int) -> str:
    """PRODUCT_JSON with each translatable text taken from the first of `depth` locales
    (bound as the first parameters) that translates it, else the product's own: the
    field-by-field fallback in the same single query."""
    overrides = {field: f"coalesce({', '.join(f't{i}.{field}' for i in range(depth))}, p.{field})"
                 for field in TRANSLATED}
    return product_json_sql(overrides) + "".join(
        f"\nLEFT JOIN product_translation t{i} ON t{i}.product_id = p.id AND t{i}.locale = ?"
        for i in range(depth)
    )


# A locale has at most three lookup steps (language-Script-REGION).
LOCALIZED_JSON = {depth: _localized_json_sql(depth) for depth in (1, 2, 3)}


def require_product(db: Database, org_id: int, product_id: int) -> None:
    """404 unless the organization has this product (any status)."""
    row = db.execute_sql(
        "SELECT 1 FROM product WHERE id = ? AND org_id = ?", (product_id, org_id)
    ).fetchone()
    if row is None:
        raise NotFound(f"product {product_id} not found")


def keys_of(db: Database, org_id: int, ids: list[int]) -> list[Key]:
    """(id, updated_at) for the organization's products among `ids`, in that order."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    found = dict(db.execute_sql(
        # `+org_id`: look the ids up by rowid; left to itself SQLite may walk the
        # organization's index instead (12+ ms at 1M rows for 20 ids).
        f"SELECT id, updated_at FROM product WHERE +org_id = ? AND id IN ({marks})", [org_id, *ids]
    ).fetchall())
    return [(product_id, found[product_id]) for product_id in ids if product_id in found]


def _cache_key(key: Key, locale: str | None) -> CacheKey:
    return key if locale is None else (key[0], key[1], locale)


def products_json(db: Database, org_id: int, keys: list[Key], locale: str | None = None,
                  keep: bool = True) -> list[str]:
    """The JSON of each product (in `locale` if given), from the cache or built in one
    query for the ones missing (and kept in the cache unless not `keep`). A product
    changed since its key was read comes out in its newer form."""
    return [text for _, text in product_pairs(db, org_id, keys, locale, keep)]


def product_pairs(db: Database, org_id: int, keys: list[Key],
                  locale: str | None = None, keep: bool = True) -> list[tuple[int, str]]:
    """(id, JSON text) of each product, as `products_json`."""
    cache = db.product_json
    texts = {key[0]: text for key in keys
             if (text := cache.get(_cache_key(key, locale))) is not None}
    missing = [key[0] for key in keys if key[0] not in texts]
    if missing:
        marks = ",".join("?" * len(missing))
        chain = locale_fallbacks(locale) if locale else []
        sql = LOCALIZED_JSON[len(chain)] if chain else PRODUCT_JSON
        for product_id, updated_at, text in db.execute_sql(
            f"{sql} WHERE +p.org_id = ? AND p.id IN ({marks})",  # see keys_of
            [*chain, org_id, *missing],
        ):
            texts[product_id] = text
            if keep:
                cache.put(_cache_key((product_id, updated_at), locale), text)
    return [(key[0], texts[key[0]]) for key in keys if key[0] in texts]


def get_product_json(db: Database, org_id: int, product_id: int, locale: str | None = None) -> str:
    """The product as JSON text: one query when cached, two if not."""
    found = products_json(db, org_id, keys_of(db, org_id, [product_id]), locale)
    if not found:
        raise NotFound(f"product {product_id} not found")
    return found[0]


def get_product(db: Database, org_id: int, product_id: int, locale: str | None = None) -> dict[str, Any]:
    return dict(json.loads(get_product_json(db, org_id, product_id, locale)))


def product_data(db: Database, org_id: int, product_id: int, _: int | None = None) -> str:
    """A product event's data (`store.events`): the product as the API shows it."""
    return get_product_json(db, org_id, product_id)


def products_by_id(db: Database, org_id: int, ids: list[int]) -> list[dict[str, Any]]:
    """The organization's products among `ids`, in that order (image search)."""
    with db.atomic():
        return [json.loads(text) for text in products_json(db, org_id, keys_of(db, org_id, ids))]
