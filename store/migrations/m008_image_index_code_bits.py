"""Migration 8: image index: the bit length of its coarse codes.

Recorded per index, so that an index built with another code length keeps being
searched with its own (2560 bits, the first length used). The table is made again
rather than altered: a file migrated by a development build (3d4df82), whose migration
6 made the column, takes this one too.

Shipped: frozen. Never edit this file; add the next migration instead.
"""

NAME = 'image index: the bit length of its coarse codes'

SQL = """
CREATE TABLE image_index_8 (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    dim INTEGER NOT NULL,
    digest TEXT NOT NULL,
    created_at TEXT NOT NULL,
    code_bits INTEGER NOT NULL DEFAULT 2560
);
INSERT INTO image_index_8 (id, dim, digest, created_at)
    SELECT id, dim, digest, created_at FROM image_index;
DROP TABLE image_index;
ALTER TABLE image_index_8 RENAME TO image_index;
"""
