"""Product media: rows in `media`, bytes in `media_file`, positions kept 0..n-1.

Media are public by an unguessable token (`/media/{token}.webp`), not by id, so that a
storefront can put them in `<img>` tags without a key while the media of unpublished
products cannot be found by counting. Every change moves the product's `updated_at`
in the same transaction: its JSON lists the images (see `store.cache`).

The bytes arrive checked and rendered (`search.imaging` makes `MediaFiles`); adding an
image with its embedding is composed above the store (`search.pipeline`), in one
write transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Iterator

from store.db import Database
from store.errors import NotFound
from store.models import Media, column_names
from store.ordering import Siblings, clamp
from store.products.read import require_product
from store.values import utcnow

ORIGINAL = "original"
RENDITION = "webp"
CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}
FIELDS = column_names(Media, without=("org_id", "sha256"))
COLUMNS = ", ".join(FIELDS)


@dataclass(frozen=True)
class MediaFiles:
    """A checked original and its WebP rendition, ready to store."""

    original: bytes
    format: str  # jpeg, png, webp, gif
    width: int  # as displayed: EXIF orientation applied
    height: int
    rendition: bytes
    sha256: str  # of the original


def etag_of(data: bytes) -> str:
    """A strong ETag: the content's hash, so equal bytes always carry the same tag."""
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def _siblings(product_id: int) -> Siblings:
    return Siblings("media", "product_id = ?", (product_id,))


def _to_api(db: Database, row: tuple[Any, ...]) -> dict[str, Any]:
    shown = dict(zip(FIELDS, row))
    return {
        "id": shown["id"], "product_id": shown["product_id"], "url": db.urls.rendition(shown["token"]),
        "original_url": db.urls.original(shown["product_id"], shown["id"]),
        "alt_text": shown["alt_text"], "position": shown["position"],
        "width": shown["width"], "height": shown["height"], "format": shown["format"],
        "bytes": shown["bytes"], "source_url": shown["source_url"],
        "created_at": shown["created_at"], "updated_at": shown["updated_at"],
    }


def _touch(db: Database, product_id: int, now: str) -> None:
    """What the product shows changed: move its updated_at (cache key and sync)."""
    db.execute_sql("UPDATE product SET updated_at = ? WHERE id = ?", (now, product_id))


def list_media(db: Database, org_id: int, product_id: int) -> list[dict[str, Any]]:
    """The product's media in position order."""
    require_product(db, org_id, product_id)
    return [_to_api(db, row) for row in db.execute_sql(
        f"SELECT {COLUMNS} FROM media WHERE product_id = ? AND org_id = ? ORDER BY position, id",
        (product_id, org_id),
    )]


