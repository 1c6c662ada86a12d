"""Fixtures: a real SQLite file in tmp_path, a real HTTP server, an API client.

`api` is a client for organization "Acme"; `other_api` speaks for a second
organization, for isolation tests. Nothing of our own store is mocked.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import pytest

import micropim
import store.db as store_db
from store import orgs
from store.db import close_database, open_database

store_db.TRACE = True  # for count_queries(); each connection opened from now on reports

# The built-in image model is built once per machine and loaded once per test process,
# not built beside every test's database (search/model.py checks the cache by hash).
os.environ.setdefault("MICROPIM_MODEL_CACHE", os.path.join(tempfile.gettempdir(), "micropim-test-model"))


@contextmanager
def count_queries() -> Iterator[list[str]]:
    """Collect every SQL statement run, on any thread, while the block runs.

        with count_queries() as seen:
            await api.get("/api/categories/tree")
        assert len(seen) <= 5, seen
    """
    seen: list[str] = []
    store_db.statement_listeners.append(seen.append)
    try:
        yield seen
    finally:
        store_db.statement_listeners.remove(seen.append)


class FakeClock:
    """A monotonic clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def db_path(tmp_path: Any) -> str:
    return str(tmp_path / "micropim.db")


@pytest.fixture
def store(db_path: str) -> Iterator[str]:
    open_database(db_path)
    yield db_path
    close_database()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(clock: FakeClock) -> micropim.Settings:
    """Generous limits; rate-limit tests make their own."""
    return micropim.Settings(read_limit=100_000, write_limit=100_000, clock=clock,
                             public_url="http://pim.test")


@pytest.fixture
def app(store: str, settings: micropim.Settings) -> Iterator[Any]:
    application = micropim.make_app(settings)
    yield application
    application.settings["executor"].shutdown(wait=True)
    application.settings["writer"].shutdown(wait=True)


@pytest.fixture
def org_id(store: str) -> int:
    return orgs.get_or_create_org("Acme")


@pytest.fixture
def other_org_id(store: str) -> int:
    return orgs.get_or_create_org("Globex")


@dataclass
class Response:
    code: int
    body: Any
    headers: Any
    raw: bytes

    @property
    def data(self) -> Any:
        assert self.body["status"] == 1, self.body
        return self.body["data"]

    @property
    def error(self) -> str:
        assert self.body["status"] == 0 and self.body["data"] is None, self.body
        return str(self.body["error"])


class Api:
    """A thin HTTP client: JSON in, `Response` out, never raises on a status."""

    def __init__(self, client: Any, key: str | None) -> None:
        self.client = client
        self.key = key

    async def call(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                   headers: dict[str, str] | None = None, key: str | None = "") -> Response:
        send = dict(headers or {})
        use_key = self.key if key == "" else key
        if use_key is not None:
            send.setdefault("X-API-KEY", use_key)
        payload = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        if payload is None and method in ("POST", "PUT", "PATCH"):
            payload = b""
        response = await self.client.fetch(
            path, method=method, body=payload, headers=send, raise_error=False,
            allow_nonstandard_methods=True,
        )
        text = response.body or b""
        is_json = response.headers.get("Content-Type", "").startswith("application/json")
        parsed = json.loads(text) if text and is_json and response.code != 304 else None
        return Response(response.code, parsed, response.headers, text)

    async def get(self, path: str, **kw: Any) -> Response:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, body: Any = None, **kw: Any) -> Response:
        return await self.call("POST", path, body, **kw)

    async def put(self, path: str, body: Any = None, **kw: Any) -> Response:
        return await self.call("PUT", path, body, **kw)

    async def patch(self, path: str, body: Any = None, **kw: Any) -> Response:
        return await self.call("PATCH", path, body, **kw)

    async def delete(self, path: str, **kw: Any) -> Response:
        return await self.call("DELETE", path, **kw)


@pytest.fixture
def api(http_server_client: Any, org_id: int) -> Api:
    return Api(http_server_client, orgs.create_key(org_id))


@pytest.fixture
def other_api(http_server_client: Any, other_org_id: int) -> Api:
    return Api(http_server_client, orgs.create_key(other_org_id))


@pytest.fixture
def anon(http_server_client: Any) -> Api:
    return Api(http_server_client, None)
