"""Bulk upsert: one line of a feed, keyed by SKU, applied as one all-or-nothing unit.

A line carries `sku` and any product field a create or a PATCH takes, plus what a
feed has instead of ids (`brand` and `supplier` by name, `vat_rate` as "Name (CC)",
`categories` by path "Apparel > Tops", `stock_levels` by warehouse code) and the
product's `translations` and `variants`. An unknown SKU creates the product, a known
one is a partial update of the fields the line gives; a line that changes nothing is
`unchanged` and writes nothing. A line with `parent_sku` is a variant of that product
(how a CSV holds variants). Every rule and message is the single write's: this module
resolves names to ids and calls the same store functions the API's writes call.

The caller runs each line in a savepoint inside its write transaction (`apply_line`
does not open one), so a bad line writes nothing of itself and never stops the others.
Images are not fetched here: the line answers the URLs still to add, which the caller
fetches after the line's data is committed (`search.pipeline`).
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from store import attributes, translations, variants
from store.categories import create_category
from store.db import Database
from store.errors import BadRequest
from store.html import clean_description
from store.products.stock import apply_stock_levels
from store.products.write import (
    ROW_COLUMNS, ROW_NAMES, Held, apply_update, insert_product, product_row, product_values, sale_price_error,
)
from store.reference import BRANDS, SUPPLIERS, VAT_RATES, WAREHOUSES, default_warehouse_id
from store.values import parse_money, utcnow

CREATED, UPDATED, UNCHANGED, FAILED = "created", "updated", "unchanged", "failed"
PATH_SEPARATOR = " > "
VAT_TEXT = re.compile(r"(?P<name>.+) \((?P<country>[A-Z]{2})\)(?: (?P<rate>[0-9]+(?:\.[0-9]+)?)%)?")
#: What a line may carry besides the product's own fields.
EXTRAS = ("brand", "supplier", "vat_rate", "categories", "stock_levels", "translations", "variants",
          "images", "parent_sku", "image")


@dataclass
class Outcome:
    """What applying one line did."""

    status: str
    id: int | None  # the product's, or the variant's for a variant line
    product_id: int | None = None
    kind: str = "product"  # or "variant"
    images: list[str] = field(default_factory=list)  # URLs to fetch and add, in order
    variant_images: dict[int, str] = field(default_factory=dict)  # variant id -> image URL


class References:
    """Names to ids for one import, each looked up once: brands and suppliers by name,
    VAT rates by name and country, categories by path, warehouses by code. With
    `create`, a name that is not there is created (`create_references=true`)."""

    def __init__(self, db: Database, org_id: int, create: bool) -> None:
        self.db, self.org_id, self.create = db, org_id, create
        self._found: dict[tuple[str, str], int] = {}
        self._finding_only = False

    def forget(self) -> None:
        """A rolled-back batch may have taken created rows with it."""
        self._found.clear()

    @contextlib.contextmanager
    def finding_only(self) -> Iterator[None]:
        """Names that are not there fail (BadRequest) even with `create`: nothing is made."""
        self._finding_only = True
        try:
            yield
        finally:
            self._finding_only = False

    def _cached(self, kind: str, key: str, find: Any, make: Any, missing: str) -> int:
        if (kind, key) in self._found:
            return self._found[(kind, key)]
        row = find()
        if row is None:
            if not self.create or self._finding_only:
                raise BadRequest(missing)
            row = make()
        self._found[(kind, key)] = int(row)
        return int(row)

    def _by_name(self, table: str, name: str) -> int | None:
        row = self.db.execute_sql(f"SELECT id FROM {table} WHERE org_id = ? AND name = ?",
                                  (self.org_id, name)).fetchone()
        return None if row is None else int(row[0])

    def brand(self, name: str) -> int:
        return self._cached("brand", name, lambda: self._by_name("brand", name),
                            lambda: BRANDS.create(self.db, self.org_id, {"name": name})["id"],
                            f"brand: no brand named '{name}' (create_references=true creates it)")

    def supplier(self, name: str) -> int:
        return self._cached("supplier", name, lambda: self._by_name("supplier", name),
                            lambda: SUPPLIERS.create(self.db, self.org_id, {"name": name})["id"],
                            f"supplier: no supplier named '{name}' (create_references=true creates it)")

    def vat_rate(self, text: str) -> int:
        matched = VAT_TEXT.fullmatch(text.strip())
        if matched is None:
            raise BadRequest(f"vat_rate: '{text}' is not of the form 'Standard Rate (RO)' or"
                             " 'Standard Rate (RO) 21%'")
        name, country, rate = matched["name"], matched["country"], matched["rate"]

        def find() -> int | None:
            row = self.db.execute_sql(
                "SELECT id FROM vat_rate WHERE org_id = ? AND name = ? AND country_code = ?",
                (self.org_id, name, country)).fetchone()
            return None if row is None else int(row[0])

        def make() -> int:
            if rate is None:
                raise BadRequest(f"vat_rate: no VAT rate '{name} ({country})'; give its rate"
                                 f" ('{name} ({country}) 19%') to create it")
            try:
                percent = parse_money(rate)
            except ValueError as exc:
                raise BadRequest(f"vat_rate: {exc}") from None
            if percent > 100:
                raise BadRequest("vat_rate: the rate must be between 0 and 100")
            return int(VAT_RATES.create(self.db, self.org_id, {
                "name": name, "rate": percent, "country_code": country})["id"])

        return self._cached("vat_rate", f"{name}\0{country}", find, make,
                            f"vat_rate: no VAT rate '{name} ({country})'"
                            " (create_references=true creates it when the rate is given)")

    def warehouse(self, code: str) -> int:
        def find() -> int | None:
            row = self.db.execute_sql("SELECT id FROM warehouse WHERE org_id = ? AND code = ?",
                                      (self.org_id, code)).fetchone()
            return None if row is None else int(row[0])

        return self._cached("warehouse", code, find,
                            lambda: WAREHOUSES.create(self.db, self.org_id, {"name": code, "code": code})["id"],
                            f"warehouse_code: no warehouse with code '{code}'"
                            " (create_references=true creates it)")

    def category(self, path: str, where: str) -> int:
        """The category at `path` ("Apparel > Tops"): each name among its parent's
        children (the first by position when two share a name)."""
        whole = self._found.get(("path", path))
        if whole is not None:
            return whole
        names = [name.strip() for name in path.split(PATH_SEPARATOR.strip())]
        if not path.strip() or any(not name for name in names):
            raise BadRequest(f"{where}: '{path}' is not a category path such as 'Apparel > Tops'")
        parent: int | None = None
        for depth, name in enumerate(names):
            so_far = PATH_SEPARATOR.join(names[:depth + 1])

            def find(name: str = name, parent: int | None = parent) -> int | None:
                row = self.db.execute_sql(
                    "SELECT id FROM category WHERE org_id = ? AND parent_id IS ? AND name = ?"
                    " ORDER BY position, id LIMIT 1", (self.org_id, parent, name)).fetchone()
                return None if row is None else int(row[0])

            def make(name: str = name, parent: int | None = parent) -> int:
                return int(create_category(self.db, self.org_id, {"name": name, "parent_id": parent})["id"])

            parent = self._cached("category", so_far, find, make,
                                  f"{where}: no category '{so_far}' (create_references=true creates it)")
        assert parent is not None
        self._found[("path", path)] = parent
        return parent


@dataclass
class Known:
    """What the products a batch's lines name hold, read in a few queries when the
    batch starts (inside its transaction): their rows by SKU, category links, stock
    levels and translations, with the organization's attribute definitions and
    warehouses. A line that repeats what its product holds is told `unchanged` from
    these without a query of its own (`certainly_unchanged`); `written` are the
    products an earlier line of the batch wrote, whose rows here are out of date."""

    rows: dict[str, dict[str, Any]]
    links: dict[int, set[int]]
    levels: dict[int, dict[int, int]]
    texts: dict[int, dict[str, dict[str, Any]]]
    variants: dict[int, dict[str, dict[str, Any]]]  # product id -> variant SKU -> its columns
    held: Held  # the organization's definitions, default warehouse, rows found to be its own
    warehouses: set[int]
    written: set[int] = field(default_factory=set)
    created: dict[str, int] = field(default_factory=dict)  # SKU -> id of the products the batch made

    def product_id(self, sku: str) -> int | None:
        """The organization's product with this SKU now (lines never change a SKU:
        it is what finds their product)."""
        row = self.rows.get(sku)
        return int(row["id"]) if row is not None else self.created.get(sku)


def _by_product(db: Database, sql: str, ids: list[int]) -> list[tuple[Any, ...]]:
    # One JSON array, not a `?` per id: one statement text whatever the batch's size,
    # so it stays prepared (see store.db.STATEMENT_CACHE).
    return list(db.execute_sql(sql.format(marks="SELECT value FROM json_each(?)"), (json.dumps(ids),)))


def known_state(db: Database, org_id: int, lines: list[dict[str, Any]]) -> Known:
    """`Known` for the product lines among `lines` (validated line data)."""
    skus = list(dict.fromkeys(line["sku"] for line in lines if line.get("parent_sku") is None))
    rows: dict[str, dict[str, Any]] = {}
    for row in db.execute_sql(f"SELECT {ROW_COLUMNS} FROM product WHERE org_id = ?"
                              " AND sku IN (SELECT value FROM json_each(?))", (org_id, json.dumps(skus))):
        product = dict(zip(ROW_NAMES, row))
        rows[product["sku"]] = product
    ids = [product["id"] for product in rows.values()]
    links: dict[int, set[int]] = {}
    for product_id, category_id in _by_product(
            db, "SELECT product_id, category_id FROM product_category WHERE product_id IN ({marks})", ids):
        links.setdefault(product_id, set()).add(category_id)
    levels: dict[int, dict[int, int]] = {}
    for product_id, warehouse_id, quantity in _by_product(
            db, "SELECT product_id, warehouse_id, quantity FROM stock_level WHERE product_id IN ({marks})", ids):
        levels.setdefault(product_id, {})[warehouse_id] = quantity
    texts: dict[int, dict[str, dict[str, Any]]] = {}
    for product_id, locale, *values in _by_product(
            db, f"SELECT product_id, locale, {', '.join(translations.TRANSLATED)} FROM product_translation"
                " WHERE product_id IN ({marks})", ids):
        texts.setdefault(product_id, {})[locale] = dict(zip(translations.TRANSLATED, values))
    by_product: dict[int, dict[str, dict[str, Any]]] = {}
    for row in _by_product(db, f"SELECT {', '.join(variants.FIELDS)} FROM product_variant"
                               " WHERE product_id IN ({marks})", ids):
        variant = dict(zip(variants.FIELDS, row))
        by_product.setdefault(variant["product_id"], {})[variant["sku"]] = variant
    codes = [code for (code,) in db.execute_sql("SELECT code FROM product_attribute WHERE org_id = ?", (org_id,))]
    warehouses = {int(w) for (w,) in db.execute_sql("SELECT id FROM warehouse WHERE org_id = ?", (org_id,))}
    held = Held(attributes.definitions(db, org_id, codes), default_warehouse_id(db, org_id))
    return Known(rows, links, levels, texts, by_product, held, warehouses)


def certainly_unchanged(db: Database, org_id: int, line: dict[str, Any], refs: References,
                         known: Known) -> int | None:
    """The product's id when applying `line` would change nothing and refuse nothing,
    told from `known` alone; None when that is not certain (the line is then applied
    as any other, which finds what it changes or why it is refused). Only a line
    whose every field equals what is stored qualifies: the checks the full path runs
    on such values (uniqueness, references) pass by the rules every write keeps."""
    if any(name in line for name in ("images", "parent_sku", "image")):
        return None
    row = known.rows.get(line["sku"])
    if row is None or row["id"] in known.written:
        return None
    product_id = row["id"]
    try:
        with refs.finding_only():
            data = _resolve(refs, line)
            levels = _levels(refs, line)
        columns = product_values(db, org_id, data, row, known.held.definitions)
    except BadRequest:
        return None
    if any(row[name] != value for name, value in columns.items()) or sale_price_error(columns, row):
        return None
    held = known.levels.get(product_id, {})
    if "stock" in data and held.get(known.held.default_warehouse, 0) != data["stock"]:
        return None
    if "category_ids" in data and set(data["category_ids"]) != known.links.get(product_id, set()):
        return None
    if levels is not None:
        wanted = [level["warehouse_id"] for level in levels]
        if (row["product_type"] == "variable" or len(set(wanted)) != len(wanted)
                or not known.warehouses.issuperset(wanted)
                or any(held.get(level["warehouse_id"], 0) != level["quantity"] for level in levels)):
            return None
    for locale, given in (line.get("translations") or {}).items():
        stored = known.texts.get(product_id, {}).get(locale)
        if stored is None:
            return None
        merged = {**stored, **given}
        fields = {name: merged.get(name) or None for name in translations.TRANSLATED}
        try:
            fields["description"] = clean_description("description", fields["description"]) or None
        except BadRequest:
            return None
        if not any(fields.values()) or (fields["slug"] is None and fields["name"] is not None):
            return None  # refused, or a slug would be made: the full path says which
        if fields != stored:
            return None
    held_variants = known.variants.get(product_id, {})
    for item in line.get("variants") or []:
        current = held_variants.get(item["sku"])
        if current is None or "image" in item or not variants.repeats_stored(
                db, org_id, current, item, len(held_variants), known.held.definitions):
            return None
    return int(product_id)


def _product_id(db: Database, org_id: int, sku: str) -> int | None:
    row = db.execute_sql("SELECT id FROM product WHERE org_id = ? AND sku = ?", (org_id, sku)).fetchone()
    return None if row is None else int(row[0])


def _resolve(refs: References, line: dict[str, Any]) -> dict[str, Any]:
    """The line's product fields with names turned into ids (a 400 naming the field
    for a name that is not there, or for a name given next to its id)."""
    data = {name: value for name, value in line.items() if name not in EXTRAS}
    for name, as_id, resolve in (("brand", "brand_id", refs.brand), ("supplier", "supplier_id", refs.supplier),
                                 ("vat_rate", "vat_rate_id", refs.vat_rate)):
        if name in line:
            if as_id in line:
                raise BadRequest(f"{name}: give {name} or {as_id}, not both")
            data[as_id] = None if line[name] is None else resolve(line[name])
    if "categories" in line:
        ids = [refs.category(path, f"categories[{i}]") for i, path in enumerate(line["categories"] or [])]
        data["category_ids"] = list(dict.fromkeys([*(line.get("category_ids") or []), *ids]))
    return data


def _levels(refs: References, line: dict[str, Any]) -> list[dict[str, int]] | None:
    if "stock_levels" not in line:
        return None
    if "stock" in line:
        raise BadRequest("stock_levels: give stock or stock_levels, not both")
    levels = []
    for i, level in enumerate(line["stock_levels"]):
        warehouse_id = level.get("warehouse_id")
        code = level.get("warehouse_code")
        if (warehouse_id is None) == (code is None):
            raise BadRequest(f"stock_levels[{i}]: give warehouse_id or warehouse_code")
        if code is not None:
            try:
                warehouse_id = refs.warehouse(code)
            except BadRequest as exc:
                raise BadRequest(f"stock_levels[{i}].{exc.message}") from None
        levels.append({"warehouse_id": warehouse_id, "quantity": level["quantity"]})
    return levels


def _in(where: str, exc: BadRequest) -> BadRequest:
    """The store's `field: problem` said of a part of the line: `variants[2].sku: …`,
    `stock_levels[0].warehouse_id: …`, and `body: …` (the part as a whole) as `where: …`."""
    message = exc.message
    if message.startswith("body:"):
        return BadRequest(where + message.removeprefix("body"))
    return BadRequest(f"{where}{message}" if message.startswith("[") else f"{where}.{message}")


def _translations(db: Database, org_id: int, product_id: int, given: dict[str, Any], new: bool) -> bool:
    """Each locale's fields merged into what it holds (a field sent as null is no longer
    translated); answers whether any changed. `new`: the line created the product."""
    changed = False
    for locale, texts in given.items():
        held = {} if new else translations.held_translation(db, product_id, locale) or {}
        # Fields not sent keep what they hold (the slug too: storefront URLs stay stable).
        merged = {name: held.get(name) for name in translations.TRANSLATED}
        merged.update(texts)
        try:
            changed |= translations.apply_translation(db, org_id, product_id, locale, merged, new_product=new)[1]
        except BadRequest as exc:
            raise _in(f"translations.{locale}", exc) from None
    return changed


def _attached(db: Database, product_id: int, url: str) -> int | None:
    """The product's media fetched from `url`, or whose public URL it is."""
    row = db.execute_sql(
        "SELECT id FROM media WHERE product_id = ? AND (source_url = ? OR media_url(token) = ?)"
        " ORDER BY position LIMIT 1", (product_id, url, url)).fetchone()
    return None if row is None else int(row[0])


