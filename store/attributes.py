"""Product attribute definitions, and the values products and variants hold for them.

A definition (`code`, `type`, `options`, ...) belongs to an organization. Products keep
their values as one JSON object (code -> value) in `product.attributes`, variants theirs
(variant-axis attributes only) in `product_variant.attributes`. Values are checked here
against the definitions, with one query for every definition a write names, and written
in one canonical form (keys sorted, numbers exact) so that equal values are equal texts:
the unique index on a product's variants' axis values relies on that.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

from store.db import Database
from store.errors import BadRequest, NotFound
from store.models import ProductAttribute
from store.products.read import product_data
from store.values import DECIMAL, check_text, decimal_digits, slugify, utcnow

SELECT_TYPES = ("select", "multiselect")
# Axis values tell variants apart, so they must be one comparable value each: a list
# (multiselect) or a date makes a poor axis, and no shop offers "pick a date" variants.
AXIS_TYPES = ("text", "number", "boolean", "select")
CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_TEXT = 2000
MAX_ITEMS = 100
MAX_DIGITS = 15  # every decimal of up to 15 digits survives a trip through an IEEE double


@dataclass(frozen=True)
class Definition:
    id: int
    code: str
    name: str
    type: str
    options: tuple[str, ...]
    is_required: bool
    is_variant_axis: bool


# ---- definitions: CRUD -------------------------------------------------------------------

def _to_api(row: ProductAttribute) -> dict[str, Any]:
    return {
        "id": row.id, "name": row.name, "code": row.code, "type": row.type,
        "options": None if row.options is None else json.loads(row.options),
        "unit": row.unit, "is_required": bool(row.is_required),
        "is_variant_axis": bool(row.is_variant_axis),
        "created_at": row.created_at, "updated_at": row.updated_at,
    }


def _row(db: Database, org_id: int, attribute_id: int) -> ProductAttribute:
    row = ProductAttribute.select().where(ProductAttribute.id == attribute_id,
                                          ProductAttribute.org_id == org_id).get_or_none(db)
    if row is None:
        raise NotFound(f"attribute {attribute_id} not found")
    return row


def list_attributes(db: Database, org_id: int, page: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    query = ProductAttribute.select().where(ProductAttribute.org_id == org_id)
    total = query.count(db)
    rows = query.order_by(ProductAttribute.name, ProductAttribute.id).paginate(page, limit)
    return [_to_api(row) for row in rows.execute(db)], total


def get_attribute(db: Database, org_id: int, attribute_id: int) -> dict[str, Any]:
    return _to_api(_row(db, org_id, attribute_id))


def attribute_data(db: Database, org_id: int, attribute_id: int, _: int | None = None) -> dict[str, Any]:
    """An attribute event's data: the definition as the API shows it."""
    return get_attribute(db, org_id, attribute_id)


def code_from_name(name: str) -> str:
    """`"Screen size (in)"` -> `"screen_size_in"`: the code when none is given."""
    code = slugify(name).replace("-", "_")[:64]
    return code if code[:1].isalpha() else f"a_{code}"[:64]


def _check_shape(fields: dict[str, Any]) -> None:
    """Rules between fields: options go with the select types, axes with some types."""
    kind, options = fields["type"], fields.get("options")
    if kind in SELECT_TYPES:
        if not options:
            raise BadRequest(f"options: a {kind} attribute needs at least one option")
    elif options is not None:
        raise BadRequest(f"options: only select and multiselect attributes have options, not {kind}")
    if fields.get("is_variant_axis") and kind not in AXIS_TYPES:
        raise BadRequest(f"is_variant_axis: a {kind} attribute cannot be a variant axis;"
                         f" axes are {', '.join(AXIS_TYPES)}")


def _check_code_free(db: Database, org_id: int, code: str, attribute_id: int | None) -> None:
    taken = ProductAttribute.select().where(
        ProductAttribute.org_id == org_id, ProductAttribute.code == code,
        ProductAttribute.id != (attribute_id or 0),
    ).exists(db)
    if taken:
        raise BadRequest(f"code: an attribute with code '{code}' already exists")


def create_attribute(db: Database, org_id: int, data: dict[str, Any]) -> dict[str, Any]:
    fields = dict(data)
    fields.setdefault("code", code_from_name(fields["name"]))
    fields.setdefault("options", None)
    _check_shape(fields)
    if fields["options"] is not None:
        fields["options"] = json.dumps(fields["options"], ensure_ascii=False)
    _check_code_free(db, org_id, fields["code"], None)
    attribute_id = int(ProductAttribute.insert(org_id=org_id, **fields).execute(db))
    db.changed(org_id, "attribute.created", attribute_id, describe=attribute_data)
    return get_attribute(db, org_id, attribute_id)