def get_media(db: Database, org_id: int, product_id: int, media_id: int) -> dict[str, Any]:
    require_product(db, org_id, product_id)
    row = db.execute_sql(
        f"SELECT {COLUMNS} FROM media WHERE id = ? AND product_id = ? AND org_id = ?",
        (media_id, product_id, org_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"media {media_id} not found")
    return _to_api(db, row)


def media_data(db: Database, org_id: int, media_id: int, product_id: int | None) -> dict[str, Any]:
    """A media event's data: the item as the API shows it."""
    assert product_id is not None
    return get_media(db, org_id, product_id, media_id)


def _insert_file(db: Database, media_id: int, kind: str, content_type: str, data: bytes) -> None:
    db.execute_sql(
        "INSERT INTO media_file (media_id, kind, content_type, etag, data) VALUES (?, ?, ?, ?, ?)",
        (media_id, kind, content_type, etag_of(data), data),
    )


def add_media(db: Database, org_id: int, product_id: int, files: MediaFiles, alt_text: str,
              position: int | None, source_url: str | None) -> int:
    """Store checked files at `position` (the end when None or past it); later items
    move one place on. Answers the new media id; 404 unless the organization has the
    product (the insert itself checks: callers look the product up once, before the
    slow work, and it cannot leave the organization meanwhile)."""
    siblings = _siblings(product_id)
    place = clamp(position, siblings.count(db))
    siblings.open_at(db, place)
    now = utcnow()
    cursor = db.execute_sql(
        "INSERT INTO media (org_id, product_id, token, position, alt_text, source_url,"
        " format, width, height, bytes, sha256, created_at, updated_at)"
        " SELECT ?, id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM product WHERE id = ? AND org_id = ?",
        (org_id, secrets.token_urlsafe(18), place, alt_text, source_url, files.format,
         files.width, files.height, len(files.original), files.sha256, now, now, product_id, org_id),
    )
    if cursor.rowcount != 1:
        raise NotFound(f"product {product_id} not found")
    media_id = int(cursor.lastrowid)
    _insert_file(db, media_id, ORIGINAL, CONTENT_TYPES[files.format], files.original)
    _insert_file(db, media_id, RENDITION, CONTENT_TYPES["webp"], files.rendition)
    _touch(db, product_id, now)
    db.changed(org_id, "media.created", media_id, product_id=product_id, describe=media_data)
    return media_id


def update_media(db: Database, org_id: int, product_id: int, media_id: int,
                 fields: dict[str, Any]) -> dict[str, Any]:
    """Change alt_text and/or position; moving an item shifts the ones between."""
    current = get_media(db, org_id, product_id, media_id)
    now = utcnow()
    if any(current[name] != value for name, value in fields.items()):
        db.changed(org_id, "media.updated", media_id, product_id=product_id, describe=media_data)
    if "position" in fields:
        siblings = _siblings(product_id)
        new = clamp(fields["position"], siblings.count(db) - 1)
        siblings.move(db, current["position"], new)
        db.execute_sql("UPDATE media SET position = ? WHERE id = ?", (new, media_id))
    if "alt_text" in fields:
        db.execute_sql("UPDATE media SET alt_text = ? WHERE id = ?", (fields["alt_text"], media_id))
    db.execute_sql("UPDATE media SET updated_at = ? WHERE id = ?", (now, media_id))
    _touch(db, product_id, now)
    return get_media(db, org_id, product_id, media_id)


def delete_media(db: Database, org_id: int, product_id: int, media_id: int) -> dict[str, Any]:
    """Remove a media item, its bytes and its embedding; the items after it close up.
    Answers what was removed."""
    current = get_media(db, org_id, product_id, media_id)
    # The embedding's coarse code goes with it (trigger, migration 10).
    db.execute_sql("DELETE FROM image_embedding WHERE media_id = ?", (media_id,))
    db.execute_sql("DELETE FROM media_file WHERE media_id = ?", (media_id,))
    db.execute_sql("DELETE FROM media WHERE id = ?", (media_id,))
    # Variants that showed it lose their image (their product is touched below).
    db.execute_sql("UPDATE product_variant SET media_id = NULL, updated_at = ? WHERE media_id = ?",
                   (utcnow(), media_id))
    _siblings(product_id).close_at(db, current["position"])
    _touch(db, product_id, utcnow())
    db.changed(org_id, "media.deleted", media_id, product_id=product_id, data=current)
    return current


# ---- public files ------------------------------------------------------------------------

def file_etag(db: Database, token: str, kind: str) -> str | None:
    """The ETag of a stored file, without reading its bytes (for If-None-Match)."""
    row = db.execute_sql(
        "SELECT f.etag FROM media m JOIN media_file f ON f.media_id = m.id"
        " WHERE m.token = ? AND f.kind = ?", (token, kind),
    ).fetchone()
    return None if row is None else str(row[0])


def read_file(db: Database, token: str, kind: str) -> tuple[str, str, bytes] | None:
    """(content type, ETag, bytes) of a stored file, or None."""
    row = db.execute_sql(
        "SELECT f.content_type, f.etag, f.data FROM media m JOIN media_file f ON f.media_id = m.id"
        " WHERE m.token = ? AND f.kind = ?", (token, kind),
    ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]), bytes(row[2]))


def read_original(db: Database, org_id: int, product_id: int, media_id: int) -> tuple[str, str, bytes]:
    """(content type, ETag, bytes) of the organization's media item's original."""
    row = db.execute_sql(
        "SELECT f.content_type, f.etag, f.data FROM media m JOIN media_file f ON f.media_id = m.id"
        " WHERE m.id = ? AND m.product_id = ? AND m.org_id = ? AND f.kind = ?",
        (media_id, product_id, org_id, ORIGINAL),
    ).fetchone()
    if row is None:
        require_product(db, org_id, product_id)
        raise NotFound(f"media {media_id} not found")
    return str(row[0]), str(row[1]), bytes(row[2])


def save_thumbnail(db: Database, token: str, kind: str, data: bytes) -> None:
    """Keep a thumbnail made on demand; a concurrent request may have made it first."""
    row = db.execute_sql("SELECT id FROM media WHERE token = ?", (token,)).fetchone()
    if row is None:  # deleted meanwhile
        return
    db.execute_sql(
        "INSERT INTO media_file (media_id, kind, content_type, etag, data)"
        " VALUES (?, ?, 'image/webp', ?, ?) ON CONFLICT (media_id, kind) DO NOTHING",
        (row[0], kind, etag_of(data), data),
    )


# ---- what rebuilding the image index reads -----------------------------------------------------

def all_originals(db: Database, batch: int) -> Iterator[list[tuple[int, int, int, bytes]]]:
    """(org_id, product_id, media_id, original bytes) of every media item, in id
    order and batches, each batch its own short read (for rebuilding the image index)."""
    last = 0
    while True:
        rows = db.execute_sql(
            "SELECT m.org_id, m.product_id, m.id, f.data FROM media m"
            " JOIN media_file f ON f.media_id = m.id AND f.kind = ?"
            " WHERE m.id > ? ORDER BY m.id LIMIT ?", (ORIGINAL, last, batch),
        ).fetchall()
        if not rows:
            return
        last = rows[-1][2]
        yield [(int(o), int(p), int(m), bytes(d)) for o, p, m, d in rows]


def existing_ids(db: Database, media_ids: list[int]) -> set[int]:
    """Those of `media_ids` still stored."""
    if not media_ids:
        return set()
    marks = ",".join("?" * len(media_ids))
    return {int(row[0]) for row in db.execute_sql(
        f"SELECT id FROM media WHERE id IN ({marks})", media_ids)}


def count_media(db: Database) -> int:
    return int(db.execute_sql("SELECT count(*) FROM media").fetchone()[0])