def _variant(db: Database, org_id: int, product_id: int, data: dict[str, Any], outcome: Outcome,
             definitions: dict[str, attributes.Definition] | None = None) -> tuple[int, str]:
    """Upsert one variant of the product by its SKU; answers (id, status)."""
    fields = {name: value for name, value in data.items() if name not in ("image", "parent_sku")}
    if "image" in data:
        media_id = None if data["image"] is None else _attached(db, product_id, data["image"])
        if media_id is not None or data["image"] is None:
            fields["media_id"] = media_id
    found = variants.variant_by_sku(db, org_id, data["sku"])
    if found is not None and found[0] != product_id:
        raise BadRequest(f"sku: SKU '{data['sku']}' is already taken by a variant of another product")
    if found is None:
        variant_id, status = variants.insert_variant(db, org_id, product_id, fields, definitions), CREATED
    else:
        variant_id = found[1]
        changed = variants.apply_variant_update(db, org_id, product_id, variant_id, fields)
        status = UPDATED if changed else UNCHANGED
    if data.get("image") is not None and "media_id" not in fields:
        outcome.variant_images[variant_id] = data["image"]  # added with the product's images
    return variant_id, status


def apply_line(db: Database, org_id: int, line: dict[str, Any], refs: References,
               known: Known | None = None) -> Outcome:
    """Apply one validated line (see the module's docstring), in the caller's
    transaction; raises BadRequest naming the field when the line is refused. `known`:
    the batch's (see `known_state`), which the line keeps up to date."""
    outcome = _apply(db, org_id, line, refs, known)
    if known is not None and outcome.status != UNCHANGED and outcome.product_id is not None:
        known.written.add(outcome.product_id)
        if outcome.status == CREATED and outcome.kind == "product":
            known.created[line["sku"]] = outcome.product_id  # only once the line has gone through
    return outcome


