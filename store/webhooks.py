"""Webhooks: an organization's subscriptions to its change events, and their deliveries.

A webhook holds the event type patterns it wants (`events`), its signing `secret`
(shown only when made or rotated) and `delivered_id`: the last event its receiver
acknowledged. The sender (`search.webhooks`) delivers the events after it, in order,
and moves it on; so a restart, even after a `kill -9`, goes on from the first event not
acknowledged (at least once: an acknowledged event whose move was not yet written is
sent again, with the same `webhook-id`).

Status: `active`; `failing` once an event's every retry failed (the sender keeps
trying, more slowly); `disabled` after `DISABLE_AFTER` failing, or by the owner
(`enabled: false`). Enabling it again makes it `active` and resumes from
`delivered_id`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from typing import Any

from store import events
from store.db import Database
from store.errors import BadRequest, NotFound
from store.values import utcnow

SECRET_PREFIX = "whsec_"
#: How long a webhook may stay `failing` before it is disabled.
DISABLE_AFTER = dt.timedelta(days=3)
#: Attempts kept per webhook for `GET /api/webhooks/{id}/deliveries`.
KEEP_DELIVERIES = 1000
DELIVERIES_LIMIT_MAX = 100

_SHOWN = ("id", "url", "events", "description", "enabled", "status", "last_error", "failing_since",
          "delivered_id", "created_at", "updated_at")
_SELECT = f"SELECT {', '.join(_SHOWN)} FROM webhook"


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes one: `whsec_` and 24 random bytes
    in base64 (the bytes are the HMAC key)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def signing_key(secret: str) -> bytes:
    return base64.b64decode(secret[len(SECRET_PREFIX):])


def _to_api(row: tuple[Any, ...]) -> dict[str, Any]:
    shown = dict(zip(_SHOWN, row))
    shown["events"] = json.loads(shown["events"])
    shown["enabled"] = bool(shown["enabled"])
    return shown


def _row(db: Database, org_id: int, webhook_id: int) -> tuple[Any, ...]:
    row = db.execute_sql(f"{_SELECT} WHERE id = ? AND org_id = ?", (webhook_id, org_id)).fetchone()
    if row is None:
        raise NotFound(f"webhook {webhook_id} not found")
    return tuple(row)


def get_webhook(db: Database, org_id: int, webhook_id: int) -> dict[str, Any]:
    return _to_api(_row(db, org_id, webhook_id))


def list_webhooks(db: Database, org_id: int, page: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    total = int(db.execute_sql("SELECT count(*) FROM webhook WHERE org_id = ?", (org_id,)).fetchone()[0])
    rows = db.execute_sql(f"{_SELECT} WHERE org_id = ? ORDER BY id LIMIT ? OFFSET ?",
                          (org_id, limit, (page - 1) * limit)).fetchall()
    return [_to_api(row) for row in rows], total


def create_webhook(db: Database, org_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """A new webhook, delivering the events after the newest one now (inside a write
    transaction); answers it with its `secret`, the only time it is shown."""
    patterns = events.check_patterns("events", data["events"])
    secret = new_secret()
    now = utcnow()
    cursor = db.execute_sql(
        "INSERT INTO webhook (org_id, url, events, description, secret, delivered_id, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (org_id, data["url"], json.dumps(patterns), data.get("description", ""), secret,
         events.latest_id(db, org_id), now, now))
    return {**get_webhook(db, org_id, int(cursor.lastrowid)), "secret": secret}


def update_webhook(db: Database, org_id: int, webhook_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Change `url`, `events`, `description` or `enabled`. Enabling a disabled or
    failing webhook makes it active again, resuming from its first undelivered event."""
    current = get_webhook(db, org_id, webhook_id)
    columns: dict[str, Any] = {}
    if "url" in data:
        columns["url"] = data["url"]
    if "events" in data:
        columns["events"] = json.dumps(events.check_patterns("events", data["events"]))
    if "description" in data:
        columns["description"] = data["description"]
    if "enabled" in data:
        columns["enabled"] = int(data["enabled"])
        if data["enabled"] and (not current["enabled"] or current["status"] != "active"):
            columns.update(status="active", last_error=None, failing_since=None)
        elif not data["enabled"]:
            columns["status"] = "disabled"
    if columns:
        columns["updated_at"] = utcnow()
        assignments = ", ".join(f"{name} = ?" for name in columns)
        db.execute_sql(f"UPDATE webhook SET {assignments} WHERE id = ?", [*columns.values(), webhook_id])
    return get_webhook(db, org_id, webhook_id)


def delete_webhook(db: Database, org_id: int, webhook_id: int) -> dict[str, Any]:
    shown = get_webhook(db, org_id, webhook_id)
    db.execute_sql("DELETE FROM webhook WHERE id = ?", (webhook_id,))
    return shown


