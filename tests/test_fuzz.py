"""Schemathesis against the served OpenAPI document: every operation, fuzzed.

The application runs in this process behind the same `LimitedHTTPServer` as `micropim
serve`, on an event loop of its own thread (schemathesis calls it synchronously,
through `requests`), over a database holding one of every kind of object, so that
generated ids (the coverage phase tries 1, the smallest) reach real rows. Schemathesis
takes the document that server serves (the same document, built when the tests are
collected: schemathesis makes one test per operation then) and runs its examples,
coverage and fuzzing phases for each operation, positive and negative, with a fixed
seed and a bounded number of examples, and these checks on every answer:

- `not_a_server_error`: no 5xx;
- `status_code_conformance`: the status is one the operation documents;
- `content_type_conformance`: the `Content-Type` is one documented for that status;
- `response_schema_conformance`: the body fits the documented schema.

Zero failures is the bar: what it finds is fixed in the code, or in the declarations
when the document is wrong, each with a test of its own elsewhere.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import urllib.request
from decimal import Decimal
from typing import Any, Iterator

import pytest
import requests
import tornado.netutil

import micropim
from handlers.app import Application
from handlers.openapi import Route, build_document
from handlers.server import LimitedHTTPServer, ServerLimits
from search.fetch import Fetcher
from store.db import Database
from tests.factories import make_key, make_org

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

pytestmark = pytest.mark.slow

SEED = 14  # issue 14: the same cases on every run and every machine
MAX_EXAMPLES = 25  # fuzzing cases per operation and mode; the other phases add their own
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


class Served:
    """The test's application behind a `LimitedHTTPServer` on 127.0.0.1, on an event
    loop of its own thread."""

    def __init__(self, app: Application, key: str) -> None:
        self.app = app
        self.key = key
        self.session = requests.Session()  # kept-alive connections, as a real client
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.server: LimitedHTTPServer
        self.thread = threading.Thread(target=self._run, name="fuzz-server", daemon=True)
        self.thread.start()
        assert self.ready.wait(10), "the server did not start"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            self.server = LimitedHTTPServer(self.app, ServerLimits(max_connections=64),
                                            max_body_size=32 * 1024 * 1024)
            sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
            self.port = sockets[0].getsockname()[1]
            self.server.add_sockets(sockets)

        self.loop.run_until_complete(start())
        self.ready.set()
        self.loop.run_forever()

    def stop(self) -> None:
        async def shut() -> None:
            self.server.stop()
            await asyncio.wait_for(self.server.close_all_connections(), 5)

        self.session.close()
        asyncio.run_coroutine_threadsafe(shut(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def ean13(first12: str) -> str:
    """The EAN-13 with these 12 digits and its check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)


def seed_catalog(db: Database, org_id: int) -> None:
    """One or more of every kind of object, the first of each with id 1."""
    from search import imaging
    from store import attributes, categories, media, orgs, translations, variants
    from store.products import write as products
    from store.reference import BRANDS, SUPPLIERS, VAT_RATES, WAREHOUSES
    from tests.factories import draw

    with db.writing():
        brand = BRANDS.create(db, org_id, {"name": "Acme", "description": "Tools"})["id"]
        supplier = SUPPLIERS.create(db, org_id, {"name": "Parts Ltd", "email": "parts@example.com",
                                                 "phone": "+40 21 000 0000"})["id"]
        vat = VAT_RATES.create(db, org_id, {"name": "Standard", "rate": 19, "country_code": "RO"})["id"]
        WAREHOUSES.create(db, org_id, {"name": "North", "code": "NORTH"})
        parent = categories.create_category(db, org_id, {"name": "Kitchen"})["id"]
        child = categories.create_category(db, org_id, {"name": "Mugs", "parent_id": parent})["id"]
        attributes.create_attribute(db, org_id, {"name": "Colour", "code": "color", "type": "select",
                                                 "options": ["Red", "Blue"], "is_variant_axis": True})
        attributes.create_attribute(db, org_id, {"name": "Material", "type": "text"})
        attributes.create_attribute(db, org_id, {"name": "Weight", "type": "number", "unit": "g"})
        attributes.create_attribute(db, org_id, {"name": "Tags", "type": "multiselect",
                                                 "options": ["new", "sale"]})
        orgs.set_channels(db, org_id, [{"value": "web"}, {"value": "mobile"}, {"value": "marketplace", "label": "Shops"}])
        picture = imaging.prepare_upright(draw(1), "file")[0]
        for n in range(1, 4):
            product = products.create_product(db, org_id, {
                "name": f"Mug {n}", "sku": f"MUG-{n}", "price": Decimal("12.50"), "sale_price": Decimal("9.90"),
                "ean": ean13(f"594000000{n:03d}"), "brand_id": brand, "supplier_id": supplier,
                "vat_rate_id": vat, "category_ids": [child], "publishing_channels": ["web"],
                "attributes": {"material": "porcelain", "weight": 350, "tags": ["new"]},
                "description": "A mug.", "status": "active"})["id"]
            translations.put_translation(db, org_id, product, "de", {"name": f"Becher {n}"})
            media.add_media(db, org_id, product, picture, "Front", None, None)
        shirt = products.create_product(db, org_id, {"name": "Shirt", "sku": "SHIRT"})["id"]
        for colour in ("Red", "Blue"):
            variants.create_variant(db, org_id, shirt, {"sku": f"SHIRT-{colour.upper()}", "price": Decimal("20"),
                                                        "attributes": {"color": colour}})


@pytest.fixture(scope="module")
def served(tmp_path_factory: Any, image_models: Any) -> Iterator[Served]:
    """One server for the module's tests, on a database seeded once: each operation's
    cases see what the operations before them left (as a real client would)."""
    settings = micropim.Settings(database=str(tmp_path_factory.mktemp("fuzz") / "fuzz.db"),
                                 read_limit=1_000_000, write_limit=1_000_000,
                                 public_url="http://pim.test", image_models=image_models)
    app = micropim.make_app(settings)
    org_id = make_org(app.db, "Acme")
    seed_catalog(app.db, org_id)
    # A generated `file_url` must never reach the network: every address is refused
    # (after a name resolution that fails or answers at once), within a short deadline.
    app.images.fetcher = Fetcher(timeout=2.0, allowed=lambda address: False)
    running = Served(app, make_key(app.db, org_id))
    # Thousands of refused requests are the point here; their access-log lines are not.
    access = logging.getLogger("tornado.access")
    level = access.level
    access.setLevel(logging.ERROR)
    try:
        yield running
    finally:
        access.setLevel(level)
        running.stop()
        app.close()


#: The document the server serves, built from the same routing table and
#: declarations (`test_the_fuzzed_document_is_the_served_one` holds them equal): the
#: cases are generated when the tests are collected, before any server runs.
DOCUMENT = build_document([Route(route[0], route[1], route[2] if len(route) > 2 else {})
                           for route in micropim.routes()])
CONFIG = schemathesis.Config.from_dict({
    "seed": SEED,
    "cache": {"enabled": False},
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
    "suppress-health-check": ["all"],
})
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


def test_the_fuzzed_document_is_the_served_one(served: Served) -> None:
    with urllib.request.urlopen(f"{served.url}/api/openapi.json", timeout=10) as answer:
        assert json.loads(answer.read()) == DOCUMENT


@schema.parametrize()
def test_the_served_document_holds_for_fuzzed_requests(case: Any, served: Served) -> None:
    case.call_and_validate(base_url=served.url, session=served.session,
                           headers={"X-API-KEY": served.key}, checks=CHECKS)
