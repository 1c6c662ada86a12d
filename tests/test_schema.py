"""Today's schema fragments (`store.schema`) are what the migrations made."""

from __future__ import annotations

import re

from store import schema
from store.db import Database
from store.migrations import split_sql


def _normal(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip().rstrip(";")


def test_the_row_triggers_are_the_ones_the_migrations_made(store: Database) -> None:
    made = {name: _normal(sql) for name, sql in store.execute_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")}
    ours = {re.match(r"CREATE TRIGGER (\w+)", statement).group(1): _normal(statement)  # type: ignore[union-attr]
            for statement in split_sql(schema.ROW_TRIGGERS)}
    assert set(ours) == set(schema.ROW_TRIGGER_NAMES)
    for name, sql in ours.items():
        assert made[name] == sql, name


def test_the_text_index_triggers_are_the_ones_the_migrations_made(store: Database) -> None:
    made = {name: _normal(sql) for name, sql in store.execute_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")}
    ours = {re.match(r"CREATE TRIGGER (\w+)", statement).group(1): _normal(statement)  # type: ignore[union-attr]
            for statement in split_sql(schema.TEXT_INDEX_ALL_TRIGGERS)}
    assert set(schema.TEXT_INDEX_DEFERRED) <= set(ours)
    assert set(ours) == {name for name in made if "fts" in name}
    for name, sql in ours.items():
        assert made[name] == sql, name
