"""Product translations: a product's name, descriptions and slug per locale.

One row per product and locale; a NULL field is not translated and a localized read
falls back to the default text for it (see `store.products.read.LOCALIZED_JSON`). Writing
or deleting a translation moves the product's `updated_at` in the same transaction,
so the JSON cache (`store.cache`) and `updated_since` syncs see it; the text index is
kept in step by triggers (migration 4).
"""

from __future__ import annotations

import functools
from typing import Any

from store.db import Database
from store.errors import BadRequest, NotFound
from store.html import clean_description
from store.identity import first_free
from store.models import ProductTranslation, column_names
from store.products.read import TRANSLATED, require_product
from store.values import locale_fallbacks, slugify, utcnow

FIELDS = column_names(ProductTranslation, without=("id", "product_id", "org_id"))
_SELECT = f"SELECT {', '.join(FIELDS)} FROM product_translation"


def _to_api(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(FIELDS, row))


def _find(db: Database, product_id: int, locale: str) -> dict[str, Any] | None:
    row = db.execute_sql(
        f"{_SELECT} WHERE product_id = ? AND locale = ?", (product_id, locale)
    ).fetchone()
    return None if row is None else _to_api(row)


def translations_of(db: Database, product_ids: list[int]) -> dict[int, dict[str, dict[str, Any]]]:
    """Each product's translations, locale -> fields, in one query (exports)."""
    if not product_ids:
        return {}
    marks = ",".join("?" * len(product_ids))
    found: dict[int, dict[str, dict[str, Any]]] = {}
    for row in db.execute_sql(f"SELECT product_id, {', '.join(FIELDS)} FROM product_translation"
                              f" WHERE product_id IN ({marks}) ORDER BY product_id, locale", product_ids):
        item = _to_api(row[1:])
        found.setdefault(int(row[0]), {})[item["locale"]] = item
    return found


def list_translations(db: Database, org_id: int, product_id: int) -> dict[str, Any]:
    """Every locale of the product, sorted by locale, as the variants list is framed."""
    with db.atomic():
        require_product(db, org_id, product_id)
        rows = db.execute_sql(
            f"{_SELECT} WHERE product_id = ? ORDER BY locale", (product_id,)
        ).fetchall()
    items = [_to_api(row) for row in rows]
    return {"product_id": product_id, "translations": items, "total": len(items)}


def get_translation(db: Database, org_id: int, product_id: int, locale: str) -> dict[str, Any]:
    with db.atomic():
        require_product(db, org_id, product_id)
        found = _find(db, product_id, locale)
    if found is None:
        raise NotFound(f"product {product_id} has no translation for locale {locale}")
    return found


def _clashes(db: Database, org_id: int, product_id: int, locale: str, slug: str, *,
             family: bool = False) -> list[tuple[str, str]]:
    """(slug, locale) pairs where another product of the organization shows `slug` (with
    `family`, also `slug-…`) where this product would show its slug for `locale`: in
    `locale` itself, whatever the other product's slug comes from (its own translation,
    a parent locale's, or its default slug), and in a more specific locale that falls
    back to `locale` for this product (`de-AT` when it has no `de-AT` slug of its own).
    Slugs are unique per organization in what a localized read shows. One
    query through the slug indexes."""
    chain = locale_fallbacks(locale)
    match = "{0} >= ? AND {0} < ?" if family else "{0} = ?"
    bounds = (slug, slug + ".") if family else (slug,)  # '.' sorts right after '-'
    marks = ",".join("?" * len(chain))
    shown = ", ".join(f"t{i}.slug" for i in range(len(chain)))
    joins = "".join(
        f" LEFT JOIN product_translation t{i} ON t{i}.product_id = p.id AND t{i}.locale = ?"
        for i in range(len(chain))
    )
    below = (locale + "-", locale + ".")
    rows = db.execute_sql(
        "WITH RECURSIVE candidate(id) AS ("
        f" SELECT id FROM product WHERE org_id = ? AND {match.format('slug')}"
        " UNION SELECT product_id FROM product_translation"
        f" WHERE org_id = ? AND locale IN ({marks}) AND {match.format('slug')}),"
        # The more specific locales holding slugs, hopping the index one locale at a time.
        " below(locale) AS (SELECT (SELECT min(locale) FROM product_translation"
        " WHERE org_id = ? AND slug IS NOT NULL AND locale > ? AND locale < ?)"
        " UNION ALL SELECT (SELECT min(locale) FROM product_translation"
        " WHERE org_id = ? AND slug IS NOT NULL AND locale > b.locale AND locale < ?)"
        " FROM below b WHERE b.locale IS NOT NULL)"
        f" SELECT coalesce({shown}, p.slug), ? FROM candidate c JOIN product p ON p.id = c.id{joins}"
        " WHERE p.id != ?"
        " UNION ALL SELECT t.slug, t.locale FROM below b CROSS JOIN product_translation t"
        f" ON t.org_id = ? AND t.locale = b.locale AND {match.format('t.slug')}"
        " WHERE t.product_id != ? AND NOT EXISTS (SELECT 1 FROM product_translation mine"
        " WHERE mine.product_id = ? AND mine.slug IS NOT NULL AND mine.locale > ? AND mine.locale < ?"
        " AND (mine.locale = t.locale"
        " OR (t.locale > mine.locale || '-' AND t.locale < mine.locale || '.')))",
        (org_id, *bounds, org_id, *chain, *bounds, org_id, *below, org_id, below[1],
         locale, *chain, product_id, org_id, *bounds, product_id, product_id, *below),
    ).fetchall()
    return [(found, where) for found, where in rows
            if found == slug or (family and found.startswith(slug + "-"))]


