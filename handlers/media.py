"""Product media: add by URL or upload, list, reorder, delete; image search; and the
public files. Adding and searching go through `search.pipeline`, which does the slow
parts off the event loop.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

import tornado.web
from pydantic import AfterValidator, Field, StringConstraints
from tornado.httputil import HTTPFile, HTTPInputError, parse_body_arguments

from handlers import schemas
from handlers.base import BaseHandler
from handlers.fields import ONE_LINE, Body
from handlers.params import PRODUCT_ID
from handlers.public import PublicHandler
from handlers.spec import (
    ChoiceParam, DeclarationError, Form, IntParam, PathParam, RawBody, TextParam, check_query, declared,
    id_param, operation,
)
from handlers.util import path_id
from search import imaging
from search.pipeline import Images
from store import media
from store.db import Database, is_busy
from store.errors import ApiError, BadRequest
from store.products.read import require_product
from store.values import check_text

log = logging.getLogger("micropim.media")

MAX_POSITION = 10_000
AltText = Annotated[str, StringConstraints(max_length=500), AfterValidator(check_text), ONE_LINE]
Position = Annotated[int, Field(ge=0, le=MAX_POSITION)]
FileUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]
# A multipart body carries the file and a few small fields: boundaries, part headers.
MULTIPART_OVERHEAD = 64 * 1024
UPLOAD_BODY_LIMIT = imaging.MAX_BYTES + MULTIPART_OVERHEAD
MAX_SEARCH_LIMIT = 50
MEDIA_PATH = re.compile(r"([A-Za-z0-9_-]{16,64})\.webp")
MEDIA_ID = id_param("mediaId", "media item")
SEARCH_LIMIT = IntParam("limit", "How many products to answer (default 10)", 1, MAX_SEARCH_LIMIT)
MEDIA_FORM = Form("file", "The image: JPEG, PNG, WebP or GIF, at most 20 MB, 50 megapixels (WebP: 16)"
                  " and 20,000 pixels a side", (
    TextParam("alt_text", "Alternative text", max_length=500),
    IntParam("position", "Place among the product's media, from 0 (default: last)", 0, MAX_POSITION),
))
SEARCH_FORM = Form("image", "The photo to match: JPEG, PNG, WebP or GIF, at most 20 MB, 50 megapixels"
                   " (WebP: 16) and 20,000 pixels a side", (SEARCH_LIMIT,))
IMAGE = RawBody("image/*", "The image file as it was uploaded or fetched")
THUMBNAIL_WIDTH = ChoiceParam("w", "A thumbnail of this width instead of the rendition",
                              tuple(str(width) for width in imaging.THUMBNAIL_WIDTHS))


class MediaCreate(Body):
    file_url: FileUrl
    alt_text: AltText | None = None
    position: Position | None = None


class MediaPatch(Body):
    alt_text: AltText | None = None
    position: Position = None  # type: ignore[assignment]


class UploadHandler(BaseHandler):
    """A handler that takes a `multipart/form-data` upload up to the file cap.

    JSON bodies keep the 1 MB limit (413); a multipart body past the file cap is a 400
    naming the file field, because it is the file that is too large.
    """

    @property
    def file_field(self) -> str:
        """The file part's name, as this method declares it (`file`, `image`); "file"
        for a method without a form (an oversized body to it is still refused by name)."""
        op = declared(type(self), self.request.method or "")
        return op.form.file if op is not None and op.form else "file"

    def prepare(self) -> None:
        if self.is_multipart:
            self.max_body_bytes = UPLOAD_BODY_LIMIT
        try:
            super().prepare()
        except ApiError as exc:
            if exc.status == 413 and self.is_multipart:
                raise self._too_large() from None
            raise

    @property
    def is_multipart(self) -> bool:
        return self.request.headers.get("Content-Type", "").lower().startswith("multipart/form-data")

    def _too_large(self) -> BadRequest:
        return BadRequest(f"{self.file_field}: the file is larger than {imaging.MAX_BYTES // (1024 * 1024)} MB")

    def form(self) -> tuple[HTTPFile, dict[str, Any]]:
        """The uploaded file and the declared text fields, parsed by their declarations;
        unknown or repeated fields are 400s."""
        declared = self.operation().form
        if declared is None:
            raise DeclarationError(f"{type(self).__name__}: reads a form it does not declare")
        fields = declared.field_names
        if self._body_bytes > self.max_body_bytes:
            raise self._too_large()
        arguments: dict[str, list[bytes]] = {}
        files: dict[str, list[HTTPFile]] = {}
        try:
            parse_body_arguments(self.request.headers["Content-Type"], self.body, arguments, files)
        except (HTTPInputError, ValueError) as exc:
            raise BadRequest(f"body: malformed multipart/form-data ({exc})") from None
        # A missing file first: a part sent under another name (`file` to image search)
        # is then both the missing one and an unknown one.
        problems = [] if self.file_field in files or self.file_field in arguments \
            else [f"{self.file_field}: is required"]
        problems += [f"{name}: unknown field" for name in [*arguments, *files]
                     if name != self.file_field and name not in fields]
        if problems:
            raise BadRequest("; ".join(problems))
        for name in [*arguments, *files]:
            if len(arguments.get(name, [])) + len(files.get(name, [])) > 1:
                raise BadRequest(f"{name}: sent more than once")
        if self.file_field in arguments:
            raise BadRequest(f"{self.file_field}: must be a file part (with a filename)")
        if self.file_field not in files:
            raise BadRequest(f"{self.file_field}: is required")
        upload = files[self.file_field][0]
        if len(upload.body) > imaging.MAX_BYTES:
            raise self._too_large()
        texts = {}
        for name, (value,) in arguments.items():
            try:
                texts[name] = value.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest(f"{name}: must be UTF-8 text") from None
        return upload, {param.name: param.parse(texts.get(param.name)) for param in declared.fields}


class ProductMediaListHandler(UploadHandler):
    """GET /api/products/{id}/media (position order) and POST (by URL or upload)."""

    path_params = (PRODUCT_ID,)

    @operation(data=schemas.MediaList)
    def get(self, raw_id: str) -> None:
        """List a product's media

        In position order.
        """
        items = self.db.quick(media.list_media, self.org_id, path_id(raw_id, "product"))
        self.reply({"media": items, "total": len(items)})

    @operation(data=schemas.AddedMedia, status=(201,), body=MediaCreate, form=MEDIA_FORM, errors=(503,))
    async def post(self, raw_id: str) -> None:
        """Add an image to a product

        By URL (JSON `file_url`, fetched by the server: http/https, public addresses
        only, at most 20 MB) or as a `multipart/form-data` upload with a `file` part.
        Stores the original, a WebP rendition and the image-search embedding, and
        answers the media item with `near_duplicates`: other products whose images are
        near-identical to this one.
        """
        product_id = path_id(raw_id, "product")
        self.db.quick(require_product, self.org_id, product_id)  # a 404 before reading or fetching
        if self.is_multipart:
            upload, texts = await self.images.compute(self.form)
            created = await self.images.add_image(
                self.org_id, product_id, data=upload.body, alt_text=texts["alt_text"] or "",
                position=texts["position"])
        else:
            body = self.json_body(MediaCreate)
            created = await self.images.add_image(
                self.org_id, product_id, url=body.file_url, alt_text=body.alt_text or "",
                position=body.position)
        self.reply(created, status=201)


class ProductMediaHandler(BaseHandler):
    """GET, PATCH (alt_text, position) and DELETE /api/products/{id}/media/{mediaId}."""

    path_params = (PRODUCT_ID, MEDIA_ID)

    def _ids(self, raw_product: str, raw_media: str) -> tuple[int, int]:
        return path_id(raw_product, "product"), path_id(raw_media, "media")

    @operation(data=schemas.Media)
    def get(self, raw_product: str, raw_media: str) -> None:
        """Get a media item"""
        self.reply(self.db.quick(media.get_media, self.org_id, *self._ids(raw_product, raw_media)))

    @operation(data=schemas.Media, body=MediaPatch)
    async def patch(self, raw_product: str, raw_media: str) -> None:
        """Update a media item

        `alt_text` and/or `position`; the others shift so positions stay 0…n-1.
        """
        product_id, media_id = self._ids(raw_product, raw_media)
        body = self.json_body(MediaPatch)
        fields = body.model_dump(exclude_unset=True)
        if "alt_text" in fields:
            fields["alt_text"] = fields["alt_text"] or ""
        self.reply(await self.db.write(media.update_media, self.org_id, product_id, media_id, fields))

    @operation(data=schemas.Media)
    async def delete(self, raw_product: str, raw_media: str) -> None:
        """Delete a media item

        Removes its files and its embedding; answers the removed item.
        """
        product_id, media_id = self._ids(raw_product, raw_media)
        self.reply(await self.db.write(media.delete_media, self.org_id, product_id, media_id))


class ProductMediaOriginalHandler(BaseHandler):
    """GET /api/products/{id}/media/{mediaId}/original: the bytes as uploaded.

    Behind the key, unlike the renditions: an original keeps its metadata (a phone
    photo's camera and GPS position), which a storefront's visitors must not get.
    The body is the image itself; errors are the envelope as everywhere under /api/.
    """

    path_params = (PRODUCT_ID, MEDIA_ID)

    @operation(data=IMAGE)
    async def get(self, raw_product: str, raw_media: str) -> None:
        """Download a media item's original

        The bytes as uploaded or fetched, metadata (camera, GPS) included, hence
        behind the key; not the envelope (errors are). `If-None-Match` answers 304.
        """
        ids = path_id(raw_product, "product"), path_id(raw_media, "media")
        content_type, etag, data = await self.db.read(media.read_original, self.org_id, *ids)
        self.set_header("Content-Type", content_type)
        self.set_header("ETag", etag)
        if self.check_etag_header():
            self.set_status(304)
            self.finish()
            return
        self.finish(data)

    def compute_etag(self) -> str | None:
        return None  # set above from the stored hash


class ImageSearchHandler(UploadHandler):
    """POST /api/products/image-search: multipart `image`, optional `limit` (1-50).

    A POST because it carries a file, but it changes nothing: a read-only key may
    search (a storefront's "find by photo")."""

    read_methods = UploadHandler.read_methods | {"POST"}

    @operation(data=schemas.ImageSearchResult, form=SEARCH_FORM, query=(SEARCH_LIMIT,), errors=(503,))
    async def post(self) -> None:
        """Search products by image

        The best-matching products for a photo, best first, one entry per product,
        each with a similarity `score`; archived products left out. `limit` (1-50,
        default 10) as a form field or in the query string.
        """
        if not self.is_multipart:
            raise BadRequest("image: send the image as multipart/form-data in a field named image")
        limit = self.arg(SEARCH_LIMIT)
        upload, texts = await self.images.compute(self.form)
        limit = texts["limit"] or limit or 10
        found = await self.images.search(self.org_id, upload.body, limit)
        self.reply({"products": found, "total": len(found)})


SIMILAR_LIMIT = IntParam("limit", "How many products to answer (default 10)", 1, MAX_SEARCH_LIMIT)


class SimilarProductsHandler(BaseHandler):
    """GET /api/products/{id}/similar: products that look like this one."""

    path_params = (PRODUCT_ID,)

    @operation(data=schemas.SimilarProducts, query=(SIMILAR_LIMIT,), errors=(503,))
    async def get(self, raw_id: str) -> None:
        """Products that look like this one

        The products whose images best match any of this product's images, best first,
        each with its `score`; the product itself and archived ones left out. For "you
        may also like": a product without images has none.
        """
        product_id = path_id(raw_id, "product")
        self.db.quick(require_product, self.org_id, product_id)
        found = await self.images.similar(self.org_id, product_id, self.arg(SIMILAR_LIMIT) or 10)
        self.reply({"products": found, "total": len(found)})


def _log_unkept(kept: Any) -> None:
    """A thumbnail that could not be kept is made again next time; say so only for
    a failure other than the write lock being taken."""
    exc = kept.exception()
    if exc is not None and not is_busy(exc):
        log.error("keeping a thumbnail failed", exc_info=exc)


class MediaFileHandler(PublicHandler):
    """GET /media/{token}.webp[?w=160|320|640]: a rendition or a thumbnail.

    Public (storefronts use these in `<img>`), so no key and no envelope; a file never
    changes under its URL, so clients may keep it for a year.
    """

    path_params = (PathParam("file", {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}\\.webp$"},
                             "The file name from a product's `images` or a media item's `url`"),)

    def compute_etag(self) -> str | None:
        return None  # the stored ETag is set explicitly

    def prepare(self) -> None:
        # Strict like the API: `?width=320` must not answer the full rendition as if
        # it were the thumbnail asked for.
        op = declared(type(self), self.request.method or "")
        if op is not None:
            try:
                check_query(self.request.query_arguments, op.query)
            except BadRequest as exc:
                raise tornado.web.HTTPError(400, exc.message) from None

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")

    @property
    def db(self) -> Database:
        return self._images.db

    @property
    def _images(self) -> Images:
        return self.application.images  # type: ignore[attr-defined, no-any-return]

    @operation(data=RawBody("image/webp", "The WebP rendition, or a thumbnail of that width"),
               query=(THUMBNAIL_WIDTH,), errors=(400, 404))
    async def get(self, path: str) -> None:
        """A public image file

        A product image's WebP rendition or a thumbnail, without key or envelope, for
        `<img>` tags. Strong `ETag`, cached for a year (`immutable`); errors are plain
        text.
        """
        matched = MEDIA_PATH.fullmatch(path)
        if matched is None:
            raise tornado.web.HTTPError(404)
        token = matched.group(1)
        kind = media.RENDITION
        width = self._width()
        if width is not None:
            kind = f"w{width}"
            if self.db.quick(media.file_etag, token, kind) is None:
                thumbnail = await self._make_thumbnail(token, kind, width)
                self._send(media.etag_of(thumbnail), "image/webp", thumbnail)
                return
        etag = self.db.quick(media.file_etag, token, kind)
        if etag is None:
            raise tornado.web.HTTPError(404)
        if self._not_modified(etag):
            return
        found = await self.db.read(media.read_file, token, kind)
        if found is None:  # deleted between the two reads
            raise tornado.web.HTTPError(404)
        content_type, _, data = found
        self.set_header("Content-Type", content_type)
        self.finish(data)

    head = get

    def _not_modified(self, etag: str) -> bool:
        """Set the caching headers; answer 304 (True) when the client has this file."""
        self.set_header("ETag", etag)
        self.set_header("Cache-Control", "public, max-age=31536000, immutable")
        if self.check_etag_header():
            self.set_status(304)
            self.finish()
            return True
        return False

    def _send(self, etag: str, content_type: str, data: bytes) -> None:
        if self._not_modified(etag):
            return
        self.set_header("Content-Type", content_type)
        self.finish(data)

    def _width(self) -> int | None:
        raw = self.get_query_argument("w", None)
        if raw is None:
            return None
        if raw not in THUMBNAIL_WIDTH.choices:
            raise tornado.web.HTTPError(400, f"w: must be one of {', '.join(THUMBNAIL_WIDTH.choices)}")
        return int(raw)

    async def _make_thumbnail(self, token: str, kind: str, width: int) -> bytes:
        """Make a thumbnail and keep it on the writer thread, without waiting: the
        request is answered from the bytes just made (a thumbnail is the same whenever
        it is made, so its ETag is too). If keeping it fails (the write lock stayed
        taken), the next request makes it again."""
        found = await self.db.read(media.read_file, token, media.RENDITION)
        if found is None:
            raise tornado.web.HTTPError(404)
        thumbnail: bytes = await self._images.compute(imaging.make_thumbnail, found[2], width)
        self.db.submit_write(media.save_thumbnail, token, kind, thumbnail).add_done_callback(_log_unkept)
        return thumbnail

