"""Webhook deliveries to a real local receiver: signed, in order, retried, failing,
disabled and resumed. The server allows private URLs here (the receiver is on
127.0.0.1) and retries after a thousandth of a second."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from typing import Any, Iterator

import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web

import micropim
from store.db import Database
from tests.factories import post_product


@pytest.fixture
def settings(settings: micropim.Settings) -> micropim.Settings:
    settings.allow_private_urls = True
    settings.webhook_retry_base = 0.001
    return settings


class Receiver:
    """A webhook receiver on a local port: records each request, answers the statuses
    queued in `answers` (then 200)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        self.always: int | None = None
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        receiver = self

        class Hook(tornado.web.RequestHandler):
            def post(self) -> None:
                receiver.requests.append((dict(self.request.headers), self.request.body))
                status = receiver.always or (receiver.answers.pop(0) if receiver.answers else 200)
                self.set_status(status)
                self.finish("ok")

        self.server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/hook", Hook)]))
        self.server.add_sockets(sockets)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def ids(self) -> list[str]:
        return [headers["Webhook-Id"] for headers, _ in self.requests]

    async def wait_for(self, count: int, timeout: float = 15) -> None:
        for _ in range(int(timeout / 0.01)):
            if len(self.requests) >= count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{len(self.requests)} requests, not {count}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.server.stop()


@pytest.fixture
def sender(app: Any, io_loop: Any) -> Iterator[Any]:
    """The application's deliveries, running on the test's loop (as `serve` runs them)."""
    io_loop.run_sync(app.webhooks.start)
    yield app.webhooks
    io_loop.run_sync(app.webhooks.stop)


