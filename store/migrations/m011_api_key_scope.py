"""Migration 11: API keys get a scope, an optional expiry and the time of their last use.

`scope` is `read` or `write` (write implies read); keys made before this migration
keep the power they had: `write`. `expires_at` (UTC ISO 8601, NULL: never) and
`last_used_at` (recorded at most once a minute per key, NULL: never used) are shown by
`micropim keys`.

Shipped: frozen. Never edit this file; add the next migration instead.
"""

NAME = "api keys: scope (read or write), expiry, last use"

SQL = """
ALTER TABLE api_key ADD COLUMN scope TEXT NOT NULL DEFAULT 'write' CHECK (scope IN ('read', 'write'));
ALTER TABLE api_key ADD COLUMN expires_at TEXT;
ALTER TABLE api_key ADD COLUMN last_used_at TEXT;
"""