def _unique_slug(db: Database, org_id: int, locale: str, name: str, product_id: int) -> str:
    """A slug from the translated name, `-2`, `-3`… when another product shows it."""
    base = slugify(name)
    used = {found for found, _ in _clashes(db, org_id, product_id, locale, base, family=True)}
    return first_free(base, used)


def _fallback_slug(db: Database, product_id: int, locale: str) -> str:
    """The slug the product shows in `locale` without a slug of its own there."""
    parents = locale_fallbacks(locale)[1:]
    marks = ",".join("?" * len(parents))
    return str(db.execute_sql(
        "SELECT slug, length(locale) FROM product_translation WHERE product_id = ?"
        f" AND slug IS NOT NULL AND locale IN ({marks})"
        " UNION ALL SELECT slug, 0 FROM product WHERE id = ? ORDER BY 2 DESC LIMIT 1",
        (product_id, *parents, product_id),
    ).fetchone()[0])


def _check_fallback(db: Database, org_id: int, product_id: int, locale: str) -> None:
    """A translation losing its slug (replaced without one, or deleted) shows the
    fallback slug again, which another product may show there meanwhile."""
    slug = _fallback_slug(db, product_id, locale)
    clash = _clashes(db, org_id, product_id, locale, slug)
    if clash:
        raise BadRequest(
            f"slug: without a slug of its own in locale {locale} the product would show"
            f" slug '{slug}', which another product shows in locale {clash[0][1]}; give a slug"
        )


def _fields(db: Database, org_id: int, product_id: int, locale: str, data: dict[str, Any],
            held: dict[str, Any] | None) -> dict[str, Any]:
    """The four stored fields: those not sent, null or empty are not translated; a
    slug not sent is made from the translated name (when there is one). `held`: the
    locale's translation as stored, or None."""
    fields = {field: (data.get(field) or None) for field in TRANSLATED}
    # HTML, as the product's own description: stored sanitised (store/html.py).
    fields["description"] = clean_description("description", fields["description"]) or None
    if not any(fields.values()):
        raise BadRequest(
            "body: give at least one of name, description, short_description, slug"
        )
    if fields["slug"] is not None:
        # A slug kept as it is was checked when it was stored (see store.products.write).
        if held is None or held["slug"] != fields["slug"]:
            clash = _clashes(db, org_id, product_id, locale, fields["slug"])
            if clash:
                raise BadRequest(f"slug: slug '{fields['slug']}' is already taken in locale {clash[0][1]}")
    elif fields["name"] is not None:
        fields["slug"] = _unique_slug(db, org_id, locale, fields["name"], product_id)
    elif held is not None and held["slug"] is not None:
        _check_fallback(db, org_id, product_id, locale)
    return fields


def apply_translation(db: Database, org_id: int, product_id: int, locale: str,
                      data: dict[str, Any], now: str | None = None, *, new_product: bool = False) -> tuple[bool, bool]:
    """Create or replace the translation for `locale` (fields not in `data` are no
    longer translated); answers (whether it is new, whether anything changed). The
    same texts again write nothing and move no `updated_at`. `new_product`: the product
    was created in this transaction (a bulk line), so it holds no translation yet and
    its `updated_at` is already this write's."""
    held = None if new_product else _find(db, product_id, locale)
    fields = _fields(db, org_id, product_id, locale, data, held)
    if held is not None and all(held[name] == fields[name] for name in TRANSLATED):
        return False, False
    now = now or utcnow()
    db.execute_sql(
        "INSERT INTO product_translation (product_id, org_id, locale, name, description,"
        " short_description, slug, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (product_id, locale) DO UPDATE SET name = excluded.name,"
        " description = excluded.description, short_description = excluded.short_description,"
        " slug = excluded.slug, updated_at = excluded.updated_at",
        (product_id, org_id, locale, fields["name"], fields["description"],
         fields["short_description"], fields["slug"], now, now),
    )
    if not new_product:
        _touch(db, product_id, now)
    db.changed(org_id, "translation.updated", product_id, product_id=product_id,
               describe=functools.partial(translation_data, locale=locale), key=locale)
    return held is None, True


def held_translation(db: Database, product_id: int, locale: str) -> dict[str, Any] | None:
    """The product's translation for `locale` as stored, or None."""
    return _find(db, product_id, locale)


def put_translation(db: Database, org_id: int, product_id: int, locale: str,
                    data: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Create or replace the product's translation for `locale` (PUT: fields not sent
    are no longer translated). Answers the translation and whether it is new."""
    require_product(db, org_id, product_id)
    created, _ = apply_translation(db, org_id, product_id, locale, data)
    found = _find(db, product_id, locale)
    assert found is not None
    return found, created


def delete_translation(db: Database, org_id: int, product_id: int, locale: str) -> dict[str, Any]:
    """Remove the locale's translation; answers it as it was."""
    found = get_translation(db, org_id, product_id, locale)
    if found["slug"] is not None:
        _check_fallback(db, org_id, product_id, locale)
    db.execute_sql(
        "DELETE FROM product_translation WHERE product_id = ? AND locale = ?",
        (product_id, locale),
    )
    _touch(db, product_id, utcnow())
    db.changed(org_id, "translation.deleted", product_id, product_id=product_id, data=found, key=locale)
    return found


def translation_data(db: Database, org_id: int, product_id: int, _: int | None = None, *,
                     locale: str) -> dict[str, Any]:
    """A translation event's data: the translation as the API shows it (with its locale)."""
    return get_translation(db, org_id, product_id, locale)


def _touch(db: Database, product_id: int, now: str) -> None:
    """The product shows its translations (`available_translations`, localized reads):
    its `updated_at` moves with them (CACHE RULE in store/cache.py)."""
    db.execute_sql("UPDATE product SET updated_at = ? WHERE id = ?", (now, product_id))
