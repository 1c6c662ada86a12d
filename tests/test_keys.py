"""API keys: scopes (read, write), expiry, last use, and the commands that manage them.

A read key answers every request that changes nothing and a 403 "this API key is
read-only" to every other; image search, a POST that changes nothing, is a read.
The commands run in process (`micropim.main`) on the test's database file, beside the
running test server, as an operator would run them beside `micropim serve`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import micropim
from store import orgs
from store.db import Database
from tests.conftest import Api, FakeClock
from tests.factories import draw, make_key, multipart, post_product
from tests.test_contract import METHODS, assert_envelope, fill, route_table, sample_ids

__all__ = ["sample_ids"]  # the fixture, shared with the contract walk

READ_ONLY = "this API key is read-only"
WRITES = ("POST", "PUT", "PATCH", "DELETE")
SEARCH = "/api/products/image-search"


def read_key(db: Database, org_id: int, **options: Any) -> str:
    with db.writing():
        return orgs.create_key(db, org_id, scope="read", **options)


def scalar(db: Database, sql: str, *params: Any) -> Any:
    return db.execute_sql(sql, params).fetchone()[0]


async def flush_writes(db: Database) -> None:
    """Wait until every write queued before now has run (the writer runs them in order)."""
    await db.write(lambda db: None)


def cli(capsys: Any, *args: str) -> tuple[int, str, str]:
    """`micropim ARGS` in process: its exit status, stdout and stderr."""
    try:
        status = micropim.main(list(args))
    except SystemExit as stop:
        status = int(stop.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


# ---- scopes -----------------------------------------------------------------------------

async def test_a_read_key_reads_every_route_and_writes_none(
        db: Database, api: Api, org_id: int, sample_ids: dict[str, int]) -> None:
    reader = Api(api.client, read_key(db, org_id))
    before = [scalar(db, f"SELECT count(*), max(updated_at) FROM {table}")
              for table in ("product", "category", "brand", "product_variant")]
    refused = 0
    for pattern, _ in route_table():
        path = fill(pattern, sample_ids, 1)
        for method in METHODS:
            body = {} if method in ("POST", "PUT", "PATCH") else None
            response = await reader.call(method, path, body)
            if method in WRITES and (method, path) != ("POST", SEARCH):
                assert_envelope(response, 403)
                assert response.error == READ_ONLY, (method, path)
                refused += 1
            else:
                assert response.code != 403, (method, path, response.body)
    assert refused > 40
    after = [scalar(db, f"SELECT count(*), max(updated_at) FROM {table}")
             for table in ("product", "category", "brand", "product_variant")]
    assert after == before


async def test_a_read_key_may_search_by_image(db: Database, api: Api, org_id: int) -> None:
    """Image search is a POST because it carries a photo; it changes nothing, so a
    storefront's read key may use it."""
    reader = Api(api.client, read_key(db, org_id))
    body, content_type = multipart({"limit": "3"}, {"image": ("photo.png", draw(3))})
    response = await reader.call("POST", SEARCH, raw=body, headers={"Content-Type": content_type})
    assert_envelope(response, 200)
    assert response.data == {"products": [], "total": 0}


async def test_a_write_key_reads_and_writes(db: Database, api: Api, org_id: int) -> None:
    with db.writing():
        writer = Api(api.client, orgs.create_key(db, org_id, scope="write"))
    created = await post_product(writer, "Mug", "MUG-1")
    assert (await writer.get(f"/api/products/{created['id']}")).code == 200
    assert (await writer.delete(f"/api/products/{created['id']}")).code == 200


def test_a_key_of_another_scope_cannot_be_made(db: Database, org_id: int) -> None:
    from store.errors import BadRequest

    with pytest.raises(BadRequest, match="scope: must be one of read, write"):
        with db.writing():
            orgs.create_key(db, org_id, scope="admin")


def test_the_table_refuses_another_scope(db: Database, org_id: int) -> None:
    import peewee

    make_key(db, org_id)
    with pytest.raises(peewee.IntegrityError, match="CHECK constraint failed"):
        with db.writing():
            db.execute_sql("UPDATE api_key SET scope = 'admin'")


# ---- expiry -----------------------------------------------------------------------------

async def test_an_expired_key_is_401(db: Database, api: Api, org_id: int) -> None:
    past = orgs.expiry_after(-1)
    with db.writing():
        expired = orgs.create_key(db, org_id, expires_at=past)
        current = orgs.create_key(db, org_id, expires_at=orgs.expiry_after(3600))
    response = await api.get("/api/products", key=expired)
    assert_envelope(response, 401)
    assert response.error == "expired API key"
    assert (await api.get("/api/products", key=current)).code == 200


async def test_a_key_expires_while_its_check_is_remembered(db: Database, api: Api, org_id: int) -> None:
    """A key's check is kept a few seconds; its expiry is looked at on every request."""
    import asyncio

    with db.writing():
        soon = orgs.create_key(db, org_id, expires_at=orgs.expiry_after(0.5))
    assert (await api.get("/api/products", key=soon)).code == 200
    assert db.keys.get(orgs._hash_key(soon)) is not None  # remembered
    await asyncio.sleep(0.6)
    response = await api.get("/api/products", key=soon)
    assert response.code == 401 and response.error == "expired API key"


