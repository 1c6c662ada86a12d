"""Migration 14: the image index searched in process (faiss), not in sqlite-vec.

Embeddings are kept as float16 from now on (2 bytes per dimension; those written
before stay int8 until `micropim reindex`, and are read as such: a vector's length
says which). The SimHash codes of `image_vec` are no longer searched: the table and
its trigger go. Two tables come:

- `image_change`: every embedding written or removed, by any process (triggers), so
  a running server's in-memory index follows what `micropim reindex`, an import or
  another server writes; the server deletes the entries it has applied.
- `image_index_state`: per organization, the cells' centroids and training figures of
  its index, so a start rebuilds the index without k-means.

Shipped: frozen. Never edit this file; add the next migration instead.
"""

NAME = "image index: float16 embeddings, a change log, stored centroids; no SimHash codes"

SQL = """
DROP TRIGGER IF EXISTS image_embedding_ad;
DROP TABLE IF EXISTS image_vec;
CREATE TABLE image_change (
    seq INTEGER PRIMARY KEY,
    media_id INTEGER NOT NULL,
    removed INTEGER NOT NULL
);
CREATE TRIGGER image_change_ai AFTER INSERT ON image_embedding BEGIN
    INSERT INTO image_change (media_id, removed) VALUES (new.media_id, 0);
END;
CREATE TRIGGER image_change_au AFTER UPDATE ON image_embedding BEGIN
    INSERT INTO image_change (media_id, removed) VALUES (new.media_id, 0);
END;
CREATE TRIGGER image_change_ad AFTER DELETE ON image_embedding BEGIN
    INSERT INTO image_change (media_id, removed) VALUES (old.media_id, 1);
END;
CREATE TABLE image_index_state (
    org_id INTEGER PRIMARY KEY REFERENCES organization(id),
    state BLOB NOT NULL,
    updated_at TEXT NOT NULL
);
"""
