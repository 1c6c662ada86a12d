"""Organizations, their API keys and their publishing channels.

A key has a scope: `read` answers only requests that change nothing, `write` (the
default) answers every request. It may expire; once it has, it is refused like a
revoked one. Its last use is recorded to within a minute (`store.db.KEY_USE_SECONDS`):
the server notes it from the writer thread without making the request wait, so a busy
key costs one small write a minute, not one per request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, cast

from store.db import Database
from store.errors import BadRequest
from store.models import ApiKey, Channel, Organization, Warehouse
from store.values import CHANNELS, DEFAULT_CHANNELS, utcnow

KEY_PREFIX_LEN = 12  # "mpk_" + 8 characters, stored in clear to find the row
SCOPES = ("read", "write")


@dataclass(frozen=True)
class Caller:
    """Who a valid API key speaks for, and what it may do."""

    org_id: int
    org_active: bool
    key_id: int
    scope: str  # one of SCOPES
    expires_at: str | None  # UTC, in `utcnow()`'s form; None: never

    @property
    def can_write(self) -> bool:
        return self.scope == "write"

    def expired(self, now: str) -> bool:
        """True once `now` (a `utcnow()` string: such strings sort as times) is past the expiry."""
        return self.expires_at is not None and now >= self.expires_at


def expiry_after(seconds: float, now: dt.datetime | None = None) -> str:
    """The expiry `seconds` from now, in the stored form."""
    start = now or dt.datetime.now(dt.timezone.utc)
    return (start + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def find_org(db: Database, name: str) -> int | None:
    """The id of the organization called `name` (surrounding spaces ignored), or None."""
    org = Organization.select(Organization.id).where(Organization.name == name.strip()).get_or_none(db)
    return None if org is None else int(org.id)


def get_or_create_org(db: Database, name: str) -> int:
    """The organization called `name`, created with its default warehouse if new (in
    the caller's write transaction)."""
    name = name.strip()
    if not name:
        raise BadRequest("org: must not be empty")
    found = find_org(db, name)
    if found is not None:
        return found
    org_id = int(Organization.insert(name=name).execute(db))
    Warehouse.insert(org_id=org_id, name="Main warehouse", code="MAIN", is_default=True).execute(db)
    return org_id


def set_org_active(db: Database, org_id: int, active: bool) -> None:
    Organization.update(is_active=active).where(Organization.id == org_id).execute(db)
    db.keys.clear()


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(db: Database, org_id: int, label: str = "", scope: str = "write",
               expires_at: str | None = None) -> str:
    """A new API key for the organization; only its hash is stored."""
    if scope not in SCOPES:
        raise BadRequest(f"scope: must be one of {', '.join(SCOPES)}")
    key = "mpk_" + secrets.token_urlsafe(32)
    ApiKey.insert(org=org_id, prefix=key[:KEY_PREFIX_LEN], key_hash=_hash_key(key),
                  label=label, scope=scope, expires_at=expires_at).execute(db)
    return key


def revoke_key(db: Database, key: str) -> None:
    ApiKey.update(revoked_at=utcnow()).where(ApiKey.key_hash == _hash_key(key)).execute(db)
    db.keys.clear()


def list_keys(db: Database, org_id: int) -> list[dict[str, Any]]:
    """The organization's keys, oldest first: everything about them but the key itself
    (which is not stored) and its hash."""
    query = (ApiKey.select(ApiKey.id, ApiKey.prefix, ApiKey.scope, ApiKey.label, ApiKey.created_at,
                           ApiKey.last_used_at, ApiKey.expires_at, ApiKey.revoked_at)
             .where(ApiKey.org == org_id).order_by(ApiKey.id).dicts())
    return list(query.execute(db))


def revoke_key_id(db: Database, key_id: int) -> dict[str, Any] | None:
    """Revoke the key with this id. Answers the key (`id`, `prefix`, `org`: its
    organization's name, `revoked_at`, and `was_revoked`: True when it had been revoked
    before, which keeps that time), or None when there is no such key."""
    found = (ApiKey.select(ApiKey.id, ApiKey.prefix, ApiKey.revoked_at, Organization.name.alias("org"))
             .join(Organization).where(ApiKey.id == key_id).dicts().get_or_none(db))
    if found is None:
        return None
    row = cast("dict[str, Any]", found)  # .dicts(): a dict, where peewee's hints say a model
    row["was_revoked"] = row["revoked_at"] is not None
    if not row["was_revoked"]:
        row["revoked_at"] = utcnow()
        ApiKey.update(revoked_at=row["revoked_at"]).where(ApiKey.id == key_id).execute(db)
        db.keys.clear()
    return row


def record_key_use(db: Database, key_id: int, when: str) -> None:
    """Note that the key was used at `when` (the server calls it at most once a minute
    per key, from the writer thread)."""
    ApiKey.update(last_used_at=when).where(ApiKey.id == key_id).execute(db)


def delete_keys(db: Database, org_id: int, label: str) -> None:
    """Delete the organization's keys with this label (the demo's, replaced each start)."""
    ApiKey.delete().where(ApiKey.org == org_id, ApiKey.label == label).execute(db)
    db.keys.clear()


_AUTH_SQL = (
    "SELECT k.key_hash, k.org_id, o.is_active, k.id, k.scope, k.expires_at FROM api_key k"
    " LEFT JOIN organization o ON o.id = k.org_id"
    " WHERE k.prefix = ? AND k.revoked_at IS NULL"
)


def authenticate(db: Database, key: str) -> Caller | None:
    """The caller a key belongs to, or None for a missing, unknown or revoked key
    (whether it has expired is the caller's `expired()`: the answer is kept a while).

    A key check costs a fifth of a product read, so a valid key's answer is reused for
    a few seconds (`db.keys`, keyed by the key's hash, never the key, so the lookup's
    timing says nothing about the secret). Revoking a key or disabling an organization
    here forgets them all at once; the expiry bounds how long a change made by another
    process takes to apply. Unknown keys are not remembered: a new key works at once."""
    if not key.startswith("mpk_") or len(key) > 200:
        return None
    wanted = _hash_key(key)
    known: Caller | None = db.keys.get(wanted)
    if known is not None:
        return known
    found = None
    rows = db.execute_sql(_AUTH_SQL, (key[:KEY_PREFIX_LEN],))
    for key_hash, org_id, is_active, key_id, scope, expires_at in rows:
        if hmac.compare_digest(key_hash, wanted):
            found = Caller(org_id=org_id, org_active=bool(is_active), key_id=key_id, scope=scope,
                           expires_at=expires_at)
    if found is not None:
        db.keys.put(wanted, found)
    return found


def list_channels(db: Database, org_id: int) -> list[dict[str, str]]:
    """The organization's active channels, or web and mobile when none are configured."""
    query = (
        Channel.select(Channel.value, Channel.label, Channel.description)
        .where(Channel.org_id == org_id)
        .order_by(Channel.position)
        .dicts()
    )
    rows: list[dict[str, str]] = list(query.execute(db))
    if rows:
        return rows
    return [
        {"value": name, "label": CHANNELS[name][1], "description": CHANNELS[name][2]}
        for name in DEFAULT_CHANNELS
    ]


def set_channels(db: Database, org_id: int, channels: list[dict[str, str | None]]) -> list[dict[str, str]]:
    """Replace the organization's active channels (value, optional label/description)."""
    seen: set[str] = set()
    for i, item in enumerate(channels):
        value = str(item["value"])
        if value in seen:
            raise BadRequest(f"channels[{i}].value: '{value}' is listed twice")
        seen.add(value)
    Channel.delete().where(Channel.org_id == org_id).execute(db)
    for position, item in enumerate(channels):
        value = str(item["value"])
        Channel.insert(
            org_id=org_id,
            value=value,
            label=item.get("label") or CHANNELS[value][1],
            description=item.get("description") or CHANNELS[value][2],
            position=position,
        ).execute(db)
    return list_channels(db, org_id)
