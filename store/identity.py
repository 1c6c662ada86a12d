"""What names a product or variant: SKU, EAN and slug rules, shared by both.

SKUs and EANs are unique per organization across products and variants together: a
scan or a search for a code must find one thing. A UPC-A and its 13-digit form with a
leading 0 are one code. Slugs are made from a name (`-2`, `-3`... on a clash) and then
kept, so storefront URLs stay stable.
"""

from __future__ import annotations

from typing import Sequence

from store.db import Database
from store.errors import BadRequest
from store.values import slugify

PRODUCT = "product"
VARIANT = "product_variant"


def barcode_forms(barcode: str) -> list[str]:
    """The spellings of one GTIN: a UPC-A is also an EAN-13 with a leading 0."""
    forms = {barcode}
    if len(barcode) == 12:
        forms.add("0" + barcode)
    elif len(barcode) == 13 and barcode.startswith("0"):
        forms.add(barcode[1:])
    return sorted(forms)


def holder(db: Database, table: str, org_id: int, column: str, values: Sequence[str],
           other_than: int | None) -> str | None:
    """The SKU of a row of `table` (products or variants) of the organization, other
    than id `other_than`, holding one of `values` in `column`."""
    marks = ",".join("?" * len(values))
    row = db.execute_sql(
        f"SELECT sku FROM {table} WHERE org_id = ? AND {column} IN ({marks}) AND id != ?",
        (org_id, *values, other_than or 0),
    ).fetchone()
    return None if row is None else str(row[0])


def check_sku_free(db: Database, org_id: int, sku: str, *, product_id: int | None = None,
                   variant_id: int | None = None) -> None:
    """400 unless no other product or variant of the organization has this SKU."""
    if (holder(db, PRODUCT, org_id, "sku", [sku], product_id) is not None
            or holder(db, VARIANT, org_id, "sku", [sku], variant_id) is not None):
        raise BadRequest(f"sku: SKU '{sku}' is already taken")


def check_ean_free(db: Database, org_id: int, ean: str, *, product_id: int | None = None,
                   variant_id: int | None = None) -> None:
    """400 unless no other product or variant of the organization has this EAN (in
    either spelling: barcode lookup treats both as one code)."""
    forms = barcode_forms(ean)
    owner = holder(db, PRODUCT, org_id, "ean", forms, product_id)
    if owner is not None:
        raise BadRequest(f"ean: EAN {ean} is already used by product {owner}")
    owner = holder(db, VARIANT, org_id, "ean", forms, variant_id)
    if owner is not None:
        raise BadRequest(f"ean: EAN {ean} is already used by variant {owner}")


def first_free(base: str, used: set[str]) -> str:
    """`base`, or `base-2`, `base-3`... the first not in `used`."""
    slug, n = base, 1
    while slug in used:
        n += 1
        slug = f"{base}-{n}"
    return slug


# The organization's locales that hold translated slugs, hopping the
# product_translation_slug index (org_id, locale, slug) one locale at a time: a few
# lookups instead of a walk over every translation (params: org id twice).
_SLUG_LOCALES = (
    "WITH RECURSIVE slug_locale(locale) AS ("
    " SELECT (SELECT min(locale) FROM product_translation WHERE org_id = ? AND slug IS NOT NULL)"
    " UNION ALL SELECT (SELECT min(locale) FROM product_translation WHERE org_id = ?"
    " AND slug IS NOT NULL AND locale > s.locale) FROM slug_locale s WHERE s.locale IS NOT NULL)"
)


def check_product_slug_free(db: Database, org_id: int, slug: str, product_id: int | None) -> None:
    """400 unless `slug` is free as a product's default slug: no other product has it,
    and no other product shows it as its translated slug in a locale where this one
    would show its default slug (having no translated slug for that locale or a parent
    of it): the default slug must not repeat what a localized read shows."""
    if holder(db, PRODUCT, org_id, "slug", [slug], product_id) is not None:
        raise BadRequest(f"slug: slug '{slug}' is already taken")
    row = db.execute_sql(
        f"{_SLUG_LOCALES} SELECT t.locale FROM slug_locale l"
        " CROSS JOIN product_translation t ON t.org_id = ? AND t.locale = l.locale AND t.slug = ?"
        " WHERE t.product_id != ? AND NOT EXISTS (SELECT 1 FROM product_translation mine"
        " WHERE mine.product_id = ? AND mine.slug IS NOT NULL AND (mine.locale = t.locale"
        " OR (t.locale > mine.locale || '-' AND t.locale < mine.locale || '.'))) LIMIT 1",
        (org_id, org_id, org_id, slug, product_id or 0, product_id or 0),
    ).fetchone()
    if row is not None:
        raise BadRequest(f"slug: slug '{slug}' is already taken:"
                         f" another product shows it in locale {row[0]}")


def unique_product_slug(db: Database, org_id: int, name: str, product_id: int | None) -> str:
    """A slug from the name, `-2`, `-3`... past other products' default and translated slugs."""
    base = slugify(name)
    # A range, not `LIKE 'base-%'`: LIKE is case-insensitive, so it cannot use the
    # (org_id, slug) index and would read every slug of the organization.
    used = {row[0] for row in db.execute_sql(
        "SELECT slug FROM product WHERE org_id = ? AND id != ? AND slug >= ? AND slug < ?",
        (org_id, product_id or 0, base, base + "."),  # base and base-…: '.' sorts right after '-'
    )}
    used.update(row[0] for row in db.execute_sql(
        f"{_SLUG_LOCALES} SELECT t.slug FROM slug_locale l CROSS JOIN product_translation t"
        " ON t.org_id = ? AND t.locale = l.locale AND t.slug >= ? AND t.slug < ?"
        " WHERE t.product_id != ?",
        (org_id, org_id, org_id, base, base + ".", product_id or 0),  # '.' sorts after '-'
    ))
    return first_free(base, used)
