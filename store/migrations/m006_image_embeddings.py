"""Migration 6: image embeddings: the model the index holds, one re-rank vector per media item.

`image_index` records the model whose embeddings the index holds (one row, absent until
the first embedding); `image_embedding` holds per media item its product and the
embedding as int8. The sqlite-vec table of coarse codes came later (migration 10).

Shipped: frozen. Never edit this file; add the next migration instead.
"""

NAME = 'image embeddings: the model the index holds, one re-rank vector per media item'

SQL = """
-- The model whose embeddings the index holds (one row, absent until the first
-- embedding). The sqlite-vec table `image_vec` is created by search/vectors.py for
-- that model's dimension, since no migration can know it.
CREATE TABLE image_index (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    dim INTEGER NOT NULL,
    digest TEXT NOT NULL,
    created_at TEXT NOT NULL
);
-- Per media item: its product and the embedding as int8 (largest component 127),
-- the exact copy the coarse bit-vector search is re-ranked with.
CREATE TABLE image_embedding (
    media_id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organization(id),
    product_id INTEGER NOT NULL REFERENCES product(id) ON DELETE CASCADE,
    vector BLOB NOT NULL
);
CREATE INDEX image_embedding_product ON image_embedding(product_id);
"""
