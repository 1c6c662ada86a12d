"""Bulk bodies: NDJSON and CSV feeds read line by line into validated upserts, applied
in batches, and the catalog written out again in the same shapes.

A body is spooled to a temporary file as it arrives (never held whole in memory), then
checked once from end to end (UTF-8, CSV header, line count) before anything is
written, so a body that is not a feed is a 400 that writes nothing. Lines are then
validated with the same request models as single writes (so a line's error is the
`field: message` a POST or PATCH would give), applied in batches (one write transaction
each, one savepoint per line: `store.products.bulk`), and their images fetched once the
batch is committed (`search.pipeline`). The route, the import jobs and `micropim
import` all run an `Importer`.

CSV (see README, "Bulk import and export"): a header row naming fields; an empty cell
leaves a field as it is, the cell `null` clears a field that can be null; lists are
separated by `|` (or written as a JSON array); `attributes.CODE`, `translations.LOCALE.FIELD`
and `stock_levels.WAREHOUSE_CODE` columns; a row with `parent_sku` is a variant of
that product.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Annotated, Any, Callable, Iterator

import peewee
import pydantic
from pydantic import AfterValidator, Field, StringConstraints, field_validator

from handlers.base import json_decimal, validation_message
from handlers.fields import ONE_LINE, Body as Strict, Id, LongText, Name, Quantity, Sku, Slug
from handlers.media import FileUrl
from handlers.products import ProductPatch
from handlers.translations import TranslationIn
from handlers.variants import VariantPatch
from search.pipeline import Images
from store import attributes, categories, imports
from store.db import Database
from store.errors import BadRequest
from store.products import bulk
from store.products.export import Exported
from store.products.text import text_index_deferred
from store.values import canonical_locale, check_text

log = logging.getLogger("micropim.bulk")

NDJSON, CSV = "ndjson", "csv"
CONTENT_TYPES = {"application/x-ndjson": NDJSON, "application/jsonl": NDJSON, "text/csv": CSV}
SPOOL_IN_MEMORY = 4 * 1024 * 1024
BATCH_SECONDS = 0.2  # a batch holds the writer thread about this long
MIN_BATCH, MAX_BATCH = 20, 2000
IMAGE_FETCHES = 4  # images fetched at once for one batch
LIST_SEPARATOR = "|"
NULL = "null"

CategoryPath = Annotated[str, StringConstraints(min_length=1, max_length=2000), AfterValidator(check_text),
                         ONE_LINE]


class BulkStockLevel(Strict):
    """A level by warehouse code (feeds) or id; `warehouse_name` (what an export shows)
    is not read."""

    warehouse_id: Id | None = None
    warehouse_code: Name | None = None
    warehouse_name: Annotated[str, AfterValidator(check_text), ONE_LINE] | None = None
    quantity: Quantity


class BulkVariant(VariantPatch):
    sku: Sku
    image: FileUrl | None = None  # one of the product's images, by URL
    parent_sku: Sku | None = None  # on a line of its own: the product it is a variant of


class BulkTranslation(TranslationIn):
    pass


class BulkProduct(ProductPatch):
    sku: Sku
    brand: Name | None = None
    supplier: Name | None = None
    vat_rate: Annotated[str, StringConstraints(min_length=1, max_length=300), AfterValidator(check_text),
                        ONE_LINE] | None = None
    categories: Annotated[list[CategoryPath], Field(max_length=100)] = None  # type: ignore[assignment]
    stock_levels: Annotated[list[BulkStockLevel], Field(max_length=1000)] = None  # type: ignore[assignment]
    translations: Annotated[dict[str, BulkTranslation], Field(max_length=100)] = None  # type: ignore[assignment]
    variants: Annotated[list[BulkVariant], Field(max_length=1000)] = None  # type: ignore[assignment]
    images: Annotated[list[FileUrl], Field(max_length=50)] = None  # type: ignore[assignment]

    @field_validator("translations")
    @classmethod
    def _locales(cls, value: dict[str, BulkTranslation] | None) -> dict[str, BulkTranslation] | None:
        if value is None:
            return None
        out: dict[str, BulkTranslation] = {}
        for tag, texts in value.items():
            try:
                out[canonical_locale(tag)] = texts
            except ValueError as exc:
                raise ValueError(f"{tag}: {exc}") from None
        return out


# ---- lines: parsed, then validated ------------------------------------------------------

@dataclass
class Line:
    """One line of a body: its number, and its fields or why it cannot be read."""

    number: int
    sku: str | None
    data: dict[str, Any] | None = None
    error: str | None = None


class BulkCategory(Strict):
    """A category by its path ("Apparel > Tops"); its name is the path's last part."""

    path: CategoryPath
    description: LongText = None  # type: ignore[assignment]
    slug: Slug = None


