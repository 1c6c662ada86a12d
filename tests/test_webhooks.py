"""The webhook API: what it takes, what it refuses (the media fetch's address rules),
what it shows, and to whom. Deliveries are tests/test_webhook_delivery.py."""

from __future__ import annotations

from typing import Any

import pytest

from store.db import Database

PUBLIC = "https://1.1.1.1/hooks/pim"  # an address literal: checked without a DNS lookup


async def test_create_list_get_update_delete(api: Any, db: Database) -> None:
    created = await api.post("/api/webhooks", {"url": PUBLIC, "events": ["product.*", "stock.updated", "product.*"],
                                               "description": "Shop sync"})
    assert created.code == 201, created.body
    made = created.data
    assert made["secret"].startswith("whsec_") and len(made["secret"]) == 6 + 32
    assert (made["url"], made["events"], made["description"], made["enabled"], made["status"]) == (
        PUBLIC, ["product.*", "stock.updated"], "Shop sync", True, "active")
    assert (made["last_error"], made["failing_since"], made["delivered_id"]) == (None, None, 0)
    shown = (await api.get(f"/api/webhooks/{made['id']}")).data
    assert shown == {name: value for name, value in made.items() if name != "secret"}
    listed = (await api.get("/api/webhooks")).data
    assert listed["webhooks"] == [shown] and listed["pagination"]["total_items"] == 1
    assert "whsec_" not in (await api.get("/api/webhooks")).raw.decode()
    changed = await api.patch(f"/api/webhooks/{made['id']}", {"events": ["*"], "enabled": False})
    assert (changed.data["events"], changed.data["enabled"], changed.data["status"]) == (["*"], False, "disabled")
    again = await api.patch(f"/api/webhooks/{made['id']}", {"enabled": True})
    assert (again.data["enabled"], again.data["status"]) == (True, "active")
    deleted = await api.delete(f"/api/webhooks/{made['id']}")
    assert deleted.code == 200 and deleted.data["id"] == made["id"]
    assert (await api.get(f"/api/webhooks/{made['id']}")).code == 404
    assert db.execute_sql("SELECT count(*) FROM webhook").fetchone()[0] == 0


async def test_a_new_webhook_starts_after_the_events_already_committed(api: Any) -> None:
    await api.post("/api/products", {"name": "Old", "sku": "OLD-1"})
    newest = (await api.get("/api/events")).data["next_after"]
    made = (await api.post("/api/webhooks", {"url": PUBLIC, "events": ["*"]})).data
    assert made["delivered_id"] == newest > 0


@pytest.mark.parametrize("url, message", [
    ("http://127.0.0.1/hook", "url: refused: host '127.0.0.1' is not a public address"),
    ("http://localhost:8080/", "url: refused: host 'localhost' is not a public address"),
    ("http://10.1.2.3/", "url: refused: host '10.1.2.3' is not a public address"),
    ("http://169.254.169.254/latest/meta-data/", "url: refused: host '169.254.169.254' is not a public address"),
    ("http://[::1]/", "url: refused: host '::1' is not a public address"),
    ("http://[::ffff:127.0.0.1]/", "url: refused: host '::ffff:127.0.0.1' is not a public address"),
    ("http://2130706433/", "url: refused: host '2130706433' is not a public address"),
    ("http://0x7f.1/", "url: refused: host '0x7f.1' is not a public address"),
    ("ftp://1.1.1.1/", "url: only http and https URLs can be fetched"),
    ("http://user:secret@1.1.1.1/", "url: URLs with a user name or password are not fetched"),
    ("http:///nohost", "url: the URL has no host"),
    ("https://1.1.1.1/a b", "url: must not contain spaces or control characters"),
])
async def test_webhook_urls_follow_the_media_fetch_rules(api: Any, db: Database, url: str, message: str) -> None:
    refused = await api.post("/api/webhooks", {"url": url, "events": ["*"]})
    assert refused.code == 400 and refused.error == message, refused.body
    made = (await api.post("/api/webhooks", {"url": PUBLIC, "events": ["*"]})).data
    moved = await api.patch(f"/api/webhooks/{made['id']}", {"url": url})
    assert moved.code == 400 and moved.error == message
    assert (await api.get(f"/api/webhooks/{made['id']}")).data["url"] == PUBLIC
    assert db.execute_sql("SELECT count(*) FROM webhook").fetchone()[0] == 1


@pytest.mark.parametrize("body, message", [
    ({"events": ["*"]}, "url: is required"),
    ({"url": PUBLIC}, "events: is required"),
    ({"url": PUBLIC, "events": []}, "events: must have at least 1 item"),
    ({"url": PUBLIC, "events": ["product.sold"]}, "events: unknown event type 'product.sold'"),
    ({"url": PUBLIC, "events": ["product"]}, "events: unknown event type 'product'"),
    ({"url": PUBLIC, "events": "product.*"}, "events: must be a list"),
    ({"url": 5, "events": ["*"]}, "url: must be a string"),
    ({"url": PUBLIC, "events": ["*"], "secret": "mine"}, "secret: unknown field"),
    ({"url": PUBLIC, "events": ["*"], "description": "x" * 501}, "description: must be at most 500 characters"),
])
async def test_bad_bodies_are_400s_naming_the_field(api: Any, db: Database, body: Any, message: str) -> None:
    refused = await api.post("/api/webhooks", body)
    assert refused.code == 400 and refused.error.startswith(message), refused.body
    assert db.execute_sql("SELECT count(*) FROM webhook").fetchone()[0] == 0


async def test_other_organizations_webhooks_are_invisible(api: Any, other_api: Any) -> None:
    made = (await api.post("/api/webhooks", {"url": PUBLIC, "events": ["*"]})).data
    assert (await other_api.get("/api/webhooks")).data["webhooks"] == []
    for method, path, body in [
        ("GET", f"/api/webhooks/{made['id']}", None),
        ("PATCH", f"/api/webhooks/{made['id']}", {"description": "mine now"}),
        ("POST", f"/api/webhooks/{made['id']}/rotate-secret", None),
        ("POST", f"/api/webhooks/{made['id']}/test", None),
        ("GET", f"/api/webhooks/{made['id']}/deliveries", None),
        ("POST", f"/api/webhooks/{made['id']}/redeliver", {"after": 0}),
        ("DELETE", f"/api/webhooks/{made['id']}", None),
    ]:
        answer = await other_api.call(method, path, body)
        assert answer.code == 404 and answer.error == f"webhook {made['id']} not found", (method, path)
    assert (await api.get(f"/api/webhooks/{made['id']}")).data["description"] == ""


async def test_a_read_only_key_cannot_manage_webhooks(api: Any, db: Database, org_id: int, http_server_client: Any) -> None:
    from store import orgs
    from tests.conftest import Api

    with db.writing():
        key = orgs.create_key(db, org_id, scope="read")
    reader = Api(http_server_client, key)
    refused = await reader.post("/api/webhooks", {"url": PUBLIC, "events": ["*"]})
    assert refused.code == 403 and refused.error == "this API key is read-only"
    assert (await reader.get("/api/webhooks")).code == 200
    assert (await reader.get("/api/events")).code == 200
