"""Migration 5: product media: metadata, and their bytes in a table of their own.

Shipped: frozen. Never edit this file; add the next migration instead.
"""

NAME = 'product media: metadata, and their bytes in a table of their own'

SQL = """
-- `token` is the media's public name in URLs: random, so that media of unpublished
-- products cannot be found by counting ids.
CREATE TABLE media (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organization(id),
    product_id INTEGER NOT NULL REFERENCES product(id) ON DELETE CASCADE,
    token TEXT NOT NULL UNIQUE,
    position INTEGER NOT NULL,
    alt_text TEXT NOT NULL DEFAULT '',
    source_url TEXT,
    format TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX media_product ON media(product_id, position);
CREATE INDEX media_org ON media(org_id, id);
-- The bytes: the original, the WebP rendition and thumbnails made on demand. Kept
-- apart so that reading products and media lists never pages through BLOBs.
CREATE TABLE media_file (
    id INTEGER PRIMARY KEY,
    media_id INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    content_type TEXT NOT NULL,
    etag TEXT NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (media_id, kind)
);
"""
