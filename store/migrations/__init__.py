"""Numbered schema migrations, applied in order when a database is opened.

Each migration is a frozen module (`m001_initial.py`, ...) holding the SQL it ran when it
shipped; nothing else imports them, so no later change to the code can rewrite a
shipped migration. An old database file is brought up to date the first time a new
version opens it. The schema as it is today, where code needs pieces of it (the text
index's triggers for a bulk load), is `store/schema.py`.

To change the schema, add the next module and append it to `MIGRATIONS`.
"""

from __future__ import annotations

import logging
import time
from types import ModuleType
from typing import Any

from peewee import sqlite3  # type: ignore[attr-defined]

from store.migrations import (
    m001_initial, m002_attributes, m003_variants, m004_translations, m005_media,
    m006_image_embeddings, m007_category_counts, m008_image_index_code_bits, m009_demo_seed,
    m010_image_vec, m011_api_key_scope, m012_import_jobs, m014_image_index, m015_events,
)

log = logging.getLogger("micropim.store")


def _entry(module: ModuleType) -> tuple[int, str, str]:
    """(version, name, SQL) of a migration module; its version is in its file name (`m012_…`)."""
    return int(module.__name__.rpartition(".")[2][1:4]), str(module.NAME), str(module.SQL)


#: (version, name, SQL), in the order they apply.
MIGRATIONS: list[tuple[int, str, str]] = sorted(_entry(module) for module in (
    m001_initial, m002_attributes, m003_variants, m004_translations, m005_media,
    m006_image_embeddings, m007_category_counts, m008_image_index_code_bits,
    m009_demo_seed, m010_image_vec, m011_api_key_scope, m012_import_jobs, m014_image_index, m015_events,
))


def migrate(db: Any) -> list[int]:
    """Apply every migration newer than the database's recorded version, each in its
    own transaction; answers the versions applied."""
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS schema_migration ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    applied: list[int] = []
    started = time.perf_counter()
    for version, name, sql in MIGRATIONS:
        # The write lock first, then the check: two processes starting at once apply
        # each migration once, the second seeing the first one's record.
        with db.atomic("IMMEDIATE"):
            if db.execute_sql("SELECT 1 FROM schema_migration WHERE version = ?", (version,)).fetchone():
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
        applied.append(version)
    if applied:
        log.info("applied %d migration%s (%s) in %.2f s", len(applied), "" if len(applied) == 1 else "s",
                 ", ".join(map(str, applied)), time.perf_counter() - started)
    return applied


def split_sql(script: str) -> list[str]:
    """Split a script into complete statements (trigger bodies kept whole)."""
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