def expected_signature(secret: str, headers: dict[str, str], body: bytes) -> str:
    """Standard Webhooks' v1 signature, from its specification, not from our code."""
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{headers['Webhook-Id']}.{headers['Webhook-Timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


async def hook(api: Any, receiver: Receiver, events: list[str] | None = None) -> dict[str, Any]:
    created = await api.post("/api/webhooks", {"url": receiver.url, "events": events or ["*"]})
    assert created.code == 201, created.body
    return dict(created.data)


async def until(check: Any, timeout: float = 15) -> None:
    for _ in range(int(timeout / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def test_events_reach_the_receiver_signed_in_order_as_the_feed_shows_them(
        api: Any, receiver: Receiver, sender: Any) -> None:
    await post_product(api, "Before", "B-0")  # before the webhook: not delivered
    made = await hook(api, receiver, ["product.*"])
    ids = [(await post_product(api, f"P{n}", f"P-{n}"))["id"] for n in range(5)]
    await api.put(f"/api/products/{ids[0]}/stock", [{"warehouse_id": 1, "quantity": 3}])  # not subscribed
    await api.patch(f"/api/products/{ids[0]}", {"name": "Renamed"})
    await receiver.wait_for(6)
    feed = (await api.get(f"/api/events?after={made['delivered_id']}&type=product.*")).data["events"]
    assert len(feed) == 6 and receiver.ids() == [str(event["id"]) for event in feed]
    for (headers, body), event in zip(receiver.requests, feed):
        assert json.loads(body) == event
        assert headers["Content-Type"] == "application/json"
        assert headers["Webhook-Signature"] == expected_signature(made["secret"], headers, body)
    await until(lambda: _delivered(api, made["id"], feed[-1]["id"]))
    deliveries = (await api.get(f"/api/webhooks/{made['id']}/deliveries?limit=3")).data["deliveries"]
    assert [(d["event_id"], d["attempt"], d["http_status"], d["error"]) for d in deliveries] == [
        (event["id"], 1, 200, None) for event in reversed(feed[-3:])]


async def _delivered(api: Any, webhook_id: int, event_id: int) -> bool:
    return bool((await api.get(f"/api/webhooks/{webhook_id}")).data["delivered_id"] == event_id)


async def test_a_receiver_failing_twice_gets_the_event_three_times_with_one_id_and_order_holds(
        api: Any, receiver: Receiver, sender: Any) -> None:
    made = await hook(api, receiver)
    receiver.answers = [500, 503]
    first = await post_product(api, "One", "O-1")
    second = await post_product(api, "Two", "O-2")
    await receiver.wait_for(4)
    ids = receiver.ids()
    assert ids[0] == ids[1] == ids[2] and ids[3] == str(int(ids[0]) + 1)
    assert [json.loads(body)["object_id"] for _, body in receiver.requests] == [first["id"]] * 3 + [second["id"]]
    await until(lambda: _delivered(api, made["id"], int(ids[3])))
    deliveries = (await api.get(f"/api/webhooks/{made['id']}/deliveries")).data["deliveries"]
    assert [(d["attempt"], d["http_status"], d["error"]) for d in reversed(deliveries)] == [
        (1, 500, "HTTP 500"), (2, 503, "HTTP 503"), (3, 200, None), (1, 200, None)]
    assert (await api.get(f"/api/webhooks/{made['id']}")).data["status"] == "active"


async def test_eight_failed_tries_make_it_failing_three_days_disable_it_and_enabling_resumes(
        api: Any, receiver: Receiver, sender: Any, db: Database) -> None:
    made = await hook(api, receiver)
    receiver.always = 500
    product = await post_product(api, "Stuck", "S-1")

    async def status() -> str:
        return str((await api.get(f"/api/webhooks/{made['id']}")).data["status"])

    await until(lambda: _is(status, "failing"))
    shown = (await api.get(f"/api/webhooks/{made['id']}")).data
    assert shown["last_error"].endswith("8 tries failed; the last: HTTP 500") and shown["failing_since"]
    assert len(receiver.requests) >= 8 and len(set(receiver.ids())) == 1
    # Failing for 4 days: the next round of tries disables it (the PATCH restarts its worker).
    db.execute_sql("UPDATE webhook SET failing_since = '2020-01-01T00:00:00.000000Z' WHERE id = ?", (made["id"],))
    assert (await api.patch(f"/api/webhooks/{made['id']}", {"description": "shop"})).code == 200
    await until(lambda: _is(status, "disabled"))
    disabled = (await api.get(f"/api/webhooks/{made['id']}")).data
    assert disabled["enabled"] is False and disabled["last_error"].startswith("disabled after failing for 3 days")
    assert disabled["delivered_id"] == made["delivered_id"]
    # Nothing is sent while disabled; enabling resumes from the first undelivered event.
    tries = len(receiver.requests)
    await post_product(api, "Later", "S-2")
    await asyncio.sleep(0.3)
    assert len(receiver.requests) == tries
    receiver.always = None
    enabled = await api.patch(f"/api/webhooks/{made['id']}", {"enabled": True})
    assert (enabled.data["status"], enabled.data["enabled"], enabled.data["last_error"]) == ("active", True, None)
    await receiver.wait_for(tries + 2)
    resumed = [json.loads(body) for _, body in receiver.requests[tries:]]
    assert [(e["type"], e["data"]["sku"]) for e in resumed] == [("product.created", "S-1"), ("product.created", "S-2")]
    assert resumed[0]["object_id"] == product["id"]


async def _is(status: Any, wanted: str) -> bool:
    return bool(await status() == wanted)


async def test_ping_rotate_redeliver_and_delete(api: Any, receiver: Receiver, sender: Any) -> None:
    made = await hook(api, receiver)
    ping = await api.post(f"/api/webhooks/{made['id']}/test")
    assert ping.code == 200 and ping.data["ok"] is True and ping.data["http_status"] == 200
    headers, body = receiver.requests[-1]
    assert json.loads(body)["type"] == "ping" and headers["Webhook-Id"].startswith("ping_")
    assert headers["Webhook-Signature"] == expected_signature(made["secret"], headers, body)
    rotated = (await api.post(f"/api/webhooks/{made['id']}/rotate-secret")).data
    assert rotated["secret"] != made["secret"] and "secret" not in (await api.get(f"/api/webhooks/{made['id']}")).data
    product = await post_product(api, "Signed anew", "R-1")
    await receiver.wait_for(2)
    headers, body = receiver.requests[-1]
    assert headers["Webhook-Signature"] == expected_signature(rotated["secret"], headers, body)
    assert headers["Webhook-Signature"] != expected_signature(made["secret"], headers, body)
    # Redelivery sends the same event again, with the same id.
    redone = await api.post(f"/api/webhooks/{made['id']}/redeliver", {"after": made["delivered_id"]})
    assert redone.code == 200, redone.body
    await receiver.wait_for(3)
    assert receiver.ids()[1] == receiver.ids()[2] and json.loads(receiver.requests[2][1])["object_id"] == product["id"]
    too_far = await api.post(f"/api/webhooks/{made['id']}/redeliver", {"after": 10**12})
    assert too_far.code == 400 and too_far.error.startswith("after: must be at most the newest event id")
    bad_events = await api.patch(f"/api/webhooks/{made['id']}", {"events": ["product.sold"]})
    assert bad_events.code == 400 and bad_events.error.startswith("events: unknown event type 'product.sold'")
    # Refused changes leave it delivering.
    heard = await post_product(api, "Still heard", "R-3")
    await receiver.wait_for(4)
    assert json.loads(receiver.requests[3][1])["object_id"] == heard["id"]
    # A deleted webhook gets nothing more.
    assert (await api.delete(f"/api/webhooks/{made['id']}")).code == 200
    await post_product(api, "Unheard", "R-2")
    await asyncio.sleep(0.3)
    assert len(receiver.requests) == 4
    refused = await api.post(f"/api/webhooks/{made['id']}/test")
    assert refused.code == 404 and refused.error == f"webhook {made['id']} not found"


async def test_an_unreachable_receiver_is_recorded_as_no_answer(api: Any, sender: Any) -> None:
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    made = (await api.post("/api/webhooks", {"url": f"http://127.0.0.1:{port}/", "events": ["*"]})).data
    ping = (await api.post(f"/api/webhooks/{made['id']}/test")).data
    assert ping["ok"] is False and ping["http_status"] is None and ping["error"].startswith("connection failed")