PRODUCTS, CATEGORIES = "products", "categories"


def validate(number: int, raw: Any, kind: str = PRODUCTS) -> Line:
    """A raw line (a dict from NDJSON or CSV) validated into the fields a store upsert
    takes, or its error, as the single write's message."""
    if not isinstance(raw, dict):
        return Line(number, None, error="body: each line must be a JSON object")
    key = "path" if kind == CATEGORIES else "sku"
    sku = raw.get(key) if isinstance(raw.get(key), str) else None
    model: type[pydantic.BaseModel] = (BulkCategory if kind == CATEGORIES
                                       else BulkVariant if raw.get("parent_sku") is not None else BulkProduct)
    try:
        checked = model.model_validate(raw)
    except pydantic.ValidationError as exc:
        return Line(number, sku, error=validation_message(exc))
    data = checked.model_dump(exclude_unset=True)
    for item in data.get("variants") or []:
        item.pop("parent_sku", None)
    for level in data.get("stock_levels") or []:
        level.pop("warehouse_name", None)
        if level.get("warehouse_code") is not None:  # codes hold across organizations, ids do not
            level.pop("warehouse_id", None)
    if "translations" in data:
        data["translations"] = {locale: texts for locale, texts in data["translations"].items()}
    return Line(number, sku, data=data)


_READ_ONLY = ("id", "in_stock", "available_translations", "created_at", "updated_at")


def from_export(obj: Any) -> Any:
    """An exported product object (`GET /api/products/export?format=ndjson`) as a line:
    what the object shows that no write sets is left out (`id`, `in_stock`,
    `available_translations`, timestamps; `stock` next to `stock_levels` or variants, of
    which it is the sum), and the rows it shows as objects are named as a feed names
    them (brand and supplier by name, the VAT rate as "Name (CC) rate%", categories by
    id, variant attributes as code -> value)."""
    if not isinstance(obj, dict):
        return obj
    line = {key: value for key, value in obj.items() if key not in _READ_ONLY}
    for name in ("brand", "supplier"):
        if isinstance(line.get(name), dict):
            line[name] = line[name].get("name")
    if isinstance(line.get("vat_rate"), dict):
        rate = line["vat_rate"]
        line["vat_rate"] = f"{rate.get('name')} ({rate.get('country_code')}) {rate.get('rate')}%"
    if isinstance(line.get("categories"), list) and all(isinstance(c, dict) for c in line["categories"]):
        line["category_ids"] = [c.get("id") for c in line.pop("categories")]
    if "stock" in line and ("stock_levels" in line or line.get("product_type") == "variable"):
        del line["stock"]
    if line.get("product_type") == "variable" and isinstance(line.get("stock_levels"), list):
        del line["stock_levels"]  # all 0: a variable product's stock is its variants'
    if isinstance(line.get("variants"), list):
        line["variants"] = [_variant_from_export(v) for v in line["variants"]]
    return line


def _variant_from_export(obj: Any) -> Any:
    if not isinstance(obj, dict):
        return obj
    variant = {key: value for key, value in obj.items() if key not in _READ_ONLY}
    if isinstance(variant.get("attributes"), list):
        variant["attributes"] = {a.get("attribute_code"): a.get("value") for a in variant["attributes"]
                                 if isinstance(a, dict)}
    return variant


def _json_number(value: str) -> Any:
    return Decimal(value) if any(ch in value for ch in ".eE") else int(value)


def read_ndjson(stream: IO[str], kind: str = PRODUCTS) -> Iterator[Line]:
    """Validated lines of an NDJSON text; blank lines are skipped (and counted)."""
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            raw = json.loads(text, parse_float=json_decimal)  # as a request body's numbers
        except ValueError as exc:
            yield Line(number, None, error=f"body: malformed JSON: {exc}")
            continue
        yield validate(number, from_export(raw) if kind == PRODUCTS else raw, kind)


