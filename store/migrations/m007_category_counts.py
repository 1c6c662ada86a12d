"""Migration 7: categories: product counts kept by triggers, slugs unique per organization.

A category's `product_count` (its own products, archived left out) is kept by
triggers, so that the tree and lists read one column instead of counting links. Links
are only ever inserted and deleted. A product's archiving counts too, and so does its
deletion: counted before the row goes, because the links that then cascade away can no
longer look up the product's status.

Shipped: frozen. Never edit this file; add the next migration instead.
"""

NAME = 'categories: product counts kept by triggers, slugs unique per organization'

SQL = """
ALTER TABLE category ADD COLUMN product_count INTEGER NOT NULL DEFAULT 0;
UPDATE category SET product_count = (
    SELECT count(*) FROM product_category pc JOIN product p ON p.id = pc.product_id
    WHERE pc.category_id = category.id AND p.status != 'archived');
UPDATE category SET slug = slug || '-' || id WHERE EXISTS (
    SELECT 1 FROM category older
    WHERE older.org_id = category.org_id AND older.slug = category.slug AND older.id < category.id);
CREATE UNIQUE INDEX category_slug ON category(org_id, slug);

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
