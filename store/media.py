"""Product media: rows in `media`, bytes in `media_file`, positions kept 0..n-1.

Media are public by an unguessable token (`/media/{token}.webp`), not by id, so that a
storefront can put them in `<img>` tags without a key while the media of unpublished
products cannot be found by counting. Every change moves the product's `updated_at`
in the same transaction: its JSON lists the images (see `store.cache`).

The product JSON is built by SQLite, so the absolute URLs come from an SQL function,
`media_url(token)`, that prefixes the public URL `configure()` was given.
"""

from __future__ import annotations

import secrets
from typing import Any, Callable, Iterator

from store.cache import product_json
from store.db import db, utcnow, writing
from store.errors import NotFound
from store.images import CONTENT_TYPES, Picture, etag_of

_public_url = ""

ORIGINAL = "original"
RENDITION = "webp"
COLUMNS = (
    "id, product_id, token, position, alt_text, source_url, format, width, height,"
    " bytes, created_at, updated_at"
)


def configure(public_url: str) -> None:
    """Set the base of media URLs; product JSON cached under another base is dropped."""
    global _public_url
    base = public_url.rstrip("/")
    if base != _public_url:
        _public_url = base
        product_json.clear()


@db.func("media_url")
def media_url(token: str) -> str:
    """The public URL of a media item's WebP rendition."""
    return f"{_public_url}/media/{token}.webp"


def original_url(product_id: int, media_id: int) -> str:
    """The original as uploaded, EXIF (camera, GPS) and all: behind the API key."""
    return f"{_public_url}/api/products/{product_id}/media/{media_id}/original"


def _to_api(row: tuple[Any, ...]) -> dict[str, Any]:
    (media_id, product_id, token, position, alt_text, source_url, fmt, width, height,
     size, created_at, updated_at) = row
    return {
        "id": media_id, "product_id": product_id, "url": media_url(token),
        "original_url": original_url(product_id, media_id), "alt_text": alt_text, "position": position,
        "width": width, "height": height, "format": fmt, "bytes": size,
        "source_url": source_url, "created_at": created_at, "updated_at": updated_at,
    }


def check_product(org_id: int, product_id: int) -> None:
    """404 unless the organization has this product (any status)."""
    row = db.execute_sql(
        "SELECT 1 FROM product WHERE id = ? AND org_id = ?", (product_id, org_id)
    ).fetchone()
    if row is None:
        raise NotFound(f"product {product_id} not found")


def _count(product_id: int) -> int:
    return int(db.execute_sql(
        "SELECT count(*) FROM media WHERE product_id = ?", (product_id,)
    ).fetchone()[0])


def _touch(product_id: int, now: str) -> None:
    """What the product shows changed: move its updated_at (cache key and sync)."""
    db.execute_sql("UPDATE product SET updated_at = ? WHERE id = ?", (now, product_id))


def list_media(org_id: int, product_id: int) -> list[dict[str, Any]]:
    """The product's media in position order."""
    check_product(org_id, product_id)
    return [_to_api(row) for row in db.execute_sql(
        f"SELECT {COLUMNS} FROM media WHERE product_id = ? AND org_id = ? ORDER BY position, id",
        (product_id, org_id),
    )]


