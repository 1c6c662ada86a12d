"""Bulk import and export: `POST /api/products/bulk`, import jobs (`/api/imports`),
`GET /api/products/export`, and the same for categories. The feeds' formats and the
import loop are `handlers.bulk`; these handlers take the bodies in and stream answers out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import IO, Any

from tornado.httputil import HTTPInputError

from handlers import bulk, schemas
from handlers.base import BaseHandler, to_json
from handlers.params import LOCALE, SUBCATEGORIES
from handlers.products import BRAND, CATEGORY, CHANNEL, SEARCH, STATUS, UPDATED_SINCE
from handlers.spec import LIMIT, PAGE, BoolParam, ChoiceParam, RawBody, id_param, operation
from handlers.util import listing, path_id
from search.pipeline import Images
from store import categories, imports
from store.db import Database
from store.errors import ApiError, BadRequest
from store.products.export import export
from store.products.query import ProductQuery

log = logging.getLogger("micropim.imports")

DRY_RUN = BoolParam("dry_run", "Validate every line and answer the same report, writing nothing")
CREATE_REFERENCES = BoolParam("create_references", "Create the brands, suppliers, categories, VAT rates"
                              " and warehouses lines name that do not exist (else the line fails)")
FORMAT = ChoiceParam("format", "ndjson (default) or csv", (bulk.NDJSON, bulk.CSV))
KIND = ChoiceParam("kind", "What the file holds: products (default) or categories",
                   (bulk.PRODUCTS, bulk.CATEGORIES))
FEED = RawBody("application/x-ndjson", "One JSON object per line (NDJSON), or CSV with a header row"
               " (text/csv, `,` or `;`); see the README's \"Bulk import and export\"",
               {"type": "string"}, also=("text/csv",))
EXPORT = RawBody("application/x-ndjson", "One product per line, or CSV rows (variants on rows of"
                 " their own, with parent_sku)", {"type": "string"}, also=("text/csv",))
CATEGORY_EXPORT = RawBody("application/x-ndjson", "One category per line ({path, description, slug}),"
                          " parents first, or the same as CSV", {"type": "string"}, also=("text/csv",))
CONTENT_TYPES = {bulk.NDJSON: "application/x-ndjson; charset=UTF-8", bulk.CSV: "text/csv; charset=UTF-8"}
FILE_KINDS = {".csv": bulk.CSV, ".ndjson": bulk.NDJSON, ".jsonl": bulk.NDJSON}


class FeedHandler(BaseHandler):
    """Takes a feed body as it arrives into a spooled file, up to the bulk limit."""

    def prepare(self) -> None:
        self.max_body_bytes = self.app.bulk_limit_bytes
        self._spool: IO[bytes] = bulk.spool()
        super().prepare()
        self.request.connection.set_max_body_size(self.max_body_bytes + 1)  # type: ignore[union-attr]

    def data_received(self, chunk: bytes) -> None:
        self._body_bytes += len(chunk)
        if self._body_bytes <= self.max_body_bytes:
            self._spool.write(chunk)

    def on_finish(self) -> None:
        self._spool.close()

    def raw_format(self) -> str:
        """The feed's format from its Content-Type (NDJSON or CSV), or a 400."""
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        fmt = bulk.CONTENT_TYPES.get(content_type)
        if fmt is None:
            raise BadRequest("body: send NDJSON (Content-Type: application/x-ndjson) or CSV"
                             f" (Content-Type: text/csv), not {content_type or 'no Content-Type'}")
        return fmt

    def feed_file(self) -> IO[bytes]:
        if self._body_bytes > self.max_body_bytes:
            raise ApiError(413, f"body: request body exceeds {self.max_body_bytes} bytes")
        return self._spool

    async def check(self, file: IO[bytes], fmt: str) -> bulk.Feed:
        return await self.images.compute(bulk.check, file, fmt)


class BulkHandler(FeedHandler):
    """Upsert by SKU (products) or by path (categories): the answer streams the results
    as the batches commit, then the counts."""

    kind = bulk.PRODUCTS

    async def _run(self) -> None:
        feed = await self.check(self.feed_file(), self.raw_format())
        importer = bulk.Importer(self.db, self.images, self.org_id, kind=self.kind,
                                 dry_run=self.arg(DRY_RUN),
                                 create_references=self.kind == bulk.PRODUCTS and self.arg(CREATE_REFERENCES))
        lines = await self.db.read(importer.lines, feed)  # a 400 for an unknown column, before any answer
        self.write('{"status":1,"data":{"results":[')
        first = True

        async def send(results: list[bulk.Result]) -> None:
            nonlocal first
            if results:
                text = ",".join(to_json(result.to_api()) for result in results)
                self.write(text if first else "," + text)
                first = False
                await self.flush()

        counts = await importer.apply(lines, send)
        self.finish(f'],{to_json(counts.to_api())[1:-1]}}},"error":null}}')