# ---- CSV ---------------------------------------------------------------------------------

# How each plain column's cells are read: text as it is, or one of these.
_INTEGERS = ("stock", "brand_id", "supplier_id", "vat_rate_id", "stock_quantity", "position")
_BOOLEANS = ("is_enabled",)
_LISTS = {"categories": str, "category_ids": int, "publishing_channels": str, "images": str}
_NULLABLE = ("slug", "price", "sale_price", "cost_price", "cost", "weight", "ean", "brand", "supplier",
             "vat_rate", "brand_id", "supplier_id", "vat_rate_id", "image", "parent_sku", "name")
PLAIN_COLUMNS = (
    "sku", "parent_sku", "name", "slug", "description", "short_description", "product_type",
    "price", "sale_price", "cost_price", "currency", "status", "stock", "ean", "vat_rate", "vat_rate_id",
    "brand", "brand_id", "supplier", "supplier_id", "categories", "category_ids", "publishing_channels",
    "product_condition", "images",
    # variant rows (with parent_sku)
    "cost", "weight", "stock_quantity", "stock_status", "is_enabled", "position", "image",
)
TRANSLATED = ("name", "description", "short_description", "slug")


@dataclass(frozen=True)
class Column:
    """What a CSV column sets: `path` into the line (`("attributes", "colour")`) and how
    its cells read."""

    name: str
    path: tuple[str, ...]
    kind: str  # text, integer, boolean, list:<str|int>, attribute:<type>, level


CATEGORY_COLUMNS = ("path", "description", "slug")


def columns_of(header: list[str], attribute_types: dict[str, str], kind: str = PRODUCTS) -> list[Column]:
    """The header's columns, or a 400 naming the first unknown (or repeated) one."""
    found: list[Column] = []
    seen: set[str] = set()
    for raw in header:
        name = raw.strip()
        if name in seen:
            raise BadRequest(f"{name}: the column is named twice")
        seen.add(name)
        parts = name.split(".")
        if kind == CATEGORIES:
            if name not in CATEGORY_COLUMNS:
                raise BadRequest(f"{name or '(empty)'}: unknown column")
            found.append(Column(name, (name,), "text"))
        elif name in PLAIN_COLUMNS:
            kind = ("integer" if name in _INTEGERS else "boolean" if name in _BOOLEANS
                    else f"list:{_LISTS[name].__name__}" if name in _LISTS else "text")
            found.append(Column(name, (name,), kind))
        elif parts[0] == "attributes" and len(parts) == 2 and parts[1]:
            attribute_type = attribute_types.get(parts[1])
            if attribute_type is None:
                raise BadRequest(f"{name}: no attribute with code '{parts[1]}'")
            found.append(Column(name, ("attributes", parts[1]), f"attribute:{attribute_type}"))
        elif parts[0] == "translations" and len(parts) == 3 and parts[2] in TRANSLATED:
            try:
                locale = canonical_locale(parts[1])
            except ValueError as exc:
                raise BadRequest(f"{name}: {exc}") from None
            found.append(Column(name, ("translations", locale, parts[2]), "text"))
        elif parts[0] == "stock_levels" and len(parts) == 2 and parts[1]:
            found.append(Column(name, ("stock_levels", parts[1]), "level"))
        else:
            raise BadRequest(f"{name or '(empty)'}: unknown column")
    key = "path" if kind == CATEGORIES else "sku"
    if key not in seen:
        raise BadRequest(f"{key}: the header must name a {key} column")
    return found


def _list(cell: str, item: type) -> list[Any]:
    if cell.startswith("["):
        values = json.loads(cell)
        if not isinstance(values, list):
            raise ValueError("must be a list")
        return values
    values = [value.strip() for value in cell.split(LIST_SEPARATOR)]
    return [int(value) if item is int and value.lstrip("-").isdigit() else value for value in values]


def _cell(column: Column, cell: str) -> Any:
    """A cell's value as a request body would carry it (a 400 names the column)."""
    kind = column.kind
    if kind == "integer" or kind == "level":
        return int(cell) if cell.lstrip("-").isdigit() else cell  # pydantic says "must be an integer"
    if kind == "boolean":
        return {"true": True, "false": False}.get(cell.lower(), cell)
    if kind.startswith("list:"):
        try:
            return _list(cell, int if kind == "list:int" else str)
        except ValueError:
            raise BadRequest(f"{column.name}: must be a list of values separated by |"
                             " or a JSON array") from None
    if kind.startswith("attribute:"):
        attribute_type = kind.partition(":")[2]
        if attribute_type == "boolean":
            return {"true": True, "false": False}.get(cell.lower(), cell)
        if attribute_type == "multiselect":
            return _list(cell, str)
        return cell
    return cell


