"""Import jobs: bulk imports run by the server in the background, and their progress.

A job's row is written in the same transaction as each batch it commits (`record`),
so the counts a job shows are the lines it wrote. At most `MAX_ERRORS` failed lines are
kept with their line numbers and messages; the counts go on past them.
"""

from __future__ import annotations

import json
from typing import Any

from store.db import Database
from store.errors import NotFound
from store.models import ImportJob, column_names
from store.values import utcnow

MAX_ERRORS = 1000
UNFINISHED = ("queued", "running")
FIELDS = column_names(ImportJob, without=("org_id",))


def _to_api(row: tuple[Any, ...]) -> dict[str, Any]:
    job = dict(zip(FIELDS, row))
    job["errors"] = json.loads(job["errors"])
    job["dry_run"] = bool(job["dry_run"])
    job["create_references"] = bool(job["create_references"])
    return job


def create_job(db: Database, org_id: int, kind: str, fmt: str, dry_run: bool,
               create_references: bool, total_lines: int) -> dict[str, Any]:
    job_id = ImportJob.insert(org_id=org_id, kind=kind, format=fmt, status="queued", dry_run=dry_run,
                              create_references=create_references, total_lines=total_lines).execute(db)
    return get_job(db, org_id, int(job_id))


def get_job(db: Database, org_id: int, job_id: int) -> dict[str, Any]:
    row = db.execute_sql(f"SELECT {', '.join(FIELDS)} FROM import_job WHERE id = ? AND org_id = ?",
                         (job_id, org_id)).fetchone()
    if row is None:
        raise NotFound(f"import {job_id} not found")
    return _to_api(row)


def list_jobs(db: Database, org_id: int, page: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    """A page of the organization's jobs, newest first, and the total."""
    total = int(db.execute_sql("SELECT count(*) FROM import_job WHERE org_id = ?", (org_id,)).fetchone()[0])
    rows = db.execute_sql(f"SELECT {', '.join(FIELDS)} FROM import_job WHERE org_id = ?"
                          " ORDER BY id DESC LIMIT ? OFFSET ?", (org_id, limit, (page - 1) * limit))
    return [_to_api(row) for row in rows], total


def start(db: Database, job_id: int) -> bool:
    """A queued job starts running; False when it was cancelled meanwhile."""
    cursor = db.execute_sql("UPDATE import_job SET status = 'running', started_at = ?"
                            " WHERE id = ? AND status = 'queued'", (utcnow(), job_id))
    return bool(cursor.rowcount)


def cancel_queued(db: Database, job_id: int) -> bool:
    """A job that has not started is cancelled; False when it has started."""
    cursor = db.execute_sql("UPDATE import_job SET status = 'cancelled', finished_at = ?,"
                            " message = 'cancelled before it started' WHERE id = ? AND status = 'queued'",
                            (utcnow(), job_id))
    return bool(cursor.rowcount)


def record(db: Database, job_id: int, done: int, counts: dict[str, int],
           errors: list[dict[str, Any]]) -> None:
    """Add one batch's progress: `done` lines more, the counts, and its failed lines
    (kept while the job holds fewer than MAX_ERRORS)."""
    held = json.loads(db.execute_sql("SELECT errors FROM import_job WHERE id = ?", (job_id,)).fetchone()[0])
    if errors and len(held) < MAX_ERRORS:
        held.extend(errors[:MAX_ERRORS - len(held)])
    db.execute_sql(
        "UPDATE import_job SET done_lines = done_lines + ?, created = created + ?, updated = updated + ?,"
        " unchanged = unchanged + ?, failed = failed + ?, errors = ? WHERE id = ?",
        (done, counts.get("created", 0), counts.get("updated", 0), counts.get("unchanged", 0),
         counts.get("failed", 0), json.dumps(held, ensure_ascii=False), job_id))


def finish(db: Database, job_id: int, status: str, message: str | None = None) -> None:
    db.execute_sql("UPDATE import_job SET status = ?, message = ?, finished_at = ? WHERE id = ?",
                   (status, message, utcnow(), job_id))


def mark_interrupted(db: Database) -> int:
    """Jobs a stopped server left unfinished are `interrupted` (what they committed
    stays); answers how many."""
    cursor = db.execute_sql(
        "UPDATE import_job SET status = 'interrupted', finished_at = ?,"
        " message = 'the server stopped before the import finished; the lines reported done are written'"
        " WHERE status IN ('queued', 'running')", (utcnow(),))
    return int(cursor.rowcount)