def rotate_secret(db: Database, org_id: int, webhook_id: int) -> dict[str, Any]:
    """A new secret, used for every delivery from now on; answers the webhook with it."""
    get_webhook(db, org_id, webhook_id)
    secret = new_secret()
    db.execute_sql("UPDATE webhook SET secret = ?, updated_at = ? WHERE id = ?", (secret, utcnow(), webhook_id))
    return {**get_webhook(db, org_id, webhook_id), "secret": secret}


def redeliver(db: Database, org_id: int, webhook_id: int, after: int) -> dict[str, Any]:
    """Deliver again every event after `after` (the events kept and subscribed to)."""
    current = get_webhook(db, org_id, webhook_id)
    floor = events.removed_through(db, org_id)
    if after < floor:
        raise BadRequest(f"after: the events up to {floor} are no longer kept")
    latest = events.latest_id(db, org_id)
    if after > latest:
        raise BadRequest(f"after: must be at most the newest event id, {latest}")
    columns: dict[str, Any] = {"delivered_id": after, "updated_at": utcnow()}
    if current["enabled"]:
        columns.update(status="active", last_error=None, failing_since=None)
    assignments = ", ".join(f"{name} = ?" for name in columns)
    db.execute_sql(f"UPDATE webhook SET {assignments} WHERE id = ?", [*columns.values(), webhook_id])
    return get_webhook(db, org_id, webhook_id)


# ---- deliveries ----------------------------------------------------------------------

_DELIVERY = ("id", "event_id", "attempt", "attempted_at", "http_status", "duration_ms", "error")


def list_deliveries(db: Database, org_id: int, webhook_id: int, limit: int) -> list[dict[str, Any]]:
    """The webhook's last attempts, newest first."""
    get_webhook(db, org_id, webhook_id)
    rows = db.execute_sql(f"SELECT {', '.join(_DELIVERY)} FROM webhook_delivery WHERE webhook_id = ?"
                          " ORDER BY id DESC LIMIT ?", (webhook_id, limit)).fetchall()
    return [{**dict(zip(_DELIVERY, row)), "duration_ms": round(row[5], 1)} for row in rows]


def signing_row(db: Database, org_id: int, webhook_id: int) -> dict[str, Any]:
    """The webhook's URL and secret, to send it something (a ping)."""
    row = db.execute_sql("SELECT url, secret FROM webhook WHERE id = ? AND org_id = ?",
                         (webhook_id, org_id)).fetchone()
    if row is None:
        raise NotFound(f"webhook {webhook_id} not found")
    return {"url": row[0], "secret": row[1]}


def deliverable(db: Database) -> list[dict[str, Any]]:
    """What the sender needs of every enabled webhook: (id, org, url, patterns, secret,
    status, failing_since, delivered_id)."""
    rows = db.execute_sql("SELECT id, org_id, url, events, secret, status, failing_since, delivered_id"
                          " FROM webhook WHERE enabled AND status != 'disabled' ORDER BY id").fetchall()
    names = ("id", "org_id", "url", "events", "secret", "status", "failing_since", "delivered_id")
    return [{**dict(zip(names, row)), "events": json.loads(row[3])} for row in rows]


def record_attempts(db: Database, attempts: list[tuple[int, int | None, int, str, int | None, float, str | None]],
                    acknowledged: dict[int, int]) -> None:
    """Write attempts (webhook, event or None, attempt, time, HTTP status, ms, error) and
    move each webhook's `delivered_id` to the last event it acknowledged (inside a write
    transaction). Old attempts beyond `KEEP_DELIVERIES` per webhook go."""
    if attempts:
        db.connection().executemany(
            "INSERT INTO webhook_delivery (webhook_id, event_id, attempt, attempted_at, http_status,"
            " duration_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?)", attempts)
    for webhook_id, event_id in acknowledged.items():
        db.execute_sql("UPDATE webhook SET delivered_id = max(delivered_id, ?) WHERE id = ?",
                       (event_id, webhook_id))
    for webhook_id in {attempt[0] for attempt in attempts}:
        db.execute_sql(
            "DELETE FROM webhook_delivery WHERE webhook_id = ? AND id <= (SELECT id FROM webhook_delivery"
            " WHERE webhook_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)", (webhook_id, webhook_id, KEEP_DELIVERIES))


def set_status(db: Database, webhook_id: int, status: str, error: str | None) -> None:
    """The sender's verdict: `active` (an event went through), `failing` (every retry of
    an event failed: since when is kept) or `disabled` (failing too long)."""
    now = utcnow()
    if status == "active":
        db.execute_sql("UPDATE webhook SET status = 'active', last_error = NULL, failing_since = NULL"
                       " WHERE id = ? AND status = 'failing'", (webhook_id,))
    elif status == "failing":
        db.execute_sql("UPDATE webhook SET status = 'failing', last_error = ?,"
                       " failing_since = coalesce(failing_since, ?), updated_at = ? WHERE id = ? AND enabled",
                       (error, now, now, webhook_id))
    else:
        db.execute_sql("UPDATE webhook SET status = 'disabled', enabled = 0, last_error = ?, updated_at = ?"
                       " WHERE id = ?", (error, now, webhook_id))