def test_expiry_compares_as_time() -> None:
    caller = orgs.Caller(org_id=1, org_active=True, key_id=1, scope="read",
                         expires_at="2026-05-01T10:00:00.000000Z")
    assert not caller.expired("2026-05-01T09:59:59.999999Z")
    assert caller.expired("2026-05-01T10:00:00.000000Z")
    assert not orgs.Caller(org_id=1, org_active=True, key_id=1, scope="read",
                           expires_at=None).expired("9999-12-31T00:00:00.000000Z")
    start = dt.datetime(2026, 1, 31, 12, 0, tzinfo=dt.timezone.utc)
    assert orgs.expiry_after(90 * 86400, start) == "2026-05-01T12:00:00.000000Z"


# ---- last use ---------------------------------------------------------------------------

def _use_writes(seen: list[str]) -> int:
    return sum(1 for sql in seen if sql.startswith('UPDATE "api_key" SET "last_used_at"'))


async def test_key_use_is_recorded_at_most_once_a_minute(
        db: Database, api: Api, org_id: int, clock: FakeClock) -> None:
    from tests.factories import count_queries

    key = make_key(db, org_id)
    key_id = scalar(db, "SELECT max(id) FROM api_key")
    assert scalar(db, "SELECT last_used_at FROM api_key WHERE id = ?", key_id) is None
    with count_queries(db) as seen:
        for _ in range(5):
            assert (await api.get("/api/products", key=key)).code == 200
        await flush_writes(db)
    assert _use_writes(seen) == 1
    first = scalar(db, "SELECT last_used_at FROM api_key WHERE id = ?", key_id)
    assert first is not None
    clock.advance(59)
    with count_queries(db) as seen:
        await api.get("/api/products", key=key)
        await flush_writes(db)
    assert _use_writes(seen) == 0
    clock.advance(2)
    with count_queries(db) as seen:
        await api.get("/api/products", key=key)
        await flush_writes(db)
    assert _use_writes(seen) == 1
    assert scalar(db, "SELECT last_used_at FROM api_key WHERE id = ?", key_id) > first


async def test_a_request_never_waits_for_its_key_use_to_be_written(
        db: Database, api: Api, org_id: int, db_path: str, caplog: Any) -> None:
    """Another process holds the write lock: reads still answer at once, and the key's
    use is written a minute later instead."""
    import asyncio

    from store.db import sqlite3

    key = make_key(db, org_id)
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        response = await api.get("/api/products", key=key)
        assert_envelope(response, 200)
        for _ in range(100):  # the use write meets the lock, gives up and says so
            if "a key's last use was not recorded: database is locked" in caplog.text:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(caplog.text)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert scalar(db, "SELECT count(*) FROM api_key WHERE last_used_at IS NOT NULL") == 0


# ---- the commands ---------------------------------------------------------------------------

async def test_create_key_makes_a_read_key_and_keys_lists_it(
        capsys: Any, db_path: str, db: Database, api: Api) -> None:
    status, out, err = cli(capsys, "create-key", "--org", "Shop", "--scope", "read", "--db", db_path)
    assert status == 0, err
    key = out.splitlines()[-1]
    assert key.startswith("mpk_")
    assert (await api.get("/api/products", key=key)).code == 200
    response = await api.post("/api/products", {"name": "Mug", "sku": "MUG-1"}, key=key)
    assert response.code == 403 and response.error == READ_ONLY
    await flush_writes(db)

    status, out, err = cli(capsys, "create-key", "--org", "Shop", "--db", db_path)
    assert status == 0, err
    writer = out.splitlines()[-1]
    status, out, err = cli(capsys, "keys", "--org", "Shop", "--db", db_path)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "PREFIX", "SCOPE", "CREATED", "LAST", "USED", "EXPIRES",
                                "REVOKED", "LABEL"]
    rows = [line.split() for line in lines[1:]]
    assert [row[1:3] for row in rows] == [[key[:12], "read"], [writer[:12], "write"]]
    assert rows[0][4].endswith("Z") and rows[1][4] == "never"  # last used: the read key only
    assert rows[0][5] == "never" and rows[0][6] == "-" and rows[0][7] == "cli"
    for secret in (key, writer, orgs._hash_key(key), key[12:20]):
        assert secret not in out


def test_keys_of_an_unknown_organization_is_a_one_line_error(capsys: Any, db_path: str) -> None:
    status, out, err = cli(capsys, "keys", "--org", "Nobody", "--db", db_path)
    assert status == 2 and out == ""
    assert err == "micropim: error: argument --org: no organization named 'Nobody'\n"