def _row(columns: list[Column], cells: list[str]) -> dict[str, Any]:
    """One CSV row as a raw line."""
    raw: dict[str, Any] = {}
    levels: list[dict[str, Any]] = []
    for column, cell in zip(columns, cells):
        if cell == "":
            continue  # an empty cell leaves the field as it is
        if cell == NULL and (column.path[0] in ("attributes", "translations") or column.name in _NULLABLE):
            value: Any = None
        else:
            value = _cell(column, cell)
        if column.kind == "level":
            levels.append({"warehouse_code": column.path[1], "quantity": value})
        elif len(column.path) == 1:
            raw[column.name] = value
        else:
            target = raw.setdefault(column.path[0], {})
            for part in column.path[1:-1]:
                target = target.setdefault(part, {})
            target[column.path[-1]] = value
    if len(cells) > len(columns):
        raise BadRequest(f"body: the row has {len(cells)} cells, the header {len(columns)}")
    if levels:
        raw["stock_levels"] = levels
    return raw


def sniff_delimiter(header_line: str) -> str:
    """`;` when the header holds more of them than commas (spreadsheets in many
    locales save CSV that way), else `,`."""
    return ";" if header_line.count(";") > header_line.count(",") else ","


def read_csv(stream: IO[str], columns: list[Column], delimiter: str, kind: str = PRODUCTS) -> Iterator[Line]:
    """Validated lines of a CSV text whose header was read already; line numbers count
    the header as line 1 and a row as one line whatever newlines its quoted cells hold."""
    for number, cells in enumerate(csv.reader(stream, delimiter=delimiter), start=2):
        if not any(cell.strip() for cell in cells):
            continue
        try:
            raw = _row(columns, cells)
        except BadRequest as exc:
            yield Line(number, None, error=exc.message)
            continue
        yield validate(number, raw, kind)


# ---- a spooled body --------------------------------------------------------------------

def spool() -> IO[bytes]:
    """Where a body goes as it arrives: memory up to a few MB, then a temporary file."""
    return tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY, prefix="micropim-import-")


@dataclass
class Feed:
    """A checked body: its format, how many lines it has, and how to read it."""

    file: IO[bytes]
    format: str
    total_lines: int
    delimiter: str = ","
    header: list[str] = field(default_factory=list)

    def text(self) -> IO[str]:
        self.file.seek(0)
        return io.TextIOWrapper(io.BufferedReader(_Unclosed(self.file)), encoding="utf-8-sig", newline="")


class _Unclosed(io.RawIOBase):
    """The spooled file, read through a wrapper that does not close it."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._file.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def check(file: IO[bytes], fmt: str) -> Feed:
    """Read the whole body once: UTF-8 (a BOM is dropped), a CSV's header and rows, the
    number of lines. A 400 for a body that is not a feed, before anything is written."""
    file.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        while chunk := file.read(1 << 20):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise BadRequest(f"body: must be UTF-8 text ({exc.reason})") from None
    body = Feed(file, fmt, 0)
    if fmt == NDJSON:
        body.total_lines = sum(1 for text in body.text() if text.strip())
        if body.total_lines == 0:
            raise BadRequest("body: no lines")
        return body
    stream = body.text()
    header_line = stream.readline()
    body.delimiter = sniff_delimiter(header_line)
    try:
        body.header = next(csv.reader([header_line], delimiter=body.delimiter), [])
        body.total_lines = sum(1 for cells in csv.reader(stream, delimiter=body.delimiter)
                               if any(cell.strip() for cell in cells))
    except csv.Error as exc:
        raise BadRequest(f"body: malformed CSV: {exc}") from None
    if not body.header:
        raise BadRequest("body: no header row")
    return body


def read_lines(body: Feed, attribute_types: dict[str, str], kind: str = PRODUCTS) -> Iterator[Line]:
    """The body's validated lines, in order (a 400 for a CSV header naming an unknown
    column)."""
    stream = body.text()
    if body.format == NDJSON:
        return read_ndjson(stream, kind)
    columns = columns_of(body.header, attribute_types, kind)
    stream.readline()  # the header, read by `check`
    return read_csv(stream, columns, body.delimiter, kind)


def header_attribute_types(db: Database, org_id: int, header: list[str]) -> dict[str, str]:
    """code -> type of the attributes a CSV header names."""
    codes = [name.strip().split(".", 1)[1] for name in header
             if name.strip().startswith("attributes.") and "." in name.strip()]
    return {code: definition.type for code, definition in attributes.definitions(db, org_id, codes).items()}


# ---- running an import -----------------------------------------------------------------

@dataclass
class Result:
    """What became of one line: the entry of the answer's `results`."""

    line: int
    sku: str | None
    id: int | None
    status: str
    error: str | None
    kind: str = "product"

    def to_api(self) -> dict[str, Any]:
        return {"line": self.line, "sku": self.sku, "id": self.id, "status": self.status,
                "error": self.error, "kind": self.kind}


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0

    def add(self, results: list[Result]) -> None:
        for result in results:
            setattr(self, result.status, getattr(self, result.status) + 1)

    def to_api(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "failed": self.failed}


