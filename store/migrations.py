"""Numbered schema migrations, applied in order at start-up.

Each migration is plain SQL run in one transaction with its version recorded, so an
old database file is brought up to date the first time a new version opens it. Never
edit a migration that has shipped; add the next number.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("micropim.store")

# The FTS row for a product as migration 1 indexed it (migration 4 adds translations:
# TEXT_INDEX_VALUES). Organisation and status are indexed as tokens so that a
# search is scoped and filtered inside the full-text index itself.
FTS_COLUMNS = "rowid, org, status, sku, name, description"
FTS_VALUES = (
    "{t}.id, 'o' || {t}.org_id, replace({t}.status, '_', ''), "
    "{t}.sku || ' ' || coalesce({t}.ean, ''), {t}.name, "
    "{t}.description || ' ' || {t}.short_description"
)

FTS_TRIGGERS = f"""
CREATE TRIGGER product_fts_ai AFTER INSERT ON product BEGIN
    INSERT INTO product_fts({FTS_COLUMNS}) VALUES ({FTS_VALUES.format(t="new")});
END;
CREATE TRIGGER product_fts_au
AFTER UPDATE OF org_id, status, sku, ean, name, description, short_description ON product
BEGIN
    DELETE FROM product_fts WHERE rowid = old.id;
    INSERT INTO product_fts({FTS_COLUMNS}) VALUES ({FTS_VALUES.format(t="new")});
END;
CREATE TRIGGER product_fts_ad AFTER DELETE ON product BEGIN
    DELETE FROM product_fts WHERE rowid = old.id;