async def test_revoke_key_by_id_stops_the_key(capsys: Any, db_path: str, db: Database, api: Api,
                                              org_id: int) -> None:
    doomed = make_key(db, org_id)
    doomed_id = scalar(db, "SELECT max(id) FROM api_key")
    status, out, err = cli(capsys, "revoke-key", str(doomed_id), "--db", db_path)
    assert status == 0, err
    assert out.startswith(f"key {doomed_id} ({doomed[:12]}…, organization 'Acme') revoked at ")
    response = await api.get("/api/products", key=doomed)
    assert response.code == 401 and response.error == "invalid API key"
    assert (await api.get("/api/products")).code == 200  # the organization's other key
    status, out, err = cli(capsys, "revoke-key", str(doomed_id), "--db", db_path)
    assert status == 0 and "was already revoked at" in out
    status, out, err = cli(capsys, "keys", "--org", "Acme", "--db", db_path)
    revoked = [line.split() for line in out.splitlines() if line.startswith(f"{doomed_id} ")]
    assert revoked[0][6].endswith("Z")


@pytest.mark.parametrize("args, message", [
    (["revoke-key", "424242"], "argument id: no API key with id 424242"),
    (["revoke-key", "abc"], "argument id: expected a key id (a positive integer, see `micropim keys`),"
                            " got 'abc'"),
    (["revoke-key", "0"], "argument id: expected a key id (a positive integer, see `micropim keys`),"
                          " got '0'"),
    (["create-key", "--org", "A", "--scope", "admin"], "argument --scope: expected one of read, write,"
                                                       " got 'admin'"),
    (["create-key", "--org", "A", "--expires", "90"], "argument --expires: expected a duration such as"
                                                      " 90d or 12h, got '90'"),
    (["create-key", "--org", "A", "--expires", "5m"], "argument --expires: expected a duration such as"
                                                      " 90d or 12h, got '5m'"),
    (["create-key", "--org", "A", "--expires", "0d"], "argument --expires: expected a duration such as"
                                                      " 90d or 12h, got '0d'"),
    (["create-key", "--org", "A", "--expires", "99999999d"], "argument --expires: at most 36500d,"
                                                             " got '99999999d'"),
])
def test_bad_key_arguments_are_one_line_errors(capsys: Any, db_path: str, args: list[str],
                                               message: str) -> None:
    status, out, err = cli(capsys, *args, "--db", db_path)
    assert status == 2 and out == ""
    assert err == f"micropim: error: {message}\n"


def test_scope_and_expiry_read_the_environment(capsys: Any, db_path: str, db: Database,
                                               monkeypatch: Any) -> None:
    monkeypatch.setenv("MICROPIM_SCOPE", "read")
    monkeypatch.setenv("MICROPIM_EXPIRES", "12h")
    status, out, err = cli(capsys, "create-key", "--org", "Env", "--db", db_path)
    assert status == 0, err
    scope, expires_at = db.execute_sql(
        "SELECT scope, expires_at FROM api_key ORDER BY id DESC LIMIT 1").fetchone()
    assert scope == "read"
    left = dt.datetime.fromisoformat(expires_at.replace("Z", "+00:00")) - dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(hours=11, minutes=59) < left <= dt.timedelta(hours=12)
    monkeypatch.setenv("MICROPIM_SCOPE", "owner")
    status, out, err = cli(capsys, "create-key", "--org", "Env", "--db", db_path)
    assert status == 2 and err == "micropim: error: argument --scope: expected one of read, write, got 'owner'\n"


async def test_create_key_expires_and_keys_says_so(capsys: Any, db_path: str, db: Database,
                                                  api: Api) -> None:
    status, out, err = cli(capsys, "create-key", "--org", "Shop", "--expires", "90d", "--db", db_path)
    assert status == 0, err
    key = out.splitlines()[-1]
    assert (await api.get("/api/products", key=key)).code == 200
    expected = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=90)).strftime("%Y-%m-%dT%H:%M")
    status, out, err = cli(capsys, "keys", "--org", "Shop", "--db", db_path)
    assert expected in out.splitlines()[1]
    db.execute_sql("UPDATE api_key SET expires_at = '2020-01-01T00:00:00.000000Z'")
    db.keys.clear()
    response = await api.get("/api/products", key=key)
    assert response.code == 401 and response.error == "expired API key"
    status, out, err = cli(capsys, "keys", "--org", "Shop", "--db", db_path)
    assert "2020-01-01T00:00:00Z (expired)" in out


def test_keys_made_before_scopes_keep_writing(tmp_path: Any, monkeypatch: Any) -> None:
    """Migration 11 gives existing keys the power they had."""
    from store import migrations

    db = Database(str(tmp_path / "old.db"))
    try:
        monkeypatch.setattr(migrations, "MIGRATIONS", [m for m in migrations.MIGRATIONS if m[0] < 11])
        migrations.migrate(db)
        db.execute_sql("INSERT INTO organization (name, created_at) VALUES ('Old', 'x')")
        db.execute_sql("INSERT INTO api_key (org_id, prefix, key_hash, created_at) VALUES (1, 'mpk_old', 'h', 'x')")
        monkeypatch.undo()
        assert migrations.migrate(db)[0] == 11
        assert db.execute_sql("SELECT scope, expires_at, last_used_at FROM api_key").fetchall() == [
            ("write", None, None)]
    finally:
        db.close()
