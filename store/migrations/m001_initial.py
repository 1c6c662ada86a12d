"""Migration 1: organizations, keys, reference data, products, stock, categories, text index.

Shipped: frozen. Never edit this file; add the next migration instead.
"""

NAME = 'organizations, keys, reference data, products, stock, categories, text index'

SQL = """
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
    attributes TEXT NOT NULL DEFAULT '{}',
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

CREATE TRIGGER product_fts_ai AFTER INSERT ON product BEGIN
    INSERT INTO product_fts(rowid, org, status, sku, name, description) VALUES (new.id, 'o' || new.org_id, replace(new.status, '_', ''), new.sku || ' ' || coalesce(new.ean, ''), new.name, new.description || ' ' || new.short_description);
END;
CREATE TRIGGER product_fts_au
AFTER UPDATE OF org_id, status, sku, ean, name, description, short_description ON product
BEGIN
    DELETE FROM product_fts WHERE rowid = old.id;
    INSERT INTO product_fts(rowid, org, status, sku, name, description) VALUES (new.id, 'o' || new.org_id, replace(new.status, '_', ''), new.sku || ' ' || coalesce(new.ean, ''), new.name, new.description || ' ' || new.short_description);
END;
CREATE TRIGGER product_fts_ad AFTER DELETE ON product BEGIN
    DELETE FROM product_fts WHERE rowid = old.id;
END;

-- Product counts per organization and status, so that the usual list pages count in
-- O(1) instead of walking an index of every matching row.
CREATE TABLE product_status_count (
    org_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (org_id, status)
) WITHOUT ROWID;

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


CREATE TRIGGER stock_level_ai AFTER INSERT ON stock_level BEGIN
    UPDATE product SET stock = (SELECT coalesce(sum(quantity), 0) FROM stock_level
                                WHERE product_id = new.product_id)
    WHERE id = new.product_id;
END;
CREATE TRIGGER stock_level_au AFTER UPDATE ON stock_level BEGIN
    UPDATE product SET stock = (SELECT coalesce(sum(quantity), 0) FROM stock_level
                                WHERE product_id = new.product_id)
    WHERE id = new.product_id;
END;
CREATE TRIGGER stock_level_ad AFTER DELETE ON stock_level BEGIN
    UPDATE product SET stock = (SELECT coalesce(sum(quantity), 0) FROM stock_level
                                WHERE product_id = old.product_id)
    WHERE id = old.product_id;
END;

"""
