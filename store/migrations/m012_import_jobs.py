"""Migration 12: import jobs: a bulk import run in the server, with its progress.

A job's counts and its first errors are written in the same transaction as each batch
of lines it commits, so what a job reports is what it wrote. A job left unfinished by a
stopped server is marked `interrupted` at the next start; its committed batches stay.

Shipped: frozen. Never edit this file; add the next migration instead.
"""

NAME = "import jobs"

SQL = """
CREATE TABLE import_job (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organization(id),
    kind TEXT NOT NULL,
    format TEXT NOT NULL,
    status TEXT NOT NULL,
    dry_run INTEGER NOT NULL DEFAULT 0,
    create_references INTEGER NOT NULL DEFAULT 0,
    total_lines INTEGER NOT NULL DEFAULT 0,
    done_lines INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    errors TEXT NOT NULL DEFAULT '[]',
    message TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
);
CREATE INDEX import_job_org ON import_job(org_id, id);
"""
