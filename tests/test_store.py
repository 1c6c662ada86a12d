"""The store's own connection: SQLite build, sqlite-vec, pragmas, migrations."""

from __future__ import annotations

import os
import stat
from typing import Any

import pytest

from store import migrations
from store.backup import backup
from store.db import Database, open_database, vec_version


@pytest.fixture
def fresh_path(tmp_path: Any) -> str:
    """A file no migration has touched yet (`db_path` is a copy of a migrated template)."""
    return str(tmp_path / "fresh.db")


def test_sqlite_vec_answers_through_the_store_connection(db: Database) -> None:
    assert vec_version(db).startswith("v0.1.")
    # A real vector query, not just the version function.
    row = db.execute_sql("SELECT vec_distance_l2('[1, 2]', '[4, 6]')").fetchone()
    assert row[0] == 5.0


def test_pragmas(db: Database) -> None:
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert db.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_fts5_is_available(db: Database) -> None:
    db.execute_sql("CREATE VIRTUAL TABLE t USING fts5(x)")


def test_migrations_are_recorded_and_not_reapplied(fresh_path: str) -> None:
    db = open_database(fresh_path)
    versions = [row[0] for row in db.execute_sql("SELECT version FROM schema_migration")]
    assert versions == [number for number, _, _ in migrations.MIGRATIONS]
    db.close()
    db = open_database(fresh_path)  # a second start must not fail on existing tables
    assert db.execute_sql("SELECT count(*) FROM schema_migration").fetchone()[0] == len(versions)
    db.close()


def test_a_failing_migration_leaves_nothing_behind(fresh_path: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    open_database(fresh_path).close()
    latest = migrations.MIGRATIONS[-1][0]
    broken = (999, "broken", "CREATE TABLE half_done (x INTEGER);\nCREATE TABLE oops (;")
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, broken])
    try:
        open_database(fresh_path)
    except Exception:
        pass
    else:  # pragma: no cover
        raise AssertionError("the broken migration should have failed")
    db = Database(fresh_path)  # the file as the failed start left it, not migrated again
    try:
        tables = {row[0] for row in db.execute_sql("SELECT name FROM sqlite_master")}
        assert "half_done" not in tables
        assert db.execute_sql("SELECT max(version) FROM schema_migration").fetchone()[0] == latest
    finally:
        db.close()


async def test_count_queries_sees_statements_of_a_request(db: Database, api: Any) -> None:
    from tests.factories import count_queries

    created = await api.post("/api/products", {"name": "Counted", "sku": "CNT-1"})
    assert created.code == 201
    with count_queries(db) as seen:
        response = await api.get(f"/api/products/{created.data['id']}")
    assert response.code == 200
    assert any("product" in sql for sql in seen), seen
    assert not any(sql.startswith("--") for sql in seen)


def test_migration_8_takes_a_file_whose_image_index_already_has_code_bits(fresh_path: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A development build of main (3d4df82) made `code_bits` in migration 6."""
    monkeypatch.setattr(migrations, "MIGRATIONS", [m for m in migrations.MIGRATIONS if m[0] < 8])
    db = open_database(fresh_path)
    db.execute_sql("DROP TABLE image_index")
    db.execute_sql("CREATE TABLE image_index (id INTEGER PRIMARY KEY CHECK (id = 1), dim INTEGER NOT NULL,"
                   " digest TEXT NOT NULL, code_bits INTEGER NOT NULL, created_at TEXT NOT NULL)")
    db.execute_sql("INSERT INTO image_index VALUES (1, 1280, 'abc', 2560, '2026-11-27T10:00:00.000000Z')")
    db.close()
    monkeypatch.undo()
    db = open_database(fresh_path)
    try:
        assert db.execute_sql("SELECT dim, digest, code_bits FROM image_index").fetchall() == [(1280, "abc", 2560)]
        assert 8 in {row[0] for row in db.execute_sql("SELECT version FROM schema_migration")}
    finally:
        db.close()


# ---- file modes ----------------------------------------------------------------------------

@pytest.fixture
def open_umask() -> Any:
    """A umask that lets anyone read new files, as many servers run with (022 lets the
    group and others read too): the modes below must not come from the umask."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def _mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_database_and_its_wal_are_readable_by_the_owner_only(fresh_path: str, open_umask: Any) -> None:
    db = open_database(fresh_path)
    try:
        with db.writing():
            db.execute_sql("CREATE TABLE t (x)")
            db.execute_sql("INSERT INTO t VALUES (1)")
        for suffix in ("", "-wal", "-shm"):
            assert os.path.exists(fresh_path + suffix), suffix
            assert _mode(fresh_path + suffix) == 0o600, (suffix, oct(_mode(fresh_path + suffix)))
    finally:
        db.close()


def test_an_existing_database_keeps_its_mode(fresh_path: str, open_umask: Any) -> None:
    """An operator who chose other modes (a backup agent in the group) keeps them."""
    open_database(fresh_path).close()
    os.chmod(fresh_path, 0o640)
    open_database(fresh_path).close()
    assert _mode(fresh_path) == 0o640


def test_a_backup_is_readable_by_the_owner_only(db: Database, tmp_path: Any, open_umask: Any) -> None:
    dest = str(tmp_path / "copy.db")
    with open(dest, "wb"):
        pass
    os.chmod(dest, 0o644)  # a file there before is replaced, its mode with it
    backup(db, dest)
    assert _mode(dest) == 0o600
    assert not os.path.exists(dest + ".partial")


def test_a_connection_is_renewed_before_its_statement_cache_fills(db: Database) -> None:
    """pysqlite3's statement cache, once full, keeps out every statement met for the
    first time (each evicts the one before it), so a connection that has run many
    distinct statements is opened afresh between transactions (store.db.STATEMENT_CACHE)."""
    from store.db import RENEW_AFTER

    first = db.connection()
    calls = 0
    while db.quick(lambda d, n=calls: (d.execute_sql(f"SELECT {n}").fetchone(), d.connection())[1]) is first:
        calls += 1
        assert calls <= RENEW_AFTER + 1
    assert calls > RENEW_AFTER // 2
    with db.writing():
        renewed = db.connection()
        for n in range(RENEW_AFTER + 1):
            db.execute_sql(f"SELECT {n} + 1").fetchone()
        assert db.renew_if_full() is False  # never inside a transaction
        assert db.connection() is renewed
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1  # with the pragmas again
    assert db.quick(lambda d: d.connection()) is not renewed


def test_migrations_leave_no_statements_in_the_connection_cache(fresh_path: str) -> None:
    db = open_database(fresh_path)
    try:
        assert db.renew_if_full() is False and len(db._statements.seen) < 10
    finally:
        db.close()
