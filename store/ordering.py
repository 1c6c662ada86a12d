"""Positions 0..n-1 without gaps among siblings: one product's media, one product's
variants, one parent's categories. Every write that adds, moves or removes a sibling
keeps them so, within its transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from store.db import Database


@dataclass(frozen=True)
class Siblings:
    """The rows of `table` matching `scope` (SQL with `params`: "product_id = ?").
    With `touch`, every row whose position moves gets the time given in that column."""

    table: str
    scope: str
    params: tuple[Any, ...]
    touch: str | None = None

    def count(self, db: Database, without: int = 0) -> int:
        return int(db.execute_sql(
            f"SELECT count(*) FROM {self.table} WHERE {self.scope} AND id != ?",
            (*self.params, without),
        ).fetchone()[0])

    def _shift(self, db: Database, by: int, where: str, params: tuple[Any, ...], now: str | None) -> None:
        touch, stamp = (f", {self.touch} = ?", (now,)) if self.touch else ("", ())
        db.execute_sql(
            f"UPDATE {self.table} SET position = position + ?{touch} WHERE {self.scope} AND {where}",
            (by, *stamp, *self.params, *params),
        )

    def open_at(self, db: Database, position: int, now: str | None = None, without: int = 0) -> None:
        """Make room at `position`: the siblings from there on move one place on."""
        self._shift(db, 1, "position >= ? AND id != ?", (position, without), now)

    def close_at(self, db: Database, position: int, now: str | None = None, by: int = 1) -> None:
        """Close the gap left at `position`: the siblings after it move `by` places back
        (`by` may be negative to make room after it instead)."""
        self._shift(db, -by, "position > ?", (position,), now)

    def move(self, db: Database, old: int, new: int) -> None:
        """The siblings between `old` and `new` shift, for a row moving from `old` to `new`."""
        if new < old:
            self._shift(db, 1, "position >= ? AND position < ?", (new, old), None)
        elif new > old:
            self._shift(db, -1, "position > ? AND position <= ?", (old, new), None)


def clamp(wanted: int | None, last: int) -> int:
    """The position a row goes to: `wanted`, or `last` when None or past it."""
    return last if wanted is None else min(wanted, last)
