"""Full-text product search over the FTS5 table `product_fts`.

The index holds, per product, tokens for its organization (`o<id>`) and status so that
scoping and the status filter happen inside FTS5, plus SKU/EAN, name and description
(diacritics removed, prefix indexes for 2 and 3 characters).

Ranking every match with bm25 is what makes a common term slow (2.6 s at 1M rows), so
only a bounded candidate set is ranked: the newest `RANK_WINDOW` matches. Results are
those candidates by relevance, then any further matches newest first. The order is a
pure function of the data, so pages stay consistent.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

RANK_WINDOW = 1000
MAX_TERMS = 16
TOKEN_RE = re.compile(r"\w+", re.UNICODE)
# bm25 column weights: org, status, sku, name, description
BM25 = "bm25(product_fts, 0.0, 0.0, 10.0, 4.0, 1.0)"


def match_expression(org_id: int, text: str, status: str | None) -> str | None:
    """An FTS5 query for `text` within the organization, or None if it has no words.

    Every word must match (AND); the last one also matches as a prefix, so a search
    box finds "shirt" while the user is still typing "shi".
    """
    terms = TOKEN_RE.findall(text)[:MAX_TERMS]
    if not terms:
        return None
    quoted = [f'"{term}"' for term in terms]
    quoted[-1] += "*"
    words = "{sku name description} : (" + " AND ".join(quoted) + ")"
    scoped = f'(org : "o{org_id}" AND {words})'
    if status is None:
        return f'{scoped} NOT status : "archived"'
    return f'{scoped} AND status : "{status.replace("_", "")}"'


def ranked_ids(
    db: Any,
    match: str,
    extra_where: str,
    params: Sequence[Any],
    offset: int,
    limit: int,
    exclude: int | None,
) -> tuple[list[int], int]:
    """Ids at [offset, offset+limit) in relevance order, and the number of matches.

    `extra_where` filters the joined `product p` row (brand, channel, …) with `params`.
    `exclude` is an id already shown first (the exact SKU/EAN hit).
    """
    # Organization and status are tokens in the index; join the table only when
    # other filters need its columns.
    source = "product_fts f JOIN product p ON p.id = f.rowid" if extra_where else "product_fts f"
    join = f"FROM {source} WHERE product_fts MATCH ?{extra_where}"
    args = [match, *params]
    total = db.execute_sql(f"SELECT count(*) {join}", args).fetchone()[0]
    candidates = db.execute_sql(
        f"SELECT f.rowid, {BM25} {join} ORDER BY f.rowid DESC LIMIT {RANK_WINDOW}", args
    ).fetchall()
    ranked = [rowid for rowid, _ in sorted(candidates, key=lambda c: (c[1], -c[0]))
              if rowid != exclude]
    page = ranked[offset:offset + limit]
    if len(page) < limit and len(candidates) == RANK_WINDOW:
        # Past the ranked window: the remaining matches, newest first.
        oldest_ranked = candidates[-1][0]
        skip = max(0, offset - len(ranked))
        rest = db.execute_sql(
            f"SELECT f.rowid {join} AND f.rowid < ? AND f.rowid != ?"
            " ORDER BY f.rowid DESC LIMIT ? OFFSET ?",
            [*args, oldest_ranked, exclude or 0, limit - len(page), skip],
        ).fetchall()
        page += [row[0] for row in rest]
    if exclude is not None and total:
        hit = db.execute_sql(
            f"SELECT 1 {join} AND f.rowid = ?", [*args, exclude]
        ).fetchone()
        if hit:
            total -= 1
    return page, total