class _DryRun(Exception):
    """Raised at the end of a dry run's batch, so its transaction rolls back."""

    def __init__(self, results: list[Result]) -> None:
        super().__init__("dry run")
        self.results = results


@dataclass
class _Applied:
    result: Result
    outcome: bulk.Outcome | None


class Importer:
    """Applies a checked body's lines to one organization's catalog, batch by batch.

    `kind` is `products` (upsert by SKU) or `categories` (upsert by path). `job_id`,
    when given, has each batch's progress written to that import job in the batch's own
    transaction."""

    def __init__(self, db: Database, images: Images | None, org_id: int, *, kind: str = PRODUCTS,
                 dry_run: bool = False, create_references: bool = False, job_id: int | None = None) -> None:
        self.db, self.images, self.org_id = db, images, org_id
        self.kind, self.dry_run, self.job_id = kind, dry_run, job_id
        self.refs = bulk.References(db, org_id, create_references)
        self.counts = Counts()
        self.cancelled = False  # stop after the batch being written
        self.stopping = False  # ...because the server stops
        self._batch = 100

    async def apply(self, lines: Iterator[Line],
                    on_batch: Callable[[list[Result]], Any] | None = None) -> Counts:
        """Apply `lines` (from `lines()`) batch by batch until they end or the import is
        cancelled; `on_batch(results)` hears each batch's results, in order."""
        # The next batch is parsed and validated on a query thread while this one is
        # written: SQLite runs without the GIL, so the two overlap.
        upcoming = asyncio.ensure_future(self.db.read(_take, lines, self._batch))
        while not self.cancelled:
            batch = await upcoming
            if not batch:
                break
            upcoming = asyncio.ensure_future(self.db.read(_take, lines, self._batch))
            started = time.monotonic()
            applied = await self._apply(batch)
            self._resize(time.monotonic() - started, len(batch))
            if self.images is not None and not self.dry_run:
                await self._add_images(applied)
            results = [item.result for item in applied]
            self.counts.add(results)
            if on_batch is not None:
                await _maybe_await(on_batch(results))
        await upcoming  # lines read ahead of a cancellation are not applied
        return self.counts

    def lines(self, db: Database, body: Feed) -> Iterator[Line]:
        """The body's lines for this import (a 400 for an unknown CSV column)."""
        types = (header_attribute_types(db, self.org_id, body.header)
                 if body.format == CSV and self.kind == PRODUCTS else {})
        return read_lines(body, types, self.kind)

    def _resize(self, seconds: float, size: int) -> None:
        """Batches sized to hold the writer thread about BATCH_SECONDS each."""
        if seconds > 0:
            self._batch = max(MIN_BATCH, min(MAX_BATCH, int(size * BATCH_SECONDS / seconds)))

    async def _apply(self, batch: list[Line]) -> list[_Applied]:
        try:
            return await self.db.write(self._apply_batch, batch, long=True)
        except _DryRun as done:
            self.refs.forget()
            if self.job_id is not None:
                await self.db.write(_record, self.job_id, done.results)
            return [_Applied(result, None) for result in done.results]

    def _apply_batch(self, db: Database, batch: list[Line]) -> list[_Applied]:
        if self.kind == PRODUCTS:
            with text_index_deferred(db):  # the batch's index rows in one statement
                known = bulk.known_state(db, self.org_id, [line.data for line in batch if line.data is not None])
                applied = [self._apply_line(db, line, known) for line in batch]
        else:
            applied = [self._apply_line(db, line) for line in batch]
        if self.dry_run:
            raise _DryRun([item.result for item in applied])
        if self.job_id is not None:
            _record(db, self.job_id, [item.result for item in applied])
        return applied

    def _apply_line(self, db: Database, line: Line, known: bulk.Known | None = None) -> _Applied:
        if line.error is not None or line.data is None:
            return _Applied(Result(line.number, line.sku, None, bulk.FAILED, line.error), None)
        if known is not None:  # told from the batch's rows: no savepoint, no query
            product_id = bulk.certainly_unchanged(db, self.org_id, line.data, self.refs, known)
            if product_id is not None:
                return _Applied(Result(line.number, line.sku, product_id, bulk.UNCHANGED, None),
                                bulk.Outcome(bulk.UNCHANGED, product_id, product_id))
        try:
            with db.line_savepoint():  # a bad line writes nothing of itself
                if self.kind == CATEGORIES:
                    category_id, status = categories.upsert_by_path(db, self.org_id, line.data)
                    return _Applied(Result(line.number, line.data.get("path"), category_id, status, None,
                                           "category"), None)
                outcome = bulk.apply_line(db, self.org_id, line.data, self.refs, known)
        except BadRequest as exc:
            self.refs.forget()  # what the line created is gone with its savepoint
            if known is not None:
                known.held.forget()
            return _Applied(Result(line.number, line.sku, None, bulk.FAILED, exc.message,
                                   "variant" if line.data.get("parent_sku") else "product"), None)
        except peewee.IntegrityError as exc:  # a rule no check caught: the line, not the import
            self.refs.forget()
            if known is not None:
                known.held.forget()
            log.warning("bulk line %d refused by the database: %s", line.number, exc)
            return _Applied(Result(line.number, line.sku, None, bulk.FAILED,
                                   f"body: the line conflicts with a stored row ({exc})"), None)
        return _Applied(Result(line.number, line.sku, outcome.id, outcome.status, None, outcome.kind), outcome)

    async def _add_images(self, applied: list[_Applied]) -> None:
        """Fetch and add each committed line's new images, then point its variants at
        theirs; a failure is reported on the line (its data stays saved)."""
        assert self.images is not None
        for item in applied:
            outcome = item.outcome
            if outcome is None or outcome.product_id is None:
                continue
            errors: list[str] = []
            for i, url in enumerate(outcome.images):
                try:
                    await self.images.add_image(self.org_id, outcome.product_id, url=url)
                except BadRequest as exc:
                    errors.append(f"images[{i}].{exc.message}")
            for variant_id, url in outcome.variant_images.items():
                linked = await self.db.write(bulk.link_variant_image, self.org_id, outcome.product_id,
                                             variant_id, url)
                if not linked:
                    errors.append(f"image: the product has no image from {url}")
            if outcome.images or outcome.variant_images:
                if errors:
                    item.result.error = "; ".join(errors)
                if item.result.status == bulk.UNCHANGED and len(errors) < len(outcome.images) + len(outcome.variant_images):
                    item.result.status = bulk.UPDATED