def get_media(org_id: int, product_id: int, media_id: int) -> dict[str, Any]:
    check_product(org_id, product_id)
    row = db.execute_sql(
        f"SELECT {COLUMNS} FROM media WHERE id = ? AND product_id = ? AND org_id = ?",
        (media_id, product_id, org_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"media {media_id} not found")
    return _to_api(row)


def _insert_file(media_id: int, kind: str, content_type: str, data: bytes) -> None:
    db.execute_sql(
        "INSERT INTO media_file (media_id, kind, content_type, etag, data) VALUES (?, ?, ?, ?, ?)",
        (media_id, kind, content_type, etag_of(data), data),
    )


def add_media(
    org_id: int,
    product_id: int,
    picture: Picture,
    alt_text: str,
    position: int | None,
    source_url: str | None,
    also: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Store a checked picture at `position` (the end when None or past it); later
    items move one place on. `also(media_id)` runs inside the same transaction (the
    image index), so a failure there leaves nothing stored."""
    with writing():
        check_product(org_id, product_id)
        count = _count(product_id)
        place = count if position is None else min(position, count)
        db.execute_sql(
            "UPDATE media SET position = position + 1 WHERE product_id = ? AND position >= ?",
            (product_id, place),
        )
        now = utcnow()
        cursor = db.execute_sql(
            "INSERT INTO media (org_id, product_id, token, position, alt_text, source_url,"
            " format, width, height, bytes, sha256, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (org_id, product_id, secrets.token_urlsafe(18), place, alt_text, source_url,
             picture.format, picture.width, picture.height, len(picture.original),
             picture.sha256, now, now),
        )
        media_id = int(cursor.lastrowid)
        _insert_file(media_id, ORIGINAL, CONTENT_TYPES[picture.format], picture.original)
        _insert_file(media_id, RENDITION, CONTENT_TYPES["webp"], picture.rendition)
        if also is not None:
            also(media_id)
        _touch(product_id, now)
        return get_media(org_id, product_id, media_id)


def update_media(org_id: int, product_id: int, media_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    """Change alt_text and/or position; moving an item shifts the ones between."""
    with writing():
        current = get_media(org_id, product_id, media_id)
        now = utcnow()
        if "position" in fields:
            old = current["position"]
            new = min(fields["position"], _count(product_id) - 1)
            if new < old:
                db.execute_sql(
                    "UPDATE media SET position = position + 1"
                    " WHERE product_id = ? AND position >= ? AND position < ?",
                    (product_id, new, old),
                )
            elif new > old:
                db.execute_sql(
                    "UPDATE media SET position = position - 1"
                    " WHERE product_id = ? AND position > ? AND position <= ?",
                    (product_id, old, new),
                )
            db.execute_sql("UPDATE media SET position = ? WHERE id = ?", (new, media_id))
        if "alt_text" in fields:
            db.execute_sql("UPDATE media SET alt_text = ? WHERE id = ?", (fields["alt_text"], media_id))
        db.execute_sql("UPDATE media SET updated_at = ? WHERE id = ?", (now, media_id))
        _touch(product_id, now)
        return get_media(org_id, product_id, media_id)


def delete_media(
    org_id: int, product_id: int, media_id: int, also: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Remove a media item and its bytes; the items after it close up. Answers what
    was removed. `also(media_id)` runs in the same transaction (the image index)."""
    with writing():
        current = get_media(org_id, product_id, media_id)
        if also is not None:
            also(media_id)
        db.execute_sql("DELETE FROM media_file WHERE media_id = ?", (media_id,))
        db.execute_sql("DELETE FROM media WHERE id = ?", (media_id,))
        # Variants that showed it lose their image (their product is touched below).
        db.execute_sql("UPDATE product_variant SET media_id = NULL, updated_at = ? WHERE media_id = ?",
                       (utcnow(), media_id))
        db.execute_sql(
            "UPDATE media SET position = position - 1 WHERE product_id = ? AND position > ?",
            (product_id, current["position"]),
        )
        _touch(product_id, utcnow())
    return current


# ---- public files ------------------------------------------------------------------------

def file_etag(token: str, kind: str) -> str | None:
    """The ETag of a stored file, without reading its bytes (for If-None-Match)."""
    row = db.execute_sql(
        "SELECT f.etag FROM media m JOIN media_file f ON f.media_id = m.id"
        " WHERE m.token = ? AND f.kind = ?", (token, kind),
    ).fetchone()
    return None if row is None else str(row[0])


def read_file(token: str, kind: str) -> tuple[str, str, bytes] | None:
    """(content type, ETag, bytes) of a stored file, or None."""
    row = db.execute_sql(
        "SELECT f.content_type, f.etag, f.data FROM media m JOIN media_file f ON f.media_id = m.id"
        " WHERE m.token = ? AND f.kind = ?", (token, kind),
    ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]), bytes(row[2]))


def read_original(org_id: int, product_id: int, media_id: int) -> tuple[str, str, bytes]:
    """(content type, ETag, bytes) of the organization's media item's original."""
    row = db.execute_sql(
        "SELECT f.content_type, f.etag, f.data FROM media m JOIN media_file f ON f.media_id = m.id"
        " WHERE m.id = ? AND m.product_id = ? AND m.org_id = ? AND f.kind = ?",
        (media_id, product_id, org_id, ORIGINAL),
    ).fetchone()
    if row is None:
        check_product(org_id, product_id)
        raise NotFound(f"media {media_id} not found")
    return str(row[0]), str(row[1]), bytes(row[2])


def save_thumbnail(token: str, kind: str, data: bytes) -> None:
    """Keep a thumbnail made on demand; a concurrent request may have made it first."""
    with writing():
        row = db.execute_sql("SELECT id FROM media WHERE token = ?", (token,)).fetchone()
        if row is None:  # deleted meanwhile
            return
        db.execute_sql(
            "INSERT INTO media_file (media_id, kind, content_type, etag, data)"
            " VALUES (?, ?, 'image/webp', ?, ?) ON CONFLICT (media_id, kind) DO NOTHING",
            (row[0], kind, etag_of(data), data),
        )


# ---- the image index -----------------------------------------------------------------------

def all_originals(batch: int) -> Iterator[list[tuple[int, int, int, bytes]]]:
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


def existing_ids(media_ids: list[int]) -> set[int]:
    """Those of `media_ids` still stored."""
    if not media_ids:
        return set()
    marks = ",".join("?" * len(media_ids))
    return {int(row[0]) for row in db.execute_sql(
        f"SELECT id FROM media WHERE id IN ({marks})", media_ids)}


def count_media() -> int:
    return int(db.execute_sql("SELECT count(*) FROM media").fetchone()[0])
