"""Fixtures: a real SQLite file in tmp_path, a real HTTP server, an API client.

`app` is the application of each test, on its own database file (a copy of a
migrated template, so no test pays for the migrations); `db` is that application's
database, for tests that look at or prepare rows directly. `api` is a client for
organization "Acme"; `other_api` speaks for a second organization, for isolation
tests. Nothing of our own store is mocked.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any, Iterator

import pytest

import micropim
from search.model import ImageModels
from store.db import Database, open_database
from tests.factories import make_key, make_org

# The built-in image model is built once per machine and loaded once per test run,
# not built beside every test's database (search/model.py checks the cache by hash).
os.environ.setdefault("MICROPIM_MODEL_CACHE", os.path.join(tempfile.gettempdir(), "micropim-test-model"))


class FakeClock:
    """A monotonic clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: Any) -> str:
    """A database made and migrated once per run; each test starts from a copy."""
    path = str(tmp_path_factory.mktemp("template") / "template.db")
    open_database(path).close()
    return path


@pytest.fixture
def db_path(tmp_path: Any, template_db: str) -> str:
    path = str(tmp_path / "micropim.db")
    shutil.copyfile(template_db, path)
    return path


@pytest.fixture(scope="session")
def image_models() -> ImageModels:
    """One image model for the whole run (built once per machine, see above)."""
    return ImageModels(None, os.environ["MICROPIM_MODEL_CACHE"])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(db_path: str, clock: FakeClock, image_models: ImageModels) -> micropim.Settings:
    """Generous limits; rate-limit tests make their own."""
    return micropim.Settings(database=db_path, read_limit=100_000, write_limit=100_000, clock=clock,
                             public_url="http://pim.test", image_models=image_models)


@pytest.fixture
def app(settings: micropim.Settings) -> Iterator[Any]:
    application = micropim.make_app(settings)
    yield application
    application.close()


@pytest.fixture
def db(app: Any) -> Database:
    """The test application's database."""
    return app.db  # type: ignore[no-any-return]


@pytest.fixture
def store(db: Database) -> Database:
    """The database, for tests of the store that need no server."""
    return db


@pytest.fixture
def org_id(db: Database) -> int:
    return make_org(db, "Acme")


@pytest.fixture
def other_org_id(db: Database) -> int:
    return make_org(db, "Globex")


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
def api(http_server_client: Any, db: Database, org_id: int) -> Api:
    return Api(http_server_client, make_key(db, org_id))


@pytest.fixture
def other_api(http_server_client: Any, db: Database, other_org_id: int) -> Api:
    return Api(http_server_client, make_key(db, other_org_id))


@pytest.fixture
def anon(http_server_client: Any) -> Api:
    return Api(http_server_client, None)


# ---- browser tests (tests/browser.py) -------------------------------------------------

@pytest.fixture(scope="session")
def site(tmp_path_factory: Any) -> Iterator[Any]:
    """`micropim serve` on its own database with a small catalog, for the whole run."""
    from tests.browser import start_site

    running = start_site(tmp_path_factory.mktemp("ui"))
    yield running
    running.server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium, driven by Playwright (no browser is downloaded).

    Once per module, not per session: Playwright's sync client holds an event loop on
    the main thread while it runs, and the async API tests need that thread's loop free.
    """
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"browser tests need Chromium at {CHROMIUM}: `apt-get install chromium` "
                    "(or set MICROPIM_CHROMIUM to another Chromium)")
    driver = sync_playwright().start()
    try:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        driver.stop()


DESKTOP = {"viewport": {"width": 1280, "height": 860}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def _tab(browser: Any, site: Any, key: str | None, request: Any,
         device: dict[str, Any] = DESKTOP) -> Iterator[Any]:
    """A new browser context (own session storage); fails the test on any script error."""
    context = browser.new_context(base_url=site.url, **device)
    if key:
        context.add_init_script(f"sessionStorage.setItem('micropim.key', {json.dumps(key)})")
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    tab.on("console", lambda message: errors.append(f"console: {message.text}")
           if message.type == "error" and not _expected_console_error(message.text) else None)
    yield tab
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        from tests.browser import screenshot

        screenshot(tab, f"failed-{request.node.name}")
    context.close()
    assert not errors, errors


def _expected_console_error(text: str) -> bool:
    # Chromium logs every 4xx answer a page receives; the UI shows those to the user.
    return text.startswith("Failed to load resource: the server responded with a status of 4")


@pytest.fixture
def page(browser: Any, site: Any, request: Any) -> Iterator[Any]:
    """A signed-in tab on the site (the key already in session storage)."""
    yield from _tab(browser, site, site.key, request)


@pytest.fixture
def signed_out_page(browser: Any, site: Any, request: Any) -> Iterator[Any]:
    yield from _tab(browser, site, None, request)


@pytest.fixture
def phone(browser: Any, site: Any, request: Any) -> Iterator[Any]:
    """A signed-in tab on a phone's screen: 390 x 844, touch."""
    yield from _tab(browser, site, site.key, request, PHONE)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Iterator[None]:
    """Keep each phase's report on the test, so fixtures can tell a failure (screenshots)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