def update_attribute(db: Database, org_id: int, attribute_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Any subset of the create fields. A change that would strand values products or
    variants hold (a new code or type, a removed option, no longer an axis) is a 400."""
    current = _to_api(_row(db, org_id, attribute_id))
    merged = {**current, **data}
    if "type" in data and data["type"] != current["type"] and "options" not in data \
            and data["type"] not in SELECT_TYPES:
        merged["options"] = None  # options go with the select types
    _check_shape(merged)
    if merged["code"] != current["code"]:
        _check_code_free(db, org_id, merged["code"], attribute_id)
    _check_in_use(db, org_id, current, merged)
    columns = {name: merged[name] for name in ("name", "code", "type", "unit", "is_required", "is_variant_axis")}
    columns["options"] = None if merged["options"] is None else json.dumps(merged["options"], ensure_ascii=False)
    ProductAttribute.update(**columns, updated_at=utcnow()).where(
        ProductAttribute.id == attribute_id).execute(db)
    if any(merged[name] != current[name] for name in current if name in merged):
        db.changed(org_id, "attribute.updated", attribute_id, describe=attribute_data)
    return get_attribute(db, org_id, attribute_id)


def _holders(db: Database, org_id: int, table: str, code: str) -> list[tuple[int, str]]:
    """(id, sku) of the organization's products or variants holding a value for `code`."""
    return list(db.execute_sql(
        f"SELECT id, sku FROM {table} WHERE org_id = ? AND json_type(attributes, ?) IS NOT NULL"
        " ORDER BY id", (org_id, _path(code)),
    ))


def _path(code: str) -> str:
    return f'$."{code}"'  # codes are [a-z0-9_]: nothing to escape


def _named(rows: list[tuple[int, str]], noun: str) -> str:
    """`"2 products (TS-1, TS-2)"`, at most five SKUs shown."""
    skus = ", ".join(sku for _, sku in rows[:5]) + (", ..." if len(rows) > 5 else "")
    plural = noun if len(rows) == 1 else noun + "s"
    return f"{len(rows)} {plural} ({skus})"


def _check_in_use(db: Database, org_id: int, current: dict[str, Any], merged: dict[str, Any]) -> None:
    code = current["code"]
    changes_code = merged["code"] != code
    changes_type = merged["type"] != current["type"]
    drops_axis = current["is_variant_axis"] and not merged["is_variant_axis"]
    removed = set(current["options"] or ()) - set(merged["options"] or ())
    if not (changes_code or changes_type or drops_axis or (removed and not changes_type)):
        return
    products = _holders(db, org_id, "product", code)
    variants = _holders(db, org_id, "product_variant", code)
    users = " and ".join(_named(rows, noun) for rows, noun in
                         ((products, "product"), (variants, "variant")) if rows)
    if changes_code and users:
        raise BadRequest(f"code: {users} hold values of this attribute; the code cannot change")
    if changes_type and users:
        raise BadRequest(f"type: {users} hold values of this attribute; the type cannot change")
    if drops_axis and variants:
        raise BadRequest(f"is_variant_axis: {_named(variants, 'variant')} use this attribute as an axis")
    if removed:
        for option in sorted(removed):
            using = [(table, _holding_option(db, org_id, table, code, option))
                     for table in ("product", "product_variant")]
            named = " and ".join(_named(rows, "product" if table == "product" else "variant")
                                 for table, rows in using if rows)
            if named:
                raise BadRequest(f"options: '{option}' is used by {named}; change them first")


def _holding_option(db: Database, org_id: int, table: str, code: str, option: str) -> list[tuple[int, str]]:
    """Rows whose value for `code` is `option` or, for a multiselect, includes it
    (json_each walks a list's items, or gives a single value as its one row)."""
    return list(db.execute_sql(
        f"SELECT t.id, t.sku FROM {table} t WHERE t.org_id = ? AND EXISTS ("
        " SELECT 1 FROM json_each(t.attributes, ?) j WHERE j.value = ?) ORDER BY t.id",
        (org_id, _path(code), option),
    ))


def delete_attribute(db: Database, org_id: int, attribute_id: int) -> dict[str, Any]:
    """Delete the definition and every value of it, in one transaction; the answer is
    the attribute with `products_changed` (products whose attributes or variants lost
    a value, all of which have a new `updated_at`) and `variants_changed`."""
    row = _row(db, org_id, attribute_id)
    shown = _to_api(row)
    path, now = _path(row.code), utcnow()
    variants = _strip_variants(db, org_id, row.code, now)
    product_ids = {product_id for product_id, in db.execute_sql(
        "SELECT id FROM product WHERE org_id = ? AND json_type(attributes, ?) IS NOT NULL",
        (org_id, path),
    )} | set(variants.values())
    db.execute_sql(
        "UPDATE product SET attributes = json_remove(attributes, ?) WHERE org_id = ?"
        " AND json_type(attributes, ?) IS NOT NULL", (path, org_id, path),
    )
    touch_products(db, org_id, product_ids, now)
    ProductAttribute.delete().where(ProductAttribute.id == attribute_id).execute(db)
    db.changed(org_id, "attribute.deleted", attribute_id, data=shown)
    # Products that lost values, on themselves or their variants, show otherwise now.
    for product_id in sorted(product_ids):
        db.changed(org_id, "product.updated", product_id, product_id=product_id, describe=product_data)
    return {**shown, "products_changed": len(product_ids), "variants_changed": len(variants)}


def _strip_variants(db: Database, org_id: int, code: str, now: str) -> dict[int, int]:
    """Remove `code` from the variants holding it; {variant id: product id}. Two variants
    of a product left with the same axis values is a 400 (they would be one variant)."""
    rows = list(db.execute_sql(
        "SELECT id, product_id, sku, attributes FROM product_variant"
        " WHERE org_id = ? AND json_type(attributes, ?) IS NOT NULL", (org_id, _path(code)),
    ))
    changed: dict[int, int] = {}
    for variant_id, product_id, sku, text in rows:
        values = decode(text)
        values.pop(code, None)
        remaining = encode(values)
        clash = db.execute_sql(
            "SELECT sku FROM product_variant WHERE product_id = ? AND attributes = ? AND id != ?",
            (product_id, remaining, variant_id),
        ).fetchone()
        if clash is not None:
            raise BadRequest(f"id: without this attribute, variants {clash[0]} and {sku} would have"
                             " the same axis values; delete or change one of them first")
        db.execute_sql("UPDATE product_variant SET attributes = ?, updated_at = ? WHERE id = ?",
                       (remaining, now, variant_id))
        changed[variant_id] = product_id
    return changed


def touch_products(db: Database, org_id: int, product_ids: Iterable[int], now: str) -> None:
    """Move the products' updated_at: what they show has changed (see store.cache)."""
    ids = sorted(set(product_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        db.execute_sql(
            f"UPDATE product SET updated_at = ? WHERE org_id = ? AND id IN ({','.join('?' * len(chunk))})",
            [now, org_id, *chunk],
        )


# ---- values --------------------------------------------------------------------------------

def definitions(db: Database, org_id: int, codes: Iterable[str], required: bool = False) -> dict[str, Definition]:
    """The organization's definitions for `codes` (and every required one if asked),
    in one query."""
    wanted = sorted(set(codes))
    marks = ",".join("?" * len(wanted))
    where = [f"code IN ({marks})"] if wanted else []
    if required:
        where.append("is_required")
    if not where:
        return {}
    rows = db.execute_sql(
        "SELECT id, code, name, type, options, is_required, is_variant_axis FROM product_attribute"
        f" WHERE org_id = ? AND ({' OR '.join(where)}) ORDER BY id", [org_id, *wanted],
    )
    return {
        code: Definition(row_id, code, name, kind, tuple(json.loads(options or "[]")),
                         bool(is_required), bool(is_axis))
        for row_id, code, name, kind, options, is_required, is_axis in rows
    }


class _Invalid(Exception):
    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(message)
        self.message, self.where = message, where


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid("must be a string")
    if not value.strip():
        raise _Invalid("must not be empty; send null to remove the value")
    if len(value) > MAX_TEXT:
        raise _Invalid(f"must be at most {MAX_TEXT} characters")
    try:
        value.encode("utf-8")  # a lone surrogate ("\ud800") cannot be stored
    except UnicodeEncodeError:
        raise _Invalid("is not valid Unicode text") from None
    try:
        return check_text(value, multiline=True)  # a text value may be a few lines
    except ValueError as exc:
        raise _Invalid(str(exc)) from None


def _number(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise _Invalid("must be a number")
    if isinstance(value, str) and not DECIMAL.fullmatch(value.strip()):
        raise _Invalid("must be a number such as 12.5")
    try:
        number = decimal_digits(Decimal(value.strip() if isinstance(value, str) else value))
    except InvalidOperation:
        raise _Invalid("must be a number such as 12.5") from None
    except ValueError:
        raise _Invalid("must be a finite number") from None
    if max(len(number.digits), number.before, number.after) > MAX_DIGITS:
        raise _Invalid(f"must have at most {MAX_DIGITS} digits")
    return number.value()


def _date(value: Any) -> str:
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise _Invalid("must be a date in the form YYYY-MM-DD")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise _Invalid(f"{value} is not a calendar date") from None
    return value


def _choice(definition: Definition, value: Any) -> str:
    if not isinstance(value, str) or value not in definition.options:
        raise _Invalid(f"must be one of {', '.join(definition.options)}")
    return value


def _choices(definition: Definition, value: Any) -> list[str]:
    if not isinstance(value, list):
        raise _Invalid(f"must be a list of options among {', '.join(definition.options)}")
    if len(value) > MAX_ITEMS:
        raise _Invalid(f"must have at most {MAX_ITEMS} items")
    chosen: list[str] = []
    for i, item in enumerate(value):
        try:
            option = _choice(definition, item)
        except _Invalid as exc:
            raise _Invalid(exc.message, f"[{i}]") from None
        if option not in chosen:
            chosen.append(option)
    return chosen


def check_value(definition: Definition, value: Any) -> Any:
    """The value in stored form, or _Invalid saying what is wrong."""
    kind = definition.type
    if kind == "text":
        return _text(value)
    if kind == "number":
        return _number(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _Invalid("must be true or false")
        return value
    if kind == "date":
        return _date(value)
    if kind == "select":
        return _choice(definition, value)
    return _choices(definition, value)


def merge_values(db: Database, org_id: int, changes: dict[str, Any], current: dict[str, Any] | None, *, variant: bool,
                 known: dict[str, Definition] | None = None) -> dict[str, Any]:
    """`current` (None on create) with `changes` applied, every change checked against
    the definitions: a key set to null (or an empty list) is removed. Variants take
    variant-axis attributes only. A required attribute must be present on create and
    cannot be removed later (required axis attributes are required on variants).
    A key held without a definition (the foundation took any keys, such as `Color`, and
    codes are lower-case now) can still be removed with null, or it could never go.
    `known`: every definition of the organization, when the caller holds them already
    (a bulk import's batch); else the ones needed are looked up."""
    if known is None:
        defs = definitions(db, org_id, changes, required=current is None)
    else:
        defs = {code: d for code, d in known.items() if code in changes or (current is None and d.is_required)}
    merged = dict(current or {})
    for code, value in changes.items():
        where = f"attributes.{code}"
        definition = defs.get(code)
        if definition is None:
            if (value is None or value == []) and code in merged:
                del merged[code]
                continue
            raise BadRequest(f"{where}: no attribute with code '{code}'")
        if variant and not definition.is_variant_axis:
            raise BadRequest(f"{where}: '{code}' is not a variant axis attribute")
        if value is None or value == []:
            if definition.is_required and definition.is_variant_axis == variant:
                raise BadRequest(f"{where}: is required")
            merged.pop(code, None)
            continue
        try:
            merged[code] = check_value(definition, value)
        except _Invalid as exc:
            raise BadRequest(f"{where}{exc.where}: {exc.message}") from None
    if current is None:
        for code, definition in defs.items():
            if definition.is_required and definition.is_variant_axis == variant and code not in merged:
                raise BadRequest(f"attributes.{code}: is required")
    return merged


def encode_value(value: Any) -> str:
    """One value as JSON text; a Decimal as its exact digits."""
    if isinstance(value, Decimal):
        return format(value, "f")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def encode(values: dict[str, Any]) -> str:
    """Canonical JSON text: keys sorted, numbers written exactly as decimals."""
    items = (f"{json.dumps(code)}:{encode_value(values[code])}" for code in sorted(values))
    return "{" + ",".join(items) + "}"


def decode(text: str) -> dict[str, Any]:
    """Stored JSON text back to values, numbers as exact Decimals."""
    return dict(json.loads(text, parse_float=Decimal))
