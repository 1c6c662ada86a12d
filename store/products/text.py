"""Full-text product search over the FTS5 table `product_fts` (kept by triggers).

The index holds, per product, tokens for its organization (`o<id>`) and status, plus
SKU/EAN, name and description (diacritics removed). The last word of a search is
also a prefix; prefix indexes for 2 to 6 characters make that a plain lookup instead
of a merge of every word it starts (at 1M rows: "shirt*" 24 -> 10 ms, "bott*"
9 -> 5 ms, for about 60 % more index).

Scoping by the organization token is only needed when several organizations have
products; AND-ing a token that every row carries costs a scan of its whole posting
list (about 25 ms at 1M rows), so the caller leaves it out when the database holds
one organization's catalog.

Ranking with bm25 costs time in proportion to the number of matches (2.6 s for a
common word at 1M rows), so results are ranked by relevance only when there are at
most `RANK_WINDOW` of them; a broader search (a word in thousands of products) lists
its matches newest first, which costs a count and one page. Either order is a pure
function of the data, so pages stay consistent.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, Iterator, Sequence

from store import schema
from store.db import Database
from store.migrations import split_sql
from store.values import STATUSES

RANK_WINDOW = 1000
MAX_TERMS = 16
TOKEN_RE = re.compile(r"\w+", re.UNICODE)
# bm25 column weights: org, status, sku, name, description
BM25 = "bm25(product_fts, 0.0, 0.0, 10.0, 4.0, 1.0)"


def words_expression(text: str) -> str | None:
    """An FTS5 query matching every word of `text` (the last also as a prefix, so a
    search box finds "shirt" while the user is still typing "shi"), or None."""
    terms = TOKEN_RE.findall(text)[:MAX_TERMS]
    if not terms:
        return None
    quoted = [f'"{term}"' for term in terms]
    quoted[-1] += "*"
    return "{sku name description} : (" + " AND ".join(quoted) + ")"


def match_expression(words: str, org_id: int | None, statuses: tuple[str, ...] | None) -> str:
    """`words` limited to these statuses (None: any) and, when `org_id` is given, to that
    organization."""
    scoped = f'(org : "o{org_id}" AND {words})' if org_id is not None else f"({words})"
    if statuses is None:
        return scoped
    if set(statuses) == set(STATUSES) - {"archived"}:
        return f'{scoped} NOT status : "archived"'
    tokens = " OR ".join(f'"{status.replace("_", "")}"' for status in statuses)
    return f"{scoped} AND status : ({tokens})"


def ranked_ids(
    db: Database,
    words: str,
    match: str,
    extra_where: str,
    params: Sequence[Any],
    offset: int,
    limit: int,
    exclude: int | None,
) -> tuple[list[int], int]:
    """Ids at [offset, offset+limit) in result order, and the number of matches.

    `match` is the scoped query (see `match_expression`), `words` the bare words it
    was built from. `extra_where` filters the joined `product p` row (brand, channel…)
    with `params`. `exclude` is an id already shown first (the exact SKU/EAN hit); it
    is neither listed nor counted.
    """
    # Organization and status are tokens in the index; join the table only when
    # other filters need its columns. CROSS JOIN keeps the index as the outer loop:
    # SQLite would otherwise walk, say, a brand's products and run one full-text query
    # per product.
    source = "product_fts f CROSS JOIN product p ON p.id = f.rowid" if extra_where else "product_fts f"
    matching = f"FROM {source} WHERE product_fts MATCH ?{extra_where}"
    args = [match, *params]
    total = db.execute_sql(f"SELECT count(*) {matching}", args).fetchone()[0]
    if exclude is not None and db.execute_sql(
        f"SELECT 1 {matching} AND f.rowid = ?", [*args, exclude]
    ).fetchone():
        # Only then filter it out: a `rowid !=` test on every row doubles a count.
        total -= 1
        matching += " AND f.rowid != ?"
        args.append(exclude)
    if total > RANK_WINDOW:
        # Too many to rank cheaply: newest first.
        rows = db.execute_sql(
            f"SELECT f.rowid {matching} ORDER BY f.rowid DESC LIMIT ? OFFSET ?",
            [*args, limit, offset],
        )
        return [row[0] for row in rows], total
    if offset >= total or limit <= 0:
        return [], total
    ids = [row[0] for row in db.execute_sql(f"SELECT f.rowid {matching}", args)]
    # Scored on the bare words: bm25 scans the posting list of every phrase in its
    # query, and the organization token's list holds every product.
    scores = dict(db.execute_sql(
        f"SELECT rowid, {BM25} FROM product_fts WHERE product_fts MATCH ? AND rowid >= ?",
        (words, min(ids)),
    ).fetchall())
    ranked = sorted(ids, key=lambda rowid: (scores.get(rowid, 0.0), -rowid))
    return ranked[offset:offset + limit], total


@contextlib.contextmanager
def text_index_deferred(db: Database) -> Iterator[None]:
    """Inside a write transaction: the text index rows of the products the block
    inserts or changes (their own text or their translations') are made once, when the
    block ends, instead of row by row. A bulk import's batch runs in it: a product's row
    is then written once, not once for the product and again for each translation, and
    in one statement for the batch (see the README's "Measured facts").

    The index triggers that inserts and updates fire (`schema.TEXT_INDEX_DEFERRED`) are
    dropped for the block and made again at its end, in the same transaction, so no
    other connection ever sees them missing; TEMP triggers on this connection note the
    products due meanwhile (a savepoint rolled back takes its notes with it). The block
    must not read the text index. On an error the caller's transaction rolls back,
    which undoes all of it."""
    conn = db.connection()
    pending = f"temp.{schema.TEXT_INDEX_PENDING}"
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {schema.TEXT_INDEX_PENDING} (product_id INTEGER PRIMARY KEY)")
    conn.execute(f"DELETE FROM {pending}")
    for name in schema.TEXT_INDEX_DEFERRED:
        conn.execute(f"DROP TRIGGER main.{name}")
    for statement in split_sql(schema.TEXT_INDEX_NOTE_TRIGGERS):
        conn.execute(statement)
    try:
        yield
    except BaseException:
        # Put the schema back as it was, should the caller commit anyway.
        with contextlib.suppress(Exception):
            _restore(conn)
        raise
    for name in schema.TEXT_INDEX_NOTE_TRIGGER_NAMES:
        conn.execute(f"DROP TRIGGER temp.{name}")
    conn.execute(f"DELETE FROM product_fts WHERE rowid IN (SELECT product_id FROM {pending})")
    conn.execute(f"INSERT INTO product_fts ({schema.FTS_COLUMNS})"
                 f" SELECT {schema.TEXT_INDEX_VALUES.format(t='p')} FROM {pending} d"
                 " JOIN product p ON p.id = d.product_id")
    conn.execute(f"DELETE FROM {pending}")
    _remake_deferred(conn)


def _remake_deferred(conn: Any) -> None:
    wanted = set(schema.TEXT_INDEX_DEFERRED)
    for statement in split_sql(schema.TEXT_INDEX_ALL_TRIGGERS):
        if statement.split()[2] in wanted:
            conn.execute(statement)


def _restore(conn: Any) -> None:
    for name in schema.TEXT_INDEX_NOTE_TRIGGER_NAMES:
        conn.execute(f"DROP TRIGGER IF EXISTS temp.{name}")
    _remake_deferred(conn)
