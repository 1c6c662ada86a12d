"""Pieces of today's schema that code needs at run time (not the migrations' copies).

A bulk load drops the per-row triggers of the product table, inserts its rows, fills
what the triggers would have written in one statement each, and makes the triggers
again: five to seven times faster than firing them row by row. A bulk import's batch
does the same for the text index alone (`TEXT_INDEX_DEFERRED`, see
`store.products.text.text_index_deferred`). What they drop and make must be exactly
what the schema holds now, which is what this module says; the migrations keep their
own frozen copies (`store/migrations/`), and `tests/test_schema.py` checks that the
two agree.
"""

from __future__ import annotations

# The text index row of a product: organization and status as tokens (a search is
# scoped and filtered inside the index itself), SKU and EAN, the name and the
# descriptions, each with every translation of the product (migration 4).
FTS_COLUMNS = "rowid, org, status, sku, name, description"
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

# Product counts per organization and status (migration 1).
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

# A product's stock is the sum of its warehouse levels (migration 1).
_STOCK_SUM = """
    UPDATE product SET stock = (SELECT coalesce(sum(quantity), 0) FROM stock_level
                                WHERE product_id = {row}.product_id)
    WHERE id = {row}.product_id;"""
STOCK_TRIGGERS = f"""
CREATE TRIGGER stock_level_ai AFTER INSERT ON stock_level BEGIN{_STOCK_SUM.format(row="new")}
END;
CREATE TRIGGER stock_level_au AFTER UPDATE ON stock_level BEGIN{_STOCK_SUM.format(row="new")}
END;
CREATE TRIGGER stock_level_ad AFTER DELETE ON stock_level BEGIN{_STOCK_SUM.format(row="old")}
END;
"""

#: The per-row triggers a bulk load of products drops and makes again.
ROW_TRIGGERS = TEXT_INDEX_TRIGGERS + COUNT_TRIGGERS + STOCK_TRIGGERS
ROW_TRIGGER_NAMES = ("product_fts_ai", "product_fts_au", "product_fts_ad",
                     "product_count_ai", "product_count_au", "product_count_ad",
                     "stock_level_ai", "stock_level_au", "stock_level_ad")

# A translation written or removed makes its product's text index row again (migration 4).
_REINDEX_PRODUCT = (
    "    DELETE FROM product_fts WHERE rowid = {row}.product_id;\n"
    f"    INSERT INTO product_fts({FTS_COLUMNS})\n"
    f"    SELECT {TEXT_INDEX_VALUES.format(t='p')} FROM product p WHERE p.id = {{row}}.product_id;\n"
)
TRANSLATION_TEXT_INDEX_TRIGGERS = (
    "CREATE TRIGGER product_translation_fts_ai AFTER INSERT ON product_translation BEGIN\n"
    + _REINDEX_PRODUCT.format(row="new") + "END;\n"
    "CREATE TRIGGER product_translation_fts_au\n"
    "AFTER UPDATE OF name, description, short_description ON product_translation BEGIN\n"
    + _REINDEX_PRODUCT.format(row="new") + "END;\n"
    "CREATE TRIGGER product_translation_fts_ad AFTER DELETE ON product_translation BEGIN\n"
    + _REINDEX_PRODUCT.format(row="old") + "END;\n"
)

#: Every trigger that keeps the text index, as the schema holds them.
TEXT_INDEX_ALL_TRIGGERS = TEXT_INDEX_TRIGGERS + TRANSLATION_TEXT_INDEX_TRIGGERS

#: The text-index triggers a bulk import's batch drops for its run (inserts and
#: updates: a batch deletes neither products nor translations; the delete triggers stay).
TEXT_INDEX_DEFERRED = ("product_fts_ai", "product_fts_au", "product_translation_fts_ai",
                       "product_translation_fts_au")

# While they are dropped, these TEMP triggers (this connection's only, never in the
# file) note which products' index rows are due: the rows those four would have made.
TEXT_INDEX_PENDING = "text_index_pending"
TEXT_INDEX_NOTE_TRIGGERS = f"""
CREATE TEMP TRIGGER text_index_note_ai AFTER INSERT ON main.product BEGIN
    INSERT OR IGNORE INTO {TEXT_INDEX_PENDING} (product_id) VALUES (new.id);
END;
CREATE TEMP TRIGGER text_index_note_au
AFTER UPDATE OF org_id, status, sku, ean, name, description, short_description ON main.product BEGIN
    INSERT OR IGNORE INTO {TEXT_INDEX_PENDING} (product_id) VALUES (new.id);
END;
CREATE TEMP TRIGGER text_index_note_translation_ai AFTER INSERT ON main.product_translation BEGIN
    INSERT OR IGNORE INTO {TEXT_INDEX_PENDING} (product_id) VALUES (new.product_id);
END;
CREATE TEMP TRIGGER text_index_note_translation_au
AFTER UPDATE OF name, description, short_description ON main.product_translation BEGIN
    INSERT OR IGNORE INTO {TEXT_INDEX_PENDING} (product_id) VALUES (new.product_id);
END;
"""
TEXT_INDEX_NOTE_TRIGGER_NAMES = ("text_index_note_ai", "text_index_note_au", "text_index_note_translation_ai",
                                 "text_index_note_translation_au")
