"""A consistent copy of the live database through SQLite's online backup API."""

from __future__ import annotations

import os

from store.db import Database, create_private, sqlite3


def backup(db: Database, dest: str) -> int:
    """Copy the database to `dest` atomically; answers the copy's size in bytes.

    The copy runs in one step under a read transaction, so it is a snapshot of one
    moment even while a server writes; it goes to a temporary file first so that
    `dest` is never a half-written database. The copy is created mode 0600, as a new
    database is, whatever was at `dest` before.
    """
    tmp = f"{dest}.partial"
    if os.path.exists(tmp):
        os.remove(tmp)
    try:
        create_private(tmp)  # the copy holds what the database does: owner only
        target = sqlite3.connect(tmp)
        try:
            db.connection().backup(target, pages=-1)
            target.execute("PRAGMA journal_mode = DELETE")
        finally:
            target.close()
        os.replace(tmp, dest)
    except BaseException:
        # A failed copy (unwritable or missing directory, DEST a directory, disk
        # full) must not leave a half-written file behind.
        _remove_quietly(tmp)
        raise
    return os.path.getsize(dest)


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
