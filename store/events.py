"""Change events: one row per change, written in the change's own transaction.

A store write function says what it changed with `db.changed(...)` (see
`store.db.Database.changed`); the database keeps the changes of the open write
transaction and, just before it commits, `record()` writes their events. So a committed
change always has its event, a rolled-back one (or a bulk line undone by its savepoint)
never has, and a write that changes nothing says nothing and emits nothing.

An event's `data` is the object as the API shows it after the change, built when the
transaction is about to commit: several changes to one object in one transaction (a
bulk line sets a product's fields, its categories and its translations) make one event
with the final state. A delete passes the object's last state itself.

Ids come from one AUTOINCREMENT sequence, so they increase in commit order for every
organization (SQLite has one writer at a time: no reader sees event N+1 before N) and
are never reused, even after retention removes the oldest.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable

from store.errors import BadRequest, NotFound
from store.values import utcnow

if TYPE_CHECKING:
    from store.db import Database

#: Every event type, by the kind of object it is about.
TYPES = (
    "product.created", "product.updated", "product.archived",
    "variant.created", "variant.updated", "variant.deleted",
    "category.created", "category.updated", "category.moved", "category.deleted",
    "media.created", "media.updated", "media.deleted",
    "stock.updated",
    "translation.updated", "translation.deleted",
    "attribute.created", "attribute.updated", "attribute.deleted",
)
#: What a webhook's test sends; never stored in the feed.
PING = "ping"
FEED_LIMIT_MAX = 1000

#: `describe(db, org_id, object_id, product_id)`: the object as the API shows it now,
#: as a dict or as JSON text; raises NotFound when it is gone.
Describe = Callable[["Database", int, int, "int | None"], Any]


@dataclass
class Change:
    org_id: int
    type: str
    object_id: int
    product_id: int | None
    data: Any  # the object (dict or JSON text), or None: `describe` it at commit
    describe: Describe | None
    key: str = ""  # what tells apart objects under one id (a translation's locale)
    settled: bool = False  # its data was fixed at the end of its unit of work (`settle`)


# ---- writing --------------------------------------------------------------------------

def _kept(changes: list[Change]) -> list[Change]:
    """One change per event: a repeat of (type, object) is dropped, and an `updated`
    of an object `created` in the same transaction is part of its creation."""
    seen: set[tuple[int, str, int, str]] = set()
    kept = []
    for change in changes:
        if change.settled:
            kept.append(change)
            continue
        kind, _, action = change.type.partition(".")
        key = (change.org_id, change.type, change.object_id, change.key)
        created = (change.org_id, f"{kind}.created", change.object_id, change.key)
        if key in seen or (action == "updated" and created in seen):
            continue
        seen.add(key)
        kept.append(change)
    return kept


def _json(data: Any) -> str:
    return data if isinstance(data, str) else json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _described(db: Database, changes: list[Change]) -> list[Change]:
    """The changes that make events, each with its data as it is now."""
    described = []
    for change in _kept(changes):
        data = change.data
        if data is None and change.describe is not None:
            try:
                data = change.describe(db, change.org_id, change.object_id, change.product_id)
            except NotFound:
                continue  # changed, then deleted in the same transaction: its delete says it
        described.append(replace(change, data=data if data is not None else {}, describe=None, settled=True))
    return described


def settle(db: Database, changes: list[Change]) -> list[Change]:
    """The events of one unit of work inside a longer transaction (a bulk line, of a
    batch that commits together), fixed at its end: each line's events show what that
    line did, as if it had been its own write, and two lines that change one product
    make two events."""
    return _described(db, changes)


def record(db: Database, changes: list[Change]) -> int:
    """Write the events of the transaction's `changes` (inside it); answers how many."""
    now = utcnow()
    rows = [(change.org_id, change.type, change.object_id, change.product_id, now, _json(change.data))
            for change in _described(db, changes)]
    if rows:
        db.connection().executemany(
            "INSERT INTO event (org_id, type, object_id, product_id, occurred_at, data)"
            " VALUES (?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


# ---- type patterns ---------------------------------------------------------------------

_PATTERN = re.compile(r"^[a-z]+\.(\*|[a-z]+)$|^\*$")


def check_patterns(field: str, patterns: list[str]) -> list[str]:
    """Event type patterns: a type (`stock.updated`), a kind (`product.*`) or `*`.
    Answers them without repeats; a pattern that matches no type is a 400 naming it."""
    for pattern in patterns:
        if not _PATTERN.match(pattern) or not any(matches(pattern, name) for name in TYPES):
            raise BadRequest(f"{field}: unknown event type {pattern!r}"
                             f" (a type such as product.updated, a kind such as product.*, or *)")
    return list(dict.fromkeys(patterns))


def matches(pattern: str, event_type: str) -> bool:
    if pattern == "*":
        return True
    kind, _, action = pattern.partition(".")
    return event_type == pattern or (action == "*" and event_type.partition(".")[0] == kind)


def types_of(patterns: list[str]) -> list[str]:
    """The event types the patterns select."""
    return [name for name in TYPES if any(matches(pattern, name) for pattern in patterns)]


# ---- reading ---------------------------------------------------------------------------

#: An event as the feed and a webhook show it, built by SQLite from the row.
EVENT_JSON = ("json_object('id', id, 'type', type, 'object_id', object_id, 'product_id', product_id,"
              " 'occurred_at', occurred_at, 'data', json(data))")


class Expired(Exception):
    """A feed cursor older than what retention kept: the consumer has missed events."""

    def __init__(self, removed_through: int, oldest_id: int | None) -> None:
        super().__init__(removed_through)
        self.removed_through = removed_through
        self.oldest_id = oldest_id


def removed_through(db: Database, org_id: int) -> int:
    """The newest id of the organization's events that retention removed (0: none)."""
    row = db.execute_sql("SELECT removed_through FROM event_floor WHERE org_id = ?", (org_id,)).fetchone()
    return int(row[0]) if row else 0


def oldest_id(db: Database, org_id: int) -> int | None:
    row = db.execute_sql("SELECT min(id) FROM event WHERE org_id = ?", (org_id,)).fetchone()
    return None if row[0] is None else int(row[0])


def latest_id(db: Database, org_id: int) -> int:
    """The organization's newest event id (0: none yet); a new webhook starts after it."""
    row = db.execute_sql("SELECT max(id) FROM event WHERE org_id = ?", (org_id,)).fetchone()
    return int(row[0] or 0)


def _type_filter(types: list[str] | None) -> tuple[str, list[Any]]:
    if types is None or len(types) == len(TYPES):
        return "", []
    return f" AND type IN ({','.join('?' * len(types))})", list(types)


def _page(db: Database, org_id: int, after: int, limit: int, types: list[str] | None,
          before: int | None = None, newest: bool = False) -> list[tuple[int, str]]:
    """(id, event JSON) of up to `limit` events above `after` (and below `before`) of
    the given `types` (None: all), oldest first or `newest` first."""
    where, params = _type_filter(types)
    if before is not None:
        where += " AND id < ?"
        params.append(before)
    return [(int(row[0]), str(row[1])) for row in db.execute_sql(
        f"SELECT id, {EVENT_JSON} FROM event WHERE org_id = ? AND id > ?{where}"
        f" ORDER BY id{' DESC' if newest else ''} LIMIT ?",
        [org_id, after, *params, limit])]


def feed_json(db: Database, org_id: int, after: int | None, limit: int,
              types: list[str] | None = None, before: int | None = None, newest: bool = False) -> str:
    """The feed page as JSON text: `{"events": [...], "next_after": ID}`, oldest first,
    the events with ids above `after` (None: from the oldest kept) and below `before`
    (None: up to the newest) of the given `types` (None: all). `next_after` is the
    highest id answered, or `after` when there is none: a consumer that stores it sees
    every event once. `newest`: the newest such events first (a screen of recent
    activity pages back with `before`). Raises `Expired` when retention removed events
    above `after`."""
    with db.atomic():  # the floor and the page from one snapshot
        if after is not None:
            floor = removed_through(db, org_id)
            if after < floor:
                raise Expired(floor, oldest_id(db, org_id))
        rows = _page(db, org_id, after or 0, limit, types, before, newest)
    next_after = max((event_id for event_id, _ in rows), default=after or 0)
    return f'{{"events":[{",".join(text for _, text in rows)}],"next_after":{next_after}}}'


def events_after(db: Database, org_id: int, after: int, limit: int,
                 types: list[str] | None = None) -> list[tuple[int, str]]:
    """(id, event JSON) of the next `limit` events above `after` (a webhook's queue)."""
    return _page(db, org_id, after, limit, types)


# ---- retention -------------------------------------------------------------------------

def remove_older_than(db: Database, cutoff: str) -> int:
    """Remove the events that occurred before `cutoff` (UTC ISO 8601), recording per
    organization the newest id removed (inside a write transaction); answers how many.
    Everything up to that id goes, so what is kept is always a whole tail of the feed."""
    floors = db.execute_sql(
        "SELECT org_id, max(id) FROM event WHERE occurred_at < ? GROUP BY org_id", (cutoff,)).fetchall()
    removed = 0
    for org_id, through in floors:
        db.execute_sql(
            "INSERT INTO event_floor (org_id, removed_through) VALUES (?, ?)"
            " ON CONFLICT (org_id) DO UPDATE SET removed_through = max(removed_through, excluded.removed_through)",
            (org_id, through))
        removed += int(db.execute_sql("DELETE FROM event WHERE org_id = ? AND id <= ?", (org_id, through)).rowcount)
    return removed
