"""Migration 9: demo catalog: the seeds that completed.

One row per organization whose demo seed finished every stage; later starts leave that
catalog alone (search/demo).

Shipped: frozen. Never edit this file; add the next migration instead.
"""

NAME = 'demo catalog: the seeds that completed'

SQL = """
CREATE TABLE demo_seed (
    org_id INTEGER PRIMARY KEY REFERENCES organization(id),
    completed_at TEXT NOT NULL
);
"""
