"""Migration 4: product translations, searchable in the text index.

The text index also holds every translation of a product, in the same columns as the
default text (translated names in `name`, translated descriptions in `description`), so
a search in any language finds it with the same column filters and bm25 weights. The
FTS5 table keeps its shape, so the migration replaces only the triggers: no index
rebuild at start-up (26 s at 1M rows), and the rows already indexed are exactly what
the new expression gives while no product has a translation yet (the table of
translations is created empty in the same migration). A translation written or removed
re-indexes its product, read back from `product` so the row is whole.

Shipped: frozen. Never edit this file; add the next migration instead.
"""

NAME = 'product translations, searchable in the text index'

SQL = """
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

DROP TRIGGER product_fts_ai;
DROP TRIGGER product_fts_au;
DROP TRIGGER product_fts_ad;


CREATE TRIGGER product_fts_ai AFTER INSERT ON product BEGIN
    INSERT INTO product_fts(rowid, org, status, sku, name, description) VALUES (new.id, 'o' || new.org_id, replace(new.status, '_', ''), new.sku || ' ' || coalesce(new.ean, ''), new.name || ' ' || coalesce((SELECT group_concat(x.name, ' ') FROM product_translation x WHERE x.product_id = new.id), ''), new.description || ' ' || new.short_description || ' ' || coalesce((SELECT group_concat(coalesce(x.description, '') || ' ' || coalesce(x.short_description, ''), ' ') FROM product_translation x WHERE x.product_id = new.id), ''));
END;
CREATE TRIGGER product_fts_au
AFTER UPDATE OF org_id, status, sku, ean, name, description, short_description ON product
BEGIN
    DELETE FROM product_fts WHERE rowid = old.id;
    INSERT INTO product_fts(rowid, org, status, sku, name, description) VALUES (new.id, 'o' || new.org_id, replace(new.status, '_', ''), new.sku || ' ' || coalesce(new.ean, ''), new.name || ' ' || coalesce((SELECT group_concat(x.name, ' ') FROM product_translation x WHERE x.product_id = new.id), ''), new.description || ' ' || new.short_description || ' ' || coalesce((SELECT group_concat(coalesce(x.description, '') || ' ' || coalesce(x.short_description, ''), ' ') FROM product_translation x WHERE x.product_id = new.id), ''));
END;
CREATE TRIGGER product_fts_ad AFTER DELETE ON product BEGIN
    DELETE FROM product_fts WHERE rowid = old.id;
END;


CREATE TRIGGER product_translation_fts_ai AFTER INSERT ON product_translation BEGIN
    DELETE FROM product_fts WHERE rowid = new.product_id;
    INSERT INTO product_fts(rowid, org, status, sku, name, description)
    SELECT p.id, 'o' || p.org_id, replace(p.status, '_', ''), p.sku || ' ' || coalesce(p.ean, ''), p.name || ' ' || coalesce((SELECT group_concat(x.name, ' ') FROM product_translation x WHERE x.product_id = p.id), ''), p.description || ' ' || p.short_description || ' ' || coalesce((SELECT group_concat(coalesce(x.description, '') || ' ' || coalesce(x.short_description, ''), ' ') FROM product_translation x WHERE x.product_id = p.id), '') FROM product p WHERE p.id = new.product_id;
END;
CREATE TRIGGER product_translation_fts_au
AFTER UPDATE OF name, description, short_description ON product_translation BEGIN
    DELETE FROM product_fts WHERE rowid = new.product_id;
    INSERT INTO product_fts(rowid, org, status, sku, name, description)
    SELECT p.id, 'o' || p.org_id, replace(p.status, '_', ''), p.sku || ' ' || coalesce(p.ean, ''), p.name || ' ' || coalesce((SELECT group_concat(x.name, ' ') FROM product_translation x WHERE x.product_id = p.id), ''), p.description || ' ' || p.short_description || ' ' || coalesce((SELECT group_concat(coalesce(x.description, '') || ' ' || coalesce(x.short_description, ''), ' ') FROM product_translation x WHERE x.product_id = p.id), '') FROM product p WHERE p.id = new.product_id;
END;
CREATE TRIGGER product_translation_fts_ad AFTER DELETE ON product_translation BEGIN
    DELETE FROM product_fts WHERE rowid = old.product_id;
    INSERT INTO product_fts(rowid, org, status, sku, name, description)
    SELECT p.id, 'o' || p.org_id, replace(p.status, '_', ''), p.sku || ' ' || coalesce(p.ean, ''), p.name || ' ' || coalesce((SELECT group_concat(x.name, ' ') FROM product_translation x WHERE x.product_id = p.id), ''), p.description || ' ' || p.short_description || ' ' || coalesce((SELECT group_concat(coalesce(x.description, '') || ' ' || coalesce(x.short_description, ''), ' ') FROM product_translation x WHERE x.product_id = p.id), '') FROM product p WHERE p.id = old.product_id;
END;

"""