def _take(db: Database, lines: Iterator[Line], size: int) -> list[Line]:
    """The next `size` lines (read on a query thread: parsing and validating is CPU work)."""
    batch: list[Line] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= size:
            break
    return batch


def _record(db: Database, job_id: int, results: list[Result]) -> None:
    counts = Counts()
    counts.add(results)
    imports.record(db, job_id, len(results), counts.to_api(),
                   [{"line": r.line, "sku": r.sku, "error": r.error} for r in results if r.status == bulk.FAILED])


async def _maybe_await(value: Any) -> None:
    if hasattr(value, "__await__"):
        await value


# ---- export ----------------------------------------------------------------------------

def ndjson_line(item: Exported) -> str:
    """The product object with its variants and stock levels, on one line (texts
    joined: the product's and its levels' JSON are SQLite's already)."""
    shown = json.dumps(item.variants, ensure_ascii=False, separators=(",", ":")) if item.variants else "[]"
    return f'{item.json[:-1]},"variants":{shown},"stock_levels":{item.levels_json}}}\n'


@dataclass
class CsvLayout:
    """The columns of a CSV export: the plain ones, then one per attribute code,
    translated field and warehouse the organization has."""

    attribute_codes: list[str]
    attribute_types: dict[str, str]
    locales: list[str]
    warehouses: list[str]
    paths: dict[int, str]

    @property
    def header(self) -> list[str]:
        return ([name for name in PLAIN_COLUMNS if name not in ("stock", "brand_id", "supplier_id",
                                                                "vat_rate_id", "category_ids")]
                + [f"attributes.{code}" for code in self.attribute_codes]
                + [f"translations.{locale}.{name}" for locale in self.locales for name in TRANSLATED]
                + [f"stock_levels.{code}" for code in self.warehouses])


