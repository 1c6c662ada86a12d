"""Organizations, their API keys and their publishing channels."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from store.db import db, utcnow, writing
from store.errors import BadRequest
from store.models import ApiKey, Channel, Organization, Warehouse
from store.values import CHANNELS, DEFAULT_CHANNELS

KEY_PREFIX_LEN = 12  # "mpk_" + 8 characters, stored in clear to find the row
# A key check costs a fifth of a product read; a valid key's answer is reused for a
# few seconds. Revoking a key or disabling an organization here forgets them all at
# once; the expiry bounds how long a change made by another process takes to apply.
AUTH_CACHE_SECONDS = 5.0
AUTH_CACHE_MAX = 10_000


@dataclass(frozen=True)
class Caller:
    """Who a valid API key speaks for."""

    org_id: int
    org_active: bool


def get_or_create_org(name: str) -> int:
    """The organization called `name`, created with its default warehouse if new."""
    name = name.strip()
    if not name:
        raise BadRequest("org: must not be empty")
    with writing():
        org = Organization.get_or_none(Organization.name == name)
        if org is None:
            org = Organization.create(name=name)
            Warehouse.create(org_id=org.id, name="Main warehouse", code="MAIN", is_default=True)
    return int(org.id)


def find_org(name: str) -> int | None:
    org = Organization.get_or_none(Organization.name == name)
    return None if org is None else int(org.id)


def set_org_active(org_id: int, active: bool) -> None:
    Organization.update(is_active=active).where(Organization.id == org_id).execute()
    forget_keys()


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(org_id: int, label: str = "") -> str:
    """A new API key for the organization; only its hash is stored."""
    key = "mpk_" + secrets.token_urlsafe(32)
    ApiKey.create(org=org_id, prefix=key[:KEY_PREFIX_LEN], key_hash=_hash_key(key), label=label)
    return key


def revoke_key(key: str) -> None:
    ApiKey.update(revoked_at=utcnow()).where(ApiKey.key_hash == _hash_key(key)).execute()
    forget_keys()


_AUTH_SQL = (
    "SELECT k.key_hash, k.org_id, o.is_active FROM api_key k"
    " LEFT JOIN organization o ON o.id = k.org_id"
    " WHERE k.prefix = ? AND k.revoked_at IS NULL"
)


# SHA-256 of a valid key -> (its caller, monotonic time the answer expires). Keyed by
# the hash, never the key, so the lookup's timing says nothing about the secret.
_known_keys: dict[str, tuple[Caller, float]] = {}


def authenticate(key: str) -> Caller | None:
    """The caller a key belongs to, or None for a missing, unknown or revoked key."""
    if not key.startswith("mpk_") or len(key) > 200:
        return None
    wanted = _hash_key(key)
    now = time.monotonic()
    known = _known_keys.get(wanted)
    if known is not None and known[1] > now:
        return known[0]
    found = None
    for key_hash, org_id, is_active in db.execute_sql(_AUTH_SQL, (key[:KEY_PREFIX_LEN],)):
        if hmac.compare_digest(key_hash, wanted):
            found = Caller(org_id=org_id, org_active=bool(is_active))
    if found is not None:  # unknown keys are not remembered: a new key works at once
        if len(_known_keys) >= AUTH_CACHE_MAX:
            _known_keys.clear()
        _known_keys[wanted] = (found, now + AUTH_CACHE_SECONDS)
    return found


def forget_keys() -> None:
    """Drop remembered key checks (a new database, or a change made behind our back)."""
    _known_keys.clear()


def list_channels(org_id: int) -> list[dict[str, str]]:
    """The organization's active channels, or web and mobile when none are configured."""
    query = (
        Channel.select(Channel.value, Channel.label, Channel.description)
        .where(Channel.org_id == org_id)
        .order_by(Channel.position)
        .dicts()
    )
    rows: list[dict[str, str]] = list(query)  # type: ignore[arg-type]
    if rows:
        return rows
    return [
        {"value": name, "label": CHANNELS[name][1], "description": CHANNELS[name][2]}
        for name in DEFAULT_CHANNELS
    ]


def set_channels(org_id: int, channels: list[dict[str, str | None]]) -> list[dict[str, str]]:
    """Replace the organization's active channels (value, optional label/description)."""
    seen: set[str] = set()
    for i, item in enumerate(channels):
        value = str(item["value"])
        if value in seen:
            raise BadRequest(f"channels[{i}].value: '{value}' is listed twice")
        seen.add(value)
    with writing():
        Channel.delete().where(Channel.org_id == org_id).execute()
        for position, item in enumerate(channels):
            value = str(item["value"])
            Channel.insert(
                org_id=org_id,
                value=value,
                label=item.get("label") or CHANNELS[value][1],
                description=item.get("description") or CHANNELS[value][2],
                position=position,
            ).execute()
    return list_channels(org_id)