def _apply(db: Database, org_id: int, line: dict[str, Any], refs: References, known: Known | None) -> Outcome:
    if line.get("parent_sku") is not None:
        return _apply_variant_line(db, org_id, line)
    sku = line["sku"]
    data = _resolve(refs, line)
    levels = _levels(refs, line)
    held = None if known is None else known.held
    product_id = _product_id(db, org_id, sku) if known is None else known.product_id(sku)
    if product_id is None:
        if "name" not in data:
            raise BadRequest("name: is required")
        product_id = insert_product(db, org_id, data, held=held, now=utcnow())
        status = CREATED
    else:
        status = UPDATED if apply_update(db, org_id, product_row(db, org_id, product_id), data,
                                         held=held) else UNCHANGED
    outcome = Outcome(status, product_id, product_id)
    changed = False
    if levels is not None:
        try:
            changed |= apply_stock_levels(db, org_id, product_id, product_row(db, org_id, product_id)
                                          ["product_type"], levels)
        except BadRequest as exc:
            raise _in("stock_levels", exc) from None
    changed |= _translations(db, org_id, product_id, line.get("translations") or {}, status == CREATED)
    for i, item in enumerate(line.get("variants") or []):
        try:
            changed |= _variant(db, org_id, product_id, item, outcome,
                                None if held is None else held.definitions)[1] != UNCHANGED
        except BadRequest as exc:
            raise _in(f"variants[{i}]", exc) from None
    if changed and status == UNCHANGED:
        outcome.status = UPDATED
    outcome.images = [url for url in dict.fromkeys(line.get("images") or [])
                      if _attached(db, product_id, url) is None]
    return outcome


def _apply_variant_line(db: Database, org_id: int, line: dict[str, Any]) -> Outcome:
    """A line that is a variant of `parent_sku` (a CSV's variant rows)."""
    parent = _product_id(db, org_id, line["parent_sku"])
    if parent is None:
        raise BadRequest(f"parent_sku: no product with SKU '{line['parent_sku']}'")
    outcome = Outcome(UNCHANGED, None, parent, kind="variant")
    outcome.id, outcome.status = _variant(db, org_id, parent, line, outcome)
    return outcome


def link_variant_image(db: Database, org_id: int, product_id: int, variant_id: int, url: str) -> bool:
    """Point the variant at its product's image from `url` (once the product's images
    are added); False when the product has no image from that URL."""
    media_id = _attached(db, product_id, url)
    if media_id is None:
        return False
    variants.apply_variant_update(db, org_id, product_id, variant_id, {"media_id": media_id})
    return True