END;
"""

FTS_DROP_TRIGGERS = """
DROP TRIGGER product_fts_ai;
DROP TRIGGER product_fts_au;
DROP TRIGGER product_fts_ad;
"""

COUNT_TRIGGERS = """
CREATE TRIGGER product_count_ai AFTER INSERT ON product BEGIN
    INSERT INTO product_status_count (org_id, status, n) VALUES (new.org_id, new.status, 1)
    ON CONFLICT (org_id, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER product_count_au AFTER UPDATE OF org_id, status ON product BEGIN
    UPDATE product_status_count SET n = n - 1
    WHERE org_id = old.org_id AND status = old.status;
    INSERT INTO product_status_count (org_id, status, n) VALUES (new.org_id, new.status, 1)
    ON CONFLICT (org_id, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER product_count_ad AFTER DELETE ON product BEGIN
    UPDATE product_status_count SET n = n - 1
    WHERE org_id = old.org_id AND status = old.status;
END;
"""

COUNT_DROP_TRIGGERS = """
DROP TRIGGER product_count_ai;
DROP TRIGGER product_count_au;
DROP TRIGGER product_count_ad;
"""

# A product's stock is the sum of its warehouse levels.
STOCK_SUM = """
    UPDATE product SET stock = (SELECT coalesce(sum(quantity), 0) FROM stock_level
                                WHERE product_id = {row}.product_id)
    WHERE id = {row}.product_id;"""
STOCK_TRIGGERS = f"""
CREATE TRIGGER stock_level_ai AFTER INSERT ON stock_level BEGIN{STOCK_SUM.format(row="new")}
END;
CREATE TRIGGER stock_level_au AFTER UPDATE ON stock_level BEGIN{STOCK_SUM.format(row="new")}
END;
CREATE TRIGGER stock_level_ad AFTER DELETE ON stock_level BEGIN{STOCK_SUM.format(row="old")}
END;
"""

STOCK_DROP_TRIGGERS = """
DROP TRIGGER stock_level_ai;
DROP TRIGGER stock_level_au;
DROP TRIGGER stock_level_ad;
"""

# A variable product's stock is the sum of its enabled variants' stock_quantity. Such a
# product has no warehouse levels (store.products refuses them), so the stock_level
# triggers above never overwrite it.
VARIANT_STOCK_SUM = """
    UPDATE product SET stock = (SELECT coalesce(sum(stock_quantity), 0) FROM product_variant
                                WHERE product_id = {row}.product_id AND is_enabled)
    WHERE id = {row}.product_id;"""
VARIANT_STOCK_TRIGGERS = f"""
CREATE TRIGGER variant_stock_ai AFTER INSERT ON product_variant BEGIN{VARIANT_STOCK_SUM.format(row="new")}
END;
CREATE TRIGGER variant_stock_au AFTER UPDATE OF stock_quantity, is_enabled, product_id ON product_variant
BEGIN{VARIANT_STOCK_SUM.format(row="old")}{VARIANT_STOCK_SUM.format(row="new")}
END;
CREATE TRIGGER variant_stock_ad AFTER DELETE ON product_variant BEGIN{VARIANT_STOCK_SUM.format(row="old")}

END;
"""

# Migration 4: the text index also holds every translation of a product, in the
# same columns as the default text (translated names in `name`, translated
# descriptions in `description`), so a search in any language finds it with the same
# column filters and bm25 weights. The FTS5 table keeps its shape, so the migration
# replaces only the triggers: no index rebuild at start-up (26 s at 1M rows), and the
# rows already indexed are exactly what the new expression gives while no product has
# a translation yet (the table of translations is created empty in the same migration).
_TRANSLATED = "(SELECT group_concat({expr}, ' ') FROM product_translation x WHERE x.product_id = {t}.id)"
TEXT_INDEX_VALUES = (
    "{t}.id, 'o' || {t}.org_id, replace({t}.status, '_', ''), "
    "{t}.sku || ' ' || coalesce({t}.ean, ''), "
    "{t}.name || ' ' || coalesce(" + _TRANSLATED.format(expr="x.name", t="{t}") + ", ''), "
    "{t}.description || ' ' || {t}.short_description || ' ' || coalesce("
    + _TRANSLATED.format(
        expr="coalesce(x.description, '') || ' ' || coalesce(x.short_description, '')", t="{t}"
    )
    + ", '')"
)

TEXT_INDEX_TRIGGERS = f"""
CREATE TRIGGER product_fts_ai AFTER INSERT ON product BEGIN
    INSERT INTO product_fts({FTS_COLUMNS}) VALUES ({TEXT_INDEX_VALUES.format(t="new")});
END;
CREATE TRIGGER product_fts_au
AFTER UPDATE OF org_id, status, sku, ean, name, description, short_description ON product
BEGIN
    DELETE FROM product_fts WHERE rowid = old.id;
    INSERT INTO product_fts({FTS_COLUMNS}) VALUES ({TEXT_INDEX_VALUES.format(t="new")});
END;
CREATE TRIGGER product_fts_ad AFTER DELETE ON product BEGIN
    DELETE FROM product_fts WHERE rowid = old.id;
END;
"""

# A translation written or removed re-indexes its product (read back from `product`,
# so the row is whole: default text and every translation).
_REINDEX = """
    DELETE FROM product_fts WHERE rowid = {row}.product_id;
    INSERT INTO product_fts({columns})
    SELECT {values} FROM product p WHERE p.id = {row}.product_id;"""
TRANSLATION_TRIGGERS = f"""
CREATE TRIGGER product_translation_fts_ai AFTER INSERT ON product_translation BEGIN{
    _REINDEX.format(row="new", columns=FTS_COLUMNS, values=TEXT_INDEX_VALUES.format(t="p"))}
END;
CREATE TRIGGER product_translation_fts_au
AFTER UPDATE OF name, description, short_description ON product_translation BEGIN{
    _REINDEX.format(row="new", columns=FTS_COLUMNS, values=TEXT_INDEX_VALUES.format(t="p"))}
END;
CREATE TRIGGER product_translation_fts_ad AFTER DELETE ON product_translation BEGIN{
    _REINDEX.format(row="old", columns=FTS_COLUMNS, values=TEXT_INDEX_VALUES.format(t="p"))}
END;
"""

# Triggers that bulk_import() drops for a load and rebuilds the effect of once.
ROW_TRIGGERS = TEXT_INDEX_TRIGGERS + COUNT_TRIGGERS + STOCK_TRIGGERS
ROW_DROP_TRIGGERS = FTS_DROP_TRIGGERS + COUNT_DROP_TRIGGERS + STOCK_DROP_TRIGGERS

# Migration 7: a category's `product_count` (its own products, archived left out) kept
# by triggers, so that the tree and lists read one column instead of counting links.
# Links are only ever inserted and deleted. A product's archiving counts too, and so does
# its deletion: counted before the row goes, because the links that then cascade away
# can no longer look up the product's status.
CATEGORY_COUNT_TRIGGERS = """
CREATE TRIGGER category_count_link_ai AFTER INSERT ON product_category
WHEN (SELECT status FROM product WHERE id = new.product_id) != 'archived'
BEGIN
    UPDATE category SET product_count = product_count + 1 WHERE id = new.category_id;
END;
CREATE TRIGGER category_count_link_ad AFTER DELETE ON product_category
WHEN (SELECT status FROM product WHERE id = old.product_id) != 'archived'
BEGIN
    UPDATE category SET product_count = product_count - 1 WHERE id = old.category_id;
END;
CREATE TRIGGER category_count_status_au AFTER UPDATE OF status ON product
WHEN (old.status = 'archived') != (new.status = 'archived')
BEGIN
    UPDATE category
    SET product_count = product_count + CASE WHEN new.status = 'archived' THEN -1 ELSE 1 END
    WHERE id IN (SELECT category_id FROM product_category WHERE product_id = new.id);
END;
CREATE TRIGGER category_count_product_bd BEFORE DELETE ON product
WHEN old.status != 'archived'
BEGIN
    UPDATE category SET product_count = product_count - 1
    WHERE id IN (SELECT category_id FROM product_category WHERE product_id = old.id);
END;
"""

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "organizations, keys, reference data, products, stock, categories, text index",
        f"""
CREATE TABLE organization (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    is_active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE TABLE api_key (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organization(id),
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX api_key_prefix ON api_key(prefix);

CREATE TABLE brand (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organization(id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (org_id, name)
);
CREATE TABLE supplier (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organization(id),
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (org_id, name)
);
CREATE TABLE vat_rate (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organization(id),
    name TEXT NOT NULL,
    rate INTEGER NOT NULL,
    country_code TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (org_id, name, country_code)
);
CREATE TABLE warehouse (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organization(id),
    name TEXT NOT NULL,
    code TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (org_id, code)
);
CREATE UNIQUE INDEX warehouse_one_default ON warehouse(org_id) WHERE is_default;
CREATE TABLE channel (
    org_id INTEGER NOT NULL REFERENCES organization(id),
    value TEXT NOT NULL,
    label TEXT NOT NULL,
    description TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (org_id, value)
) WITHOUT ROWID;

CREATE TABLE category (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organization(id),
    parent_id INTEGER REFERENCES category(id),
    name TEXT NOT NULL,
    slug TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    position INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX category_parent ON category(org_id, parent_id, position);

CREATE TABLE product (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organization(id),
    sku TEXT NOT NULL,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    short_description TEXT NOT NULL DEFAULT '',
    product_type TEXT NOT NULL DEFAULT 'simple',
    price INTEGER,
    sale_price INTEGER,
    cost_price INTEGER,
    currency TEXT NOT NULL DEFAULT 'EUR',
    status TEXT NOT NULL DEFAULT 'draft',
    stock INTEGER NOT NULL DEFAULT 0,
    ean TEXT,
    vat_rate_id INTEGER REFERENCES vat_rate(id),
    brand_id INTEGER REFERENCES brand(id),
    supplier_id INTEGER REFERENCES supplier(id),
    channels INTEGER NOT NULL DEFAULT 0,
    product_condition TEXT NOT NULL DEFAULT 'new',
    attributes TEXT NOT NULL DEFAULT '{{}}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX product_sku ON product(org_id, sku);
CREATE UNIQUE INDEX product_slug ON product(org_id, slug);
CREATE UNIQUE INDEX product_ean ON product(org_id, ean) WHERE ean IS NOT NULL;
CREATE INDEX product_org ON product(org_id);
CREATE INDEX product_status ON product(org_id, status, id);
CREATE INDEX product_brand ON product(org_id, brand_id, status, id);
CREATE INDEX product_updated ON product(org_id, updated_at, id);
CREATE INDEX product_supplier ON product(supplier_id) WHERE supplier_id IS NOT NULL;
CREATE INDEX product_vat_rate ON product(vat_rate_id) WHERE vat_rate_id IS NOT NULL;
CREATE INDEX product_ch_web ON product(org_id, status, id) WHERE channels & 1;
CREATE INDEX product_ch_mobile ON product(org_id, status, id) WHERE channels & 2;
CREATE INDEX product_ch_api ON product(org_id, status, id) WHERE channels & 4;
CREATE INDEX product_ch_marketplace ON product(org_id, status, id) WHERE channels & 8;
CREATE INDEX product_ch_social ON product(org_id, status, id) WHERE channels & 16;
CREATE INDEX product_ch_email ON product(org_id, status, id) WHERE channels & 32;

CREATE TABLE product_category (
    product_id INTEGER NOT NULL REFERENCES product(id) ON DELETE CASCADE,
    category_id INTEGER NOT NULL REFERENCES category(id) ON DELETE CASCADE,
    PRIMARY KEY (product_id, category_id)
) WITHOUT ROWID;
CREATE INDEX product_category_category ON product_category(category_id, product_id);

CREATE TABLE stock_level (
    product_id INTEGER NOT NULL REFERENCES product(id) ON DELETE CASCADE,
    warehouse_id INTEGER NOT NULL REFERENCES warehouse(id),
    quantity INTEGER NOT NULL CHECK (quantity >= 0),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (product_id, warehouse_id)
) WITHOUT ROWID;
CREATE INDEX stock_level_warehouse ON stock_level(warehouse_id);

CREATE VIRTUAL TABLE product_fts USING fts5(
    org, status, sku, name, description,
    content='', contentless_delete=1,
    tokenize="unicode61 remove_diacritics 2", prefix='2 3 4 5 6'
);
{FTS_TRIGGERS}
-- Product counts per organization and status, so that the usual list pages count in
-- O(1) instead of walking an index of every matching row.
CREATE TABLE product_status_count (
    org_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (org_id, status)
) WITHOUT ROWID;
{COUNT_TRIGGERS}
{STOCK_TRIGGERS}
""",
    ),
    (
        2,
        "product attribute definitions",
        """
CREATE TABLE product_attribute (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organization(id),
    name TEXT NOT NULL,
    code TEXT NOT NULL,
    type TEXT NOT NULL,
    options TEXT,
    unit TEXT,
    is_required INTEGER NOT NULL DEFAULT 0,
    is_variant_axis INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX product_attribute_code ON product_attribute(org_id, code);
""",
    ),
    (
        3,
        "product variants; a variable product's stock is the sum of its enabled variants",
        f"""
CREATE TABLE product_variant (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organization(id),
    product_id INTEGER NOT NULL REFERENCES product(id) ON DELETE CASCADE,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    price INTEGER,
    sale_price INTEGER,
    cost INTEGER,
    weight INTEGER,
    stock_quantity INTEGER NOT NULL DEFAULT 0 CHECK (stock_quantity >= 0),
    backorders INTEGER NOT NULL DEFAULT 0,
    is_enabled INTEGER NOT NULL DEFAULT 1,
    position INTEGER NOT NULL DEFAULT 0,
    ean TEXT,
    media_id INTEGER,
    attributes TEXT NOT NULL DEFAULT '{{}}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX product_variant_sku ON product_variant(org_id, sku);
CREATE UNIQUE INDEX product_variant_ean ON product_variant(org_id, ean) WHERE ean IS NOT NULL;
CREATE UNIQUE INDEX product_variant_axes ON product_variant(product_id, attributes);
CREATE INDEX product_variant_product ON product_variant(product_id, position);
{VARIANT_STOCK_TRIGGERS}
""",
    ),
    (
        4,
        "product translations, searchable in the text index",
        f"""
-- One row per product and locale; a NULL field is not translated and falls back.
CREATE TABLE product_translation (
    id INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES product(id) ON DELETE CASCADE,
    org_id INTEGER NOT NULL REFERENCES organization(id),
    locale TEXT NOT NULL,
    name TEXT,
    description TEXT,
    short_description TEXT,
    slug TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (product_id, locale)
);
CREATE UNIQUE INDEX product_translation_slug
    ON product_translation(org_id, locale, slug) WHERE slug IS NOT NULL;
{FTS_DROP_TRIGGERS}
{TEXT_INDEX_TRIGGERS}
{TRANSLATION_TRIGGERS}
""",
    ),
    (
        5,
        "product media: metadata, and their bytes in a table of their own",
        """
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
""",
    ),
    (
        6,
        "image embeddings: the model the index holds, one re-rank vector per media item",
        """
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
""",
    ),
    (
        7,
        "categories: product counts kept by triggers, slugs unique per organization",
        f"""
ALTER TABLE category ADD COLUMN product_count INTEGER NOT NULL DEFAULT 0;
UPDATE category SET product_count = (
    SELECT count(*) FROM product_category pc JOIN product p ON p.id = pc.product_id
    WHERE pc.category_id = category.id AND p.status != 'archived');
UPDATE category SET slug = slug || '-' || id WHERE EXISTS (
    SELECT 1 FROM category older
    WHERE older.org_id = category.org_id AND older.slug = category.slug AND older.id < category.id);
CREATE UNIQUE INDEX category_slug ON category(org_id, slug);
{CATEGORY_COUNT_TRIGGERS}
""",
    ),
    (
        8,
        "image index: the bit length of its coarse codes",
        # Recorded per index, so that an index built with another code length keeps
        # being searched with its own (2560 bits, the first length used). The table is
        # made again rather than altered: a file migrated by a development build of
        # main (3d4df82), whose migration 6 made the column, takes this one too.
        """
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
""",
    ),
    (
        9,
        "demo catalog: the seeds that completed",
        # One row per organization whose demo seed finished every stage; later starts
        # leave that catalog alone (store/demo.py).
        """
CREATE TABLE demo_seed (
    org_id INTEGER PRIMARY KEY REFERENCES organization(id),
    completed_at TEXT NOT NULL
);
""",
    ),
]


def migrate(db: Any) -> None:
    """Apply every migration newer than the database's recorded version."""
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS schema_migration ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    for version, name, sql in MIGRATIONS:
        # The write lock first, then the check: two processes starting at once apply
        # each migration once, the second seeing the first one's record.
        with db.atomic("IMMEDIATE"):
            applied = db.execute_sql(
                "SELECT 1 FROM schema_migration WHERE version = ?", (version,)
            ).fetchone()
            if applied:
                continue
            conn = db.connection()
            # executescript() would commit; run statement by statement inside the
            # transaction so that a failing migration leaves nothing behind.
            for statement in split_sql(sql):
                conn.execute(statement)
            db.execute_sql(
                "INSERT INTO schema_migration (version, name, applied_at)"
                " VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                (version, name),
            )
        log.info("applied migration %d: %s", version, name)


def split_sql(script: str) -> list[str]:
    """Split a script into complete statements (trigger bodies kept whole)."""
    from store.db import sqlite3  # store.db imports this module

    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements
