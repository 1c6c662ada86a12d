"""Migration 3: product variants; a variable product's stock is the sum of its enabled variants.

Shipped: frozen. Never edit this file; add the next migration instead.
"""

NAME = "product variants; a variable product's stock is the sum of its enabled variants"

SQL = """
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
    attributes TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX product_variant_sku ON product_variant(org_id, sku);
CREATE UNIQUE INDEX product_variant_ean ON product_variant(org_id, ean) WHERE ean IS NOT NULL;
CREATE UNIQUE INDEX product_variant_axes ON product_variant(product_id, attributes);
CREATE INDEX product_variant_product ON product_variant(product_id, position);

CREATE TRIGGER variant_stock_ai AFTER INSERT ON product_variant BEGIN
    UPDATE product SET stock = (SELECT coalesce(sum(stock_quantity), 0) FROM product_variant
                                WHERE product_id = new.product_id AND is_enabled)
    WHERE id = new.product_id;
END;
CREATE TRIGGER variant_stock_au AFTER UPDATE OF stock_quantity, is_enabled, product_id ON product_variant
BEGIN
    UPDATE product SET stock = (SELECT coalesce(sum(stock_quantity), 0) FROM product_variant
                                WHERE product_id = old.product_id AND is_enabled)
    WHERE id = old.product_id;
    UPDATE product SET stock = (SELECT coalesce(sum(stock_quantity), 0) FROM product_variant
                                WHERE product_id = new.product_id AND is_enabled)
    WHERE id = new.product_id;
END;
CREATE TRIGGER variant_stock_ad AFTER DELETE ON product_variant BEGIN
    UPDATE product SET stock = (SELECT coalesce(sum(stock_quantity), 0) FROM product_variant
                                WHERE product_id = old.product_id AND is_enabled)
    WHERE id = old.product_id;

END;

"""
