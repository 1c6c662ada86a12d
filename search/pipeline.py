"""Images in and out of the catalog: the work that needs both the store and the image model.

Adding an image runs in three steps, so that nothing slow holds the event loop or the
write lock: the bytes are fetched (async client, SSRF rules) or taken from an upload;
then, on the compute threads, they are decoded, rendered to WebP and embedded; then
one write transaction stores the media row, its files and its embedding, or nothing
(`store_image`). The media API, the demo seeder and `micropim reindex` all go through
here (`Images.add_image`, `store_image`, `reindex`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import numpy as np
from PIL import Image

from search import imaging, vectors
from search.fetch import Fetcher
from search.vectors import ImageIndex, IndexLoading
from search.model import ImageModels
from store import media
from store.db import Database
from store.errors import ApiError, BadRequest
from store.media import MediaFiles
from store.products.read import products_by_id

log = logging.getLogger("micropim.search")

# The query image is decoded at reduced size when it is a JPEG (Image.draft): the model
# looks at 224 px, so more is decoding work thrown away.
QUERY_DECODE_SIDE = 512
REINDEX_BATCH = 32
# An image of another product scoring this much against a new one is "near-identical".
# Measured (bench/duplicates.py): copies of one photo (re-encoded, cropped to 90 %,
# padded, halved) score 0.83-1.0, median 0.95-1.0; the demo's closest look-alikes (same
# kind and colour, another pattern) reach 0.98. At 0.96 about 8 copies in 10 are caught
# and 1 photo in 125 of the demo names a look-alike; of varied photos, none.
NEAR_DUPLICATE = 0.96
Result = TypeVar("Result")


def stale(exc: vectors.StaleIndex | IndexLoading) -> ApiError:
    """The index holds another model's embeddings (the operator must reindex), or is
    still loading."""
    return ApiError(503, f"image search unavailable: {exc}")


def store_image(db: Database, org_id: int, product_id: int, files: MediaFiles, vector: np.ndarray,
                digest: str, alt_text: str = "", position: int | None = None,
                source_url: str | None = None) -> dict[str, Any]:
    """Store a checked image and its embedding (in the caller's write transaction);
    answers the media item. 404 unless the organization has the product; StaleIndex
    when the index holds another model's embeddings (then nothing is kept)."""
    media_id = media.add_media(db, org_id, product_id, files, alt_text, position, source_url)
    vectors.add_embedding(db, org_id, product_id, media_id, vector, digest)
    return media.get_media(db, org_id, product_id, media_id)


class Images:
    """The image side of one application: its database, its image model, how it
    fetches URLs, and the threads that decode and embed (CPU work never runs on the
    event loop)."""

    def __init__(self, db: Database, models: ImageModels, fetcher: Fetcher, threads: int = 2) -> None:
        self.db = db
        self.models = models
        self.fetcher = fetcher
        self.index = ImageIndex(db)
        self._compute = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="micropim-image")

    async def compute(self, fn: Callable[..., Result], *args: Any) -> Result:
        """`fn(*args)` on the compute threads."""
        return await asyncio.get_running_loop().run_in_executor(self._compute, fn, *args)

    def close(self) -> None:
        self._compute.shutdown(wait=True)

    def _prepare(self, data: bytes, field: str) -> tuple[MediaFiles, np.ndarray, str]:
        files, upright = imaging.prepare_upright(data, field)
        model = self.models.get()
        return files, model.embed([upright])[0], model.digest

    async def add_image(self, org_id: int, product_id: int, *, data: bytes | None = None,
                        url: str | None = None, alt_text: str = "", position: int | None = None) -> dict[str, Any]:
        """Add an image to a product, from uploaded `data` or fetched from `url`;
        answers the media item with `near_duplicates`: other products with a
        near-identical image. A 400 names `file` or `file_url`."""
        if url is not None:
            field = "file_url"
            data = await self.fetcher.fetch(url, field=field, max_bytes=imaging.MAX_BYTES)
        else:
            field = "file"
        assert data is not None
        files, vector, digest = await self.compute(self._prepare, data, field)
        try:
            # On the writer thread: up to 20 MB of BLOBs written and synced.
            created = await self.db.write(store_image, org_id, product_id, files, vector, digest,
                                          alt_text, position, url, long=True)
        except vectors.StaleIndex as exc:
            raise stale(exc) from None
        created["near_duplicates"] = await self.compute(self._near, org_id, product_id, vector, digest)
        return created

    def _near(self, org_id: int, product_id: int, vector: np.ndarray, digest: str) -> list[dict[str, Any]]:
        try:
            found = self.index.near(org_id, vector, digest, NEAR_DUPLICATE, product_id)
        except (vectors.StaleIndex, IndexLoading):
            return []  # the image is stored; its look-alikes are told another time
        return self._scored(org_id, found)

    def _scored(self, org_id: int, found: list[tuple[int, float]]) -> list[dict[str, Any]]:
        scores = dict(found)
        shown = products_by_id(self.db, org_id, [product_id for product_id, _ in found])
        return [{**product, "score": scores[product["id"]]} for product in shown]

    def _search(self, org_id: int, data: bytes, limit: int) -> list[dict[str, Any]]:
        image = imaging.upright_image(data, "image", QUERY_DECODE_SIDE)
        model = self.models.get()
        vector = model.embed([image])[0]
        try:
            found = self.index.search_products(org_id, vector, limit, model.digest)
        except (vectors.StaleIndex, IndexLoading) as exc:
            raise stale(exc) from None
        return self._scored(org_id, found)

    async def search(self, org_id: int, data: bytes, limit: int) -> list[dict[str, Any]]:
        """The products whose images best match the photo `data`, best first, each with
        its `score`: embedded and searched on the compute threads."""
        return await self.compute(self._search, org_id, data, limit)

    def _similar(self, org_id: int, product_id: int, limit: int) -> list[dict[str, Any]]:
        try:
            found = self.index.similar(org_id, product_id, limit)
        except (vectors.StaleIndex, IndexLoading) as exc:
            raise stale(exc) from None
        return self._scored(org_id, found)

    async def similar(self, org_id: int, product_id: int, limit: int) -> list[dict[str, Any]]:
        """The products that look most like this one (its best image against theirs),
        itself and archived products left out."""
        return await self.compute(self._similar, org_id, product_id, limit)


