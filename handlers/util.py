"""Small helpers for handlers: ids from paths, pagination blocks, timestamps."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from handlers.fields import MAX_ID
from store.errors import BadRequest, NotFound


def path_id(raw: str, noun: str) -> int:
    """An id from the URL; one no row can have is simply not found."""
    value = int(raw)
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"{noun} {raw} not found")
    return value


def pagination(page: int, limit: int, total: int) -> dict[str, int]:
    return {
        "current_page": page,
        "total_pages": math.ceil(total / limit),
        "total_items": total,
        "items_per_page": limit,
    }


def parse_timestamp(name: str, raw: str) -> str:
    """ISO 8601 (a naive time is UTC) in the stored form, so strings compare as times."""
    # An unencoded "+02:00" in a query string arrives as " 02:00": put the sign back.
    text = re.sub(r"(\d) (\d{2}(?::?\d{2})?)$", r"\1+\2", raw.strip())
    try:
        moment = dt.datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        moment = moment.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):  # OverflowError: an offset past year 1 or 9999
        raise BadRequest(f"{name}: must be an ISO 8601 date or time, e.g. 2026-01-31T12:00:00Z") from None
    # isoformat() pads the year to 4 digits, where strftime("%Y") gives "999".
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def listing(key: str, items: list[Any], page: int, limit: int, total: int) -> dict[str, Any]:
    return {key: items, "pagination": pagination(page, limit, total)}