class ProductBulkHandler(BulkHandler):
    """POST /api/products/bulk: NDJSON or CSV lines upserted by SKU."""

    @operation(data=schemas.BulkResult, raw=FEED, query=(DRY_RUN, CREATE_REFERENCES), errors=(400,))
    async def post(self) -> None:
        """Create or update products in bulk

        One product per line, found by `sku`: an unknown SKU creates the product, a known
        one is updated with the fields the line gives. Each line is applied on its own
        (a bad line writes nothing of itself and never stops the others) and answered in
        `results`, in order, with the single write's error message.
        """
        await self._run()


class CategoryBulkHandler(BulkHandler):
    """POST /api/categories/bulk: NDJSON or CSV lines upserted by path."""

    kind = bulk.CATEGORIES

    @operation(data=schemas.BulkResult, raw=FEED, query=(DRY_RUN,), errors=(400,))
    async def post(self) -> None:
        """Create or update categories in bulk

        One category per line, found by `path` ("Apparel > Tops", missing parents made
        too); `description` and `slug` are set as given.
        """
        await self._run()


# ---- import jobs --------------------------------------------------------------------------

class ImportJobs:
    """The import jobs of one application: queued, then run one at a time in the
    background (their batches interleave with the API's own writes on the writer
    thread). A job's feed is a temporary file; a stopped server leaves its job
    `interrupted` (see `store.imports.mark_interrupted`)."""

    def __init__(self, db: Database, images: Images) -> None:
        self.db, self.images = db, images
        self._queue: asyncio.Queue[tuple[int, int, bulk.Feed, str]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._running: dict[int, bulk.Importer] = {}
        self._cancelled: set[int] = set()

    def submit(self, job: dict[str, Any], org_id: int, feed: bulk.Feed, kind: str) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue()
        self._queue.put_nowait((int(job["id"]), org_id, feed, kind))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.ensure_future(self._work())

    def cancel(self, job_id: int) -> None:
        self._cancelled.add(job_id)
        importer = self._running.get(job_id)
        if importer is not None:
            importer.cancelled = True

    async def _work(self) -> None:
        assert self._queue is not None
        while not self._queue.empty():
            job_id, org_id, feed, kind = self._queue.get_nowait()
            try:
                await self._run(job_id, org_id, feed, kind)
            except Exception as exc:  # the job fails, the server goes on
                log.exception("import %d failed", job_id)
                await self.db.write(imports.finish, job_id, "failed", f"internal error: {type(exc).__name__}")
            finally:
                feed.file.close()
                self._running.pop(job_id, None)

    async def _run(self, job_id: int, org_id: int, feed: bulk.Feed, kind: str) -> None:
        job = await self.db.read(imports.get_job, org_id, job_id)
        if job_id in self._cancelled or job["status"] != "queued":
            return  # cancelled before it started
        importer = bulk.Importer(self.db, self.images, org_id, kind=kind, dry_run=job["dry_run"],
                                 create_references=job["create_references"], job_id=job_id)
        self._running[job_id] = importer
        if not await self.db.write(imports.start, job_id):
            return  # cancelled before it started
        try:
            lines = await self.db.read(importer.lines, feed)
        except BadRequest as exc:
            await self.db.write(imports.finish, job_id, "failed", exc.message)
            return
        await importer.apply(lines)
        if importer.stopping:
            return  # the server is stopping: the next start reports the job interrupted
        if importer.cancelled:
            await self.db.write(imports.finish, job_id, "cancelled",
                                "cancelled; the lines reported done are written")
        else:
            await self.db.write(imports.finish, job_id, "done")

    def stop(self) -> None:
        """Stop after the batch in progress (shutdown): the job is then `interrupted`
        at the next start, like one a killed server left."""
        for importer in self._running.values():
            importer.cancelled = True
            importer.stopping = True


class ImportListHandler(FeedHandler):
    """GET /api/imports (newest first) and POST (a feed, raw or as a multipart `file`)."""

    @operation(data=schemas.ImportPage, query=(PAGE, LIMIT))
    def get(self) -> None:
        """List import jobs

        The organization's import jobs, newest first.
        """
        page, limit = self.page_args()
        items, total = self.db.quick(imports.list_jobs, self.org_id, page, limit)
        self.reply(listing("imports", items, page, limit, total))

    @operation(data=schemas.ImportJob, status=(202,), raw=FEED, query=(KIND, DRY_RUN, CREATE_REFERENCES),
               errors=(400,))
    async def post(self) -> None:
        """Start an import job

        The same feeds as `POST /api/products/bulk` (or categories with `kind=categories`),
        raw or as a `multipart/form-data` part named `file` (its name ending in .csv,
        .ndjson or .jsonl, or its Content-Type, tells the format). Answers 202 with the
        job at once; `GET /api/imports/{id}` follows its progress.
        """
        kind = self.arg(KIND) or bulk.PRODUCTS
        file, fmt = await self._feed()
        feed = await self.check(file, fmt)
        job = await self.db.write(imports.create_job, self.org_id, kind, fmt, self.arg(DRY_RUN),
                                  kind == bulk.PRODUCTS and self.arg(CREATE_REFERENCES), feed.total_lines)
        self._spool = bulk.spool()  # the job owns the feed now; on_finish closes this one
        self.app.imports.submit(job, self.org_id, feed, kind)
        self.reply(job, status=202)

    async def _feed(self) -> tuple[IO[bytes], str]:
        content_type = self.request.headers.get("Content-Type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            return self.feed_file(), self.raw_format()
        boundary = content_type.partition("boundary=")[2].strip().strip('"')
        if not boundary:
            raise BadRequest("body: multipart/form-data without a boundary")
        try:
            return await self.images.compute(_file_part, self.feed_file(), boundary.encode())
        except HTTPInputError as exc:
            raise BadRequest(f"body: malformed multipart/form-data ({exc})") from None


def _file_part(body: IO[bytes], boundary: bytes) -> tuple[IO[bytes], str]:
    """The `file` part of a spooled multipart body, copied into a spool of its own, and
    its format (from the file name or the part's Content-Type); streamed, so a part of
    hundreds of MB is never held in memory."""
    body.seek(0)
    delimiter = b"\r\n--" + boundary
    buffer = b"\r\n" + body.read(1 << 16)
    start = buffer.find(delimiter)
    if start < 0:
        raise BadRequest("body: malformed multipart/form-data (no boundary)")
    buffer = buffer[start + len(delimiter):]
    while True:
        while b"\r\n\r\n" not in buffer:
            more = body.read(1 << 16)
            if not more or len(buffer) > 1 << 16:
                raise BadRequest("body: malformed multipart/form-data (a part without headers)")
            buffer += more
        if buffer.startswith(b"--"):
            raise BadRequest("file: is required")
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        headers = _part_headers(head.decode("utf-8", "replace"))
        name, filename = headers.get("name"), headers.get("filename")
        if name != "file":
            raise BadRequest(f"{name or 'body'}: unknown field")
        if filename is None:
            raise BadRequest("file: must be a file part (with a filename)")
        fmt = next((kind for ext, kind in FILE_KINDS.items() if filename.lower().endswith(ext)),
                   bulk.CONTENT_TYPES.get(headers.get("content-type", "").split(";")[0].strip().lower()))
        if fmt is None:
            raise BadRequest(f"file: {filename!r} is not a .csv, .ndjson or .jsonl file")
        out = bulk.spool()
        while True:
            end = buffer.find(delimiter)
            if end >= 0:
                out.write(buffer[:end])
                return out, fmt
            keep = len(delimiter)
            out.write(buffer[:-keep])
            more = body.read(1 << 20)
            if not more:
                out.close()
                raise BadRequest("body: malformed multipart/form-data (the file part does not end)")
            buffer = buffer[-keep:] + more


def _part_headers(head: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in head.split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-disposition":
            for item in value.split(";")[1:]:
                name, _, raw = item.strip().partition("=")
                found[name.lower()] = raw.strip().strip('"')
        elif key.strip():
            found[key.strip().lower()] = value.strip()
    return found


class ImportHandler(BaseHandler):
    """GET and DELETE (cancel) /api/imports/{id}."""

    path_params = (id_param("id", "import job"),)

    @operation(data=schemas.ImportJob)
    def get(self, raw_id: str) -> None:
        """Get an import job

        Its status (`queued`, `running`, `done`, `cancelled`, `interrupted`, `failed`),
        its progress and counts, and its first 1,000 failed lines.
        """
        self.reply(self.db.quick(imports.get_job, self.org_id, path_id(raw_id, "import")))

    @operation(data=schemas.ImportJob, errors=(400,))
    async def delete(self, raw_id: str) -> None:
        """Cancel an import job

        A queued job is cancelled at once; a running one stops after the batch being
        written (its status turns `cancelled` then), and what it committed stays.
        Answers the job; a job that has finished is a 400.
        """
        job_id = path_id(raw_id, "import")
        job = self.db.quick(imports.get_job, self.org_id, job_id)
        if job["status"] not in imports.UNFINISHED:
            raise BadRequest(f"id: import {job_id} has finished ({job['status']})")
        self.app.imports.cancel(job_id)
        await self.db.write(imports.cancel_queued, job_id)  # else it stops after its batch
        self.reply(self.db.quick(imports.get_job, self.org_id, job_id))


# ---- export -------------------------------------------------------------------------------

def _filename(what: str, fmt: str) -> str:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{what}-{stamp}.{'csv' if fmt == bulk.CSV else 'ndjson'}"


class ExportHandler(BaseHandler):
    """Answers a file (not the envelope), streamed as it is made."""

    def start_file(self, what: str, fmt: str) -> None:
        self.set_header("Content-Type", CONTENT_TYPES[fmt])
        self.set_header("Content-Disposition", f'attachment; filename="{_filename(what, fmt)}"')


class ProductExportHandler(ExportHandler):
    """GET /api/products/export: every product the filters match, as NDJSON or CSV."""

    @operation(data=EXPORT, query=(FORMAT, SEARCH, STATUS, BRAND, CHANNEL, CATEGORY, SUBCATEGORIES,
                                   UPDATED_SINCE, LOCALE), errors=(400,))
    async def get(self) -> None:
        """Export products

        Every product `GET /api/products` would list with the same filters, in id order,
        streamed: NDJSON lines are the product object with its `variants` and
        `stock_levels`; CSV has the columns the CSV import reads (variants on rows of
        their own), so an export imported into another organization recreates the
        catalog. Not the envelope (errors are).
        """
        fmt = self.arg(FORMAT) or bulk.NDJSON
        query = ProductQuery(search=self.arg(SEARCH), status=self.arg(STATUS), brand=self.arg(BRAND),
                             channel=self.arg(CHANNEL), category=self.arg(CATEGORY),
                             include_subcategories=self.arg(SUBCATEGORIES),
                             updated_since=self.arg(UPDATED_SINCE), locale=self.arg(LOCALE))
        chunks = await self.db.read(lambda db: export(db, self.org_id, query, with_translations=fmt == bulk.CSV))
        layout = await self.db.read(bulk.csv_layout, self.org_id) if fmt == bulk.CSV else None
        self.start_file("products", fmt)
        if layout is not None:
            self.write(bulk.csv_text([layout.header]))
        while True:
            text = await self.db.read(_next_text, chunks, layout)  # read and written off the loop
            if text is None:
                break
            self.write(text)
            await self.flush()  # waits for the client: memory stays one chunk
        self.finish()


def _next_text(db: Database, chunks: Any, layout: bulk.CsvLayout | None) -> str | None:
    """The next chunk of the export as NDJSON (or CSV rows in `layout`), or None at the end."""
    chunk = next(chunks, None)
    if chunk is None:
        return None
    if layout is not None:
        return bulk.csv_text([row for item in chunk for row in bulk.csv_rows(layout, item)])
    return "".join(bulk.ndjson_line(item) for item in chunk)


class CategoryExportHandler(ExportHandler):
    """GET /api/categories/export: the tree as NDJSON or CSV, parents first."""

    @operation(data=CATEGORY_EXPORT, query=(FORMAT,), errors=(400,))
    async def get(self) -> None:
        """Export categories

        Every category as `path` ("Apparel > Tops"), `description` and `slug`, parents
        before their children, siblings in position order: what `POST
        /api/categories/bulk` recreates the tree from. Not the envelope (errors are).
        """
        fmt = self.arg(FORMAT) or bulk.NDJSON
        rows = await self.db.read(categories.tree_rows, self.org_id)
        self.start_file("categories", fmt)
        if fmt == bulk.CSV:
            self.write(bulk.csv_text([list(bulk.CATEGORY_COLUMNS)]
                                     + [[row[name] for name in bulk.CATEGORY_COLUMNS] for row in rows]))
        else:
            self.write("".join(to_json(row) + "\n" for row in rows))
        self.finish()


def routes(ID: str) -> list[tuple[Any, ...]]:
    """The routes of this module, before `/api/products/{id}` in the table."""
    return [
        (r"/api/products/bulk", ProductBulkHandler),
        (r"/api/products/export", ProductExportHandler),
        (r"/api/categories/bulk", CategoryBulkHandler),
        (r"/api/categories/export", CategoryExportHandler),
        (r"/api/imports", ImportListHandler),
        (rf"/api/imports/{ID}", ImportHandler),
    ]