# ---- rebuilding the index ---------------------------------------------------------------

@dataclass
class Outcome:
    indexed: int = 0
    skipped: int = 0  # stored bytes that no longer decode, or media deleted meanwhile


def reindex(db: Database, models: ImageModels,
            progress: Callable[[int, int], None] = lambda done, total: None) -> Outcome:
    """Reset the index for the model and embed every stored original again;
    `progress(done, total)` after each batch.

    After a model change the index refuses the new model's vectors (`StaleIndex`), so
    the rebuild starts by resetting it, then embeds in batches, each written in its own
    short transaction, so that a running server keeps answering (its image search sees
    the index fill up) and can still add media."""
    model = models.get()
    total = media.count_media(db)
    with db.writing():
        vectors.reset_index(db, model.dim, model.digest)
    outcome = Outcome()
    done = 0
    progress(0, total)
    for batch in media.all_originals(db, REINDEX_BATCH):
        decoded: list[tuple[int, int, int, Image.Image]] = []
        for org_id, product_id, media_id, data in batch:
            try:
                decoded.append((org_id, product_id, media_id, imaging.upright_image(data, "media")))
            except BadRequest as exc:  # checked when stored; a damaged file is reported
                log.warning("media %d not indexed: %s", media_id, exc.message)
                outcome.skipped += 1
        embeddings = model.embed([image for *_, image in decoded])
        with db.writing():
            alive = media.existing_ids(db, [media_id for _, _, media_id, _ in decoded])
            for (org_id, product_id, media_id, _), vector in zip(decoded, embeddings):
                if media_id in alive:
                    vectors.add_embedding(db, org_id, product_id, media_id, vector, model.digest)
                    outcome.indexed += 1
                else:
                    outcome.skipped += 1
        done += len(batch)
        progress(done, max(total, done))
    return outcome
