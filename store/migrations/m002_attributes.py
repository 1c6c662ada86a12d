"""Migration 2: product attribute definitions.

Shipped: frozen. Never edit this file; add the next migration instead.
"""

NAME = 'product attribute definitions'

SQL = """
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
"""
