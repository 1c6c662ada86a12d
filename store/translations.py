"""Product translations: a product's name, descriptions and slug per locale.

One row per product and locale; a NULL field is not translated and a localized read
falls back to the default text for it (see `store.products.LOCALIZED_JSON`). Writing
or deleting a translation moves the product's `updated_at` in the same transaction,
so the JSON cache (`store.cache`) and `updated_since` syncs see it; the text index is
kept in step by triggers (migration 4).
"""

from __future__ import annotations

from typing import Any

from store.db import db, utcnow, writing
from store.errors import BadRequest, NotFound
from store.products import TRANSLATED
from store.values import slugify

_SELECT = (
    "SELECT locale, name, description, short_description, slug, created_at, updated_at"
    " FROM product_translation"
)


def _to_api(row: tuple[Any, ...]) -> dict[str, Any]:
    locale, name, description, short_description, slug, created_at, updated_at = row
    return {
        "locale": locale, "name": name, "description": description,
        "short_description": short_description, "slug": slug,
        "created_at": created_at, "updated_at": updated_at,
    }


def require_product(org_id: int, product_id: int) -> None:
    """404 unless the organization has this product (any status, as reads do)."""
    row = db.execute_sql(
        "SELECT 1 FROM product WHERE id = ? AND org_id = ?", (product_id, org_id)
    ).fetchone()
    if row is None:
        raise NotFound(f"product {product_id} not found")


def _find(product_id: int, locale: str) -> dict[str, Any] | None:
    row = db.execute_sql(
        f"{_SELECT} WHERE product_id = ? AND locale = ?", (product_id, locale)
    ).fetchone()
    return None if row is None else _to_api(row)


def list_translations(org_id: int, product_id: int) -> dict[str, Any]:
    """Every locale of the product, sorted by locale, as the variants list is framed."""
    with db.atomic():
        require_product(org_id, product_id)
        rows = db.execute_sql(
            f"{_SELECT} WHERE product_id = ? ORDER BY locale", (product_id,)
        ).fetchall()
    items = [_to_api(row) for row in rows]
    return {"product_id": product_id, "translations": items, "total": len(items)}


def get_translation(org_id: int, product_id: int, locale: str) -> dict[str, Any]:
    with db.atomic():
        require_product(org_id, product_id)
        found = _find(product_id, locale)
    if found is None:
        raise NotFound(f"product {product_id} has no translation for locale {locale}")
    return found


def _slug_taken(org_id: int, locale: str, slug: str, product_id: int) -> bool:
    return db.execute_sql(
        "SELECT 1 FROM product_translation"
        " WHERE org_id = ? AND locale = ? AND slug = ? AND product_id != ?",
        (org_id, locale, slug, product_id),
    ).fetchone() is not None


def _unique_slug(org_id: int, locale: str, name: str, product_id: int) -> str:
    """A slug from the translated name, `-2`, `-3`… on a clash within the locale."""
    base = slugify(name)
    used = {row[0] for row in db.execute_sql(
        "SELECT slug FROM product_translation WHERE org_id = ? AND locale = ?"
        " AND product_id != ? AND (slug = ? OR slug LIKE ?)",
        (org_id, locale, product_id, base, base + "-%"),
    )}
    slug, n = base, 1
    while slug in used:
        n += 1
        slug = f"{base}-{n}"
    return slug


def _fields(org_id: int, product_id: int, locale: str, data: dict[str, Any]) -> dict[str, Any]:
    """The four stored fields: those not sent, null or empty are not translated; a
    slug not sent is made from the translated name (when there is one)."""
    fields = {field: (data.get(field) or None) for field in TRANSLATED}
    if not any(fields.values()):
        raise BadRequest(
            "body: give at least one of name, description, short_description, slug"
        )
    if fields["slug"] is not None:
        if _slug_taken(org_id, locale, fields["slug"], product_id):
            raise BadRequest(f"slug: slug '{fields['slug']}' is already taken in locale {locale}")
    elif fields["name"] is not None:
        fields["slug"] = _unique_slug(org_id, locale, fields["name"], product_id)
    return fields


def put_translation(
    org_id: int, product_id: int, locale: str, data: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """Create or replace the product's translation for `locale` (PUT: fields not sent
    are no longer translated). Answers the translation and whether it is new."""
    with writing():
        require_product(org_id, product_id)
        fields = _fields(org_id, product_id, locale, data)
        now = utcnow()
        created = _find(product_id, locale) is None
        db.execute_sql(
            "INSERT INTO product_translation (product_id, org_id, locale, name, description,"
            " short_description, slug, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (product_id, locale) DO UPDATE SET name = excluded.name,"
            " description = excluded.description, short_description = excluded.short_description,"
            " slug = excluded.slug, updated_at = excluded.updated_at",
            (product_id, org_id, locale, fields["name"], fields["description"],
             fields["short_description"], fields["slug"], now, now),
        )
        _touch(product_id, now)
        found = _find(product_id, locale)
    assert found is not None
    return found, created


def delete_translation(org_id: int, product_id: int, locale: str) -> dict[str, Any]:
    """Remove the locale's translation; answers it as it was."""
    with writing():
        found = get_translation(org_id, product_id, locale)
        db.execute_sql(
            "DELETE FROM product_translation WHERE product_id = ? AND locale = ?",
            (product_id, locale),
        )
        _touch(product_id, utcnow())
    return found


def _touch(product_id: int, now: str) -> None:
    """The product shows its translations (`available_translations`, localized reads):
    its `updated_at` moves with them (CACHE RULE in store/cache.py)."""
    db.execute_sql("UPDATE product SET updated_at = ? WHERE id = ?", (now, product_id))
