"""Migration 10: the image index's coarse-code table, made once here.

Until now `image_vec` (sqlite-vec) and its delete trigger were made by the first write
of an embedding. Its shape does not depend on the model (the codes are 2560 bits
whatever the embedding's size), so it is made here, where the schema is made; a file
that already has them keeps them.

Shipped: frozen. Never edit this file; add the next migration instead.
"""

NAME = "image index: the coarse-code table made by a migration, not by the first media write"

SQL = """
CREATE VIRTUAL TABLE IF NOT EXISTS image_vec USING vec0(
    org_id INTEGER PARTITION KEY, embedding BIT[2560], chunk_size=4096);
-- Deleting an embedding (directly, or by cascade from its product) removes its code too.
CREATE TRIGGER IF NOT EXISTS image_embedding_ad AFTER DELETE ON image_embedding BEGIN
    DELETE FROM image_vec WHERE rowid = old.media_id;
END;
"""