def csv_layout(db: Database, org_id: int) -> CsvLayout:
    definitions = list(db.execute_sql(
        "SELECT code, type FROM product_attribute WHERE org_id = ? ORDER BY id", (org_id,)))
    locales = [row[0] for row in db.execute_sql(
        "SELECT DISTINCT locale FROM product_translation WHERE org_id = ? ORDER BY locale", (org_id,))]
    warehouses = [row[0] for row in db.execute_sql(
        "SELECT code FROM warehouse WHERE org_id = ? ORDER BY is_default DESC, name, id", (org_id,))]
    return CsvLayout([code for code, _ in definitions], dict(definitions), locales, warehouses,
                     categories.paths(db, org_id))


def _list_cell(values: list[Any]) -> str:
    texts = [str(value) for value in values]
    if any(LIST_SEPARATOR in text or text != text.strip() for text in texts):
        return json.dumps(values, ensure_ascii=False)
    return LIST_SEPARATOR.join(texts)


def _value_cell(value: Any, attribute_type: str = "text") -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return _list_cell(value)
    return str(value)


def csv_rows(layout: CsvLayout, item: Exported) -> list[list[str]]:
    """A product's row and its variants' rows, in the layout's columns."""
    product = json.loads(item.json)
    header = layout.header
    row = dict.fromkeys(header, "")
    for name in ("sku", "name", "slug", "description", "short_description", "product_type", "price",
                 "sale_price", "cost_price", "currency", "status", "ean", "product_condition"):
        row[name] = _value_cell(product.get(name))
    if product.get("brand"):
        row["brand"] = product["brand"]["name"]
    if product.get("supplier"):
        row["supplier"] = product["supplier"]["name"]
    if product.get("vat_rate"):
        rate = product["vat_rate"]
        row["vat_rate"] = f"{rate['name']} ({rate['country_code']}) {rate['rate']}%"
    row["categories"] = _list_cell([layout.paths[c["id"]] for c in product["categories"] if c["id"] in layout.paths])
    row["publishing_channels"] = _list_cell(product["publishing_channels"])
    row["images"] = _list_cell(product["images"])
    for code, value in (product.get("attributes") or {}).items():
        if f"attributes.{code}" in row:
            row[f"attributes.{code}"] = _value_cell(value)
    for locale, texts in (item.translations or {}).items():
        for name in TRANSLATED:
            if f"translations.{locale}.{name}" in row:
                row[f"translations.{locale}.{name}"] = _value_cell(texts.get(name))
    if product["product_type"] != "variable":
        for level in item.stock_levels:
            if f"stock_levels.{level['warehouse_code']}" in row:
                row[f"stock_levels.{level['warehouse_code']}"] = str(level["quantity"])
    rows = [[row[name] for name in header]]
    for variant in item.variants:
        cells = dict.fromkeys(header, "")
        cells["sku"], cells["parent_sku"], cells["name"] = variant["sku"], product["sku"], variant["name"]
        for name in ("price", "sale_price", "cost", "weight", "stock_quantity", "stock_status",
                     "is_enabled", "position", "ean", "image"):
            cells[name] = _value_cell(variant.get(name))
        for axis in variant["attributes"]:
            if f"attributes.{axis['attribute_code']}" in cells:
                cells[f"attributes.{axis['attribute_code']}"] = _value_cell(axis["value"])
        rows.append([cells[name] for name in header])
    return rows


def csv_text(rows: list[list[str]], delimiter: str = ",") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
