"""Migration 15: change events, webhooks and their deliveries.

- `event`: one row per change, written in the change's own transaction (see
  `store.events`), so a committed change always has its event and a rolled-back one
  never does. Ids increase with commit order: SQLite has one writer at a time, so a
  reader never sees event N+1 before event N.
- `event_floor`: per organization, the newest event id retention has removed; a feed
  cursor below it has missed events (410).
- `webhook`: a subscription; `delivered_id` is the id of the last event the receiver
  acknowledged (the next delivery starts after it, also after a restart).
- `webhook_delivery`: the recent attempts of each webhook (`event_id` null: a test ping).

Shipped: frozen. Never edit this file; add the next migration instead.
"""

NAME = "change events and webhooks"

SQL = """
CREATE TABLE event (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES organization(id),
    type TEXT NOT NULL,
    object_id INTEGER NOT NULL,
    product_id INTEGER,
    occurred_at TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX event_org ON event(org_id, id);
CREATE INDEX event_org_type ON event(org_id, type, id);
CREATE INDEX event_time ON event(occurred_at);
CREATE TABLE event_floor (
    org_id INTEGER PRIMARY KEY REFERENCES organization(id),
    removed_through INTEGER NOT NULL
);
CREATE TABLE webhook (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organization(id),
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    secret TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL DEFAULT 'active',
    last_error TEXT,
    failing_since TEXT,
    delivered_id INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX webhook_org ON webhook(org_id, id);
CREATE TABLE webhook_delivery (
    id INTEGER PRIMARY KEY,
    webhook_id INTEGER NOT NULL REFERENCES webhook(id) ON DELETE CASCADE,
    event_id INTEGER,
    attempt INTEGER NOT NULL,
    attempted_at TEXT NOT NULL,
    http_status INTEGER,
    duration_ms REAL NOT NULL,
    error TEXT
);
CREATE INDEX webhook_delivery_hook ON webhook_delivery(webhook_id, id);
"""
