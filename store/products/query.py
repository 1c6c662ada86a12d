"""Product lists: filters, sort, pages and full-text search, as validated queries.

Reads use parameterised SQL and plain tuples: at list sizes, building peewee model
instances costs more than the query (README, "Measured facts"). A page is found as
(id, updated_at) keys first, then shown through `store.products.read` (cached JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Sequence

from store.db import Database
from store.identity import barcode_forms
from store.products import relations, text
from store.products.read import Key, keys_of, product_pairs
from store.values import CHANNELS, STATUSES

#: A `sku`/`ean` lookup of at most this many codes runs on the event loop.
CHEAP_CODES = 20
#: What a list shows when no status is asked for (and no `updated_since`).
LISTED = tuple(status for status in STATUSES if status != "archived")

# A category and its descendants (params: category id, org id, org id); ends in
# `subtree(id)` for the caller to select from. UNION, not UNION ALL: it ends even on a
# cycle. CROSS JOIN keeps SQLite from walking the organization's every category for
# each node (0.2 s for a 2,000-node subtree) instead of looking up its children (1 ms).
SUBTREE_SQL = (
    "WITH RECURSIVE subtree(id) AS (SELECT id FROM category WHERE id = ? AND org_id = ?"
    " UNION SELECT c.id FROM subtree s CROSS JOIN category c"
    " ON c.org_id = ? AND c.parent_id = s.id)"
)

SORTS = {
    "id": "p.id",
    "name": "p.name COLLATE NOCASE",
    "sku": "p.sku",
    "price": "p.price IS NULL, p.price",
    "stock": "p.stock",
    "created_at": "p.created_at",
    "updated_at": "p.updated_at",
}


@dataclass(frozen=True)
class ProductQuery:
    """A product list request, already validated."""

    search: str | None = None
    #: The statuses asked for (`status=active,draft`; `any` is all of them); None: not
    #: asked, so every status but archived, or every status with `updated_since`.
    status: tuple[str, ...] | None = None
    brand: int | None = None
    channel: str | None = None
    category: int | None = None
    include_subcategories: bool = False  # with `category`: its whole subtree
    updated_since: str | None = None
    sort: str | None = None
    page: int = 1
    limit: int = 20
    locale: str | None = None  # canonical; texts translated, falling back field by field
    skus: tuple[str, ...] = ()  # exact SKUs, of the products or of their variants
    eans: tuple[str, ...] = ()  # barcodes, each in any of its spellings (barcode_forms)
    include: tuple[str, ...] = ()  # relations to add to each product (relations.INCLUDES)

    @property
    def statuses(self) -> tuple[str, ...] | None:
        """The statuses listed, in STATUSES order; None for every status. Without
        `status`, archived products are left out, except with `updated_since`: an
        incremental sync must see the products archived (soft-deleted) since."""
        if self.status:
            chosen = tuple(status for status in STATUSES if status in self.status)
            return None if len(chosen) == len(STATUSES) else chosen
        return None if self.updated_since else LISTED

    @property
    def is_cheap(self) -> bool:
        """True when an index answers it in well under a millisecond: a status filter
        at most, in id order, near the start; or a lookup of a few SKUs or EANs (each
        found through a unique index). Anything else (text search, a filter or sort
        whose cost grows with the matching rows, a deep page, variants of every
        product of a page) runs off the loop.
        """
        if self.search or "variants" in self.include:
            return False
        if self.skus or self.eans:
            # Two index lookups per code (product, variant): 100 codes and their page
            # take 0.5 ms, 1-2 ms with the products not cached (bench/api.py at 100k).
            return len(self.skus) + len(self.eans) <= CHEAP_CODES
        statuses = self.statuses
        return (
            not (self.updated_since or self.brand or self.channel or self.category)
            # Several statuses (not all, not all but archived): SQLite walks the
            # organization's products in id order testing each one's status, a few rows
            # for common statuses but the whole catalog for rare ones.
            and (statuses is None or len(statuses) == 1 or statuses == LISTED)
            and self.sort in (None, "id", "-id")
            and self.page * self.limit <= 2000  # OFFSET walks the rows it skips
        )


def _order_by(sort: str | None) -> str:
    key = (sort or "id").lstrip("-")
    direction = " DESC" if (sort or "").startswith("-") else ""
    # An `IS NULL` part keeps unset values last in both directions, not first on DESC.
    parts = [part if part.endswith(" IS NULL") else f"{part}{direction}"
             for part in SORTS[key].split(", ")]
    if key != "id":
        parts.append(f"p.id{direction}")
    return ", ".join(parts)


def _code_candidates(org_id: int, q: ProductQuery) -> tuple[str, list[Any]]:
    """The ids of the products whose own or whose variants' SKU is one of `q.skus` and
    whose (or whose variants') EAN is one of `q.eans`, each set given: a SELECT of
    `id`. Each code is one lookup in a unique (org_id, code) index, of the products'
    and of the variants', whatever the catalog's size."""
    parts: list[str] = []
    params: list[Any] = []
    for column, codes in (("sku", list(q.skus)), ("ean", _spellings(q.eans))):
        if codes:
            marks = ",".join("?" * len(codes))
            parts.append(f"SELECT id FROM (SELECT id FROM product WHERE org_id = ? AND {column} IN ({marks})"
                         " UNION SELECT product_id FROM product_variant"
                         f" WHERE org_id = ? AND {column} IN ({marks}))")
            params += [org_id, *codes, org_id, *codes]
    return " INTERSECT ".join(parts), params


def _filters(org_id: int, q: ProductQuery, with_codes: bool = True
             ) -> tuple[list[str], list[Any], list[str], list[Any]]:
    """(base where, params, extra where, params): base is organization and status.
    `with_codes=False` leaves the `sku`/`ean` filters to the caller."""
    base = ["p.org_id = ?"]
    base_params: list[Any] = [org_id]
    statuses = q.statuses
    if statuses == LISTED:
        base.append("p.status != 'archived'")
    elif statuses is not None:
        base.append(f"p.status IN ({','.join('?' * len(statuses))})")
        base_params += statuses
    extra: list[str] = []
    extra_params: list[Any] = []
    if with_codes and (q.skus or q.eans):
        candidates, candidate_params = _code_candidates(org_id, q)
        extra.append(f"p.id IN ({candidates})")
        extra_params += candidate_params
    if q.brand is not None:
        extra.append("p.brand_id = ?")
        extra_params.append(q.brand)
    if q.channel:
        # Written exactly as the partial indexes' WHERE, so SQLite can use them.
        extra.append(f"p.channels & {CHANNELS[q.channel][0]}")
    if q.category is not None:
        linked, linked_params = _linked_products(org_id, q)
        extra.append(f"p.id IN ({linked})")
        extra_params += linked_params
    if q.updated_since:
        extra.append("p.updated_at >= ?")
        extra_params.append(q.updated_since)
    return base, base_params, extra, extra_params


def _linked_products(org_id: int, q: ProductQuery) -> tuple[str, list[Any]]:
    """The ids of the products linked to `q.category` (or to its subtree): a SELECT."""
    if q.include_subcategories:
        return (f"SELECT pc.product_id FROM product_category pc WHERE pc.category_id IN"
                f" ({SUBTREE_SQL} SELECT id FROM subtree)", [q.category, org_id, org_id])
    return ("SELECT pc.product_id FROM product_category pc"
            " JOIN category c ON c.id = pc.category_id WHERE c.id = ? AND c.org_id = ?",
            [q.category, org_id])


def _count_linked(db: Database, org_id: int, q: ProductQuery) -> int:
    """How many products of one category pass the other filters, counted from the
    category's links: left to itself SQLite walks every product of the organization and
    looks each one up among the links (6-11 ms at 100k products for a category of 90,
    0.05 ms this way). Not for a whole subtree, whose tens of thousands of links count
    faster the other way round (22 ms against 59 ms for 25k products)."""
    without = replace(q, category=None, include_subcategories=False)
    base, base_params, extra, extra_params = _filters(org_id, without)
    linked, linked_params = _linked_products(org_id, q)  # one link per product
    where = " AND ".join(base + extra)
    return int(db.execute_sql(
        f"SELECT count(*) FROM ({linked}) linked"
        f" CROSS JOIN product p ON p.id = linked.product_id WHERE {where}",
        [*linked_params, *base_params, *extra_params],
    ).fetchone()[0])


def _spellings(eans: Sequence[str]) -> list[str]:
    """Every spelling of the barcodes (a UPC-A also as EAN-13 with a leading 0)."""
    return list(dict.fromkeys(form for ean in eans for form in barcode_forms(ean)))


def _count_by_status(db: Database, org_id: int, statuses: tuple[str, ...] | None) -> int:
    """The organization's products with one of `statuses` (None: any), from the counts
    the triggers keep (a few rows, whatever the catalog's size)."""
    sql = "SELECT coalesce(sum(n), 0) FROM product_status_count WHERE org_id = ?"
    if statuses is None:
        return int(db.execute_sql(sql, (org_id,)).fetchone()[0])
    marks = ",".join("?" * len(statuses))
    return int(db.execute_sql(f"{sql} AND status IN ({marks})", (org_id, *statuses)).fetchone()[0])


def _exact_hit(db: Database, org_id: int, term: str, where: str, params: Sequence[Any]) -> int | None:
    """The product whose SKU or EAN, or a variant's, is exactly `term` and that passes
    the filters."""
    eans = barcode_forms(term) if term.isascii() and term.isdigit() else [term]
    marks = ",".join("?" * len(eans))
    row = db.execute_sql(
        f"SELECT p.id FROM product p WHERE {where} AND (p.sku = ? OR p.ean IN ({marks}))"
        " ORDER BY p.sku = ? DESC LIMIT 1",
        [*params, term, *eans, term],
    ).fetchone()
    if row is None:
        # A variant's SKU or EAN finds its product. Asked apart: any third term in the
        # OR above (even `p.id = ?`) makes SQLite walk every product of the organization.
        variant = db.execute_sql(
            f"SELECT product_id FROM product_variant WHERE org_id = ? AND (sku = ? OR ean IN ({marks}))"
            " ORDER BY sku = ? DESC LIMIT 1", [org_id, term, *eans, term],
        ).fetchone()
        if variant is not None:
            row = db.execute_sql(f"SELECT p.id FROM product p WHERE {where} AND p.id = ?",
                                 [*params, variant[0]]).fetchone()
    return None if row is None else int(row[0])


def _search_scope(db: Database, org_id: int) -> int | None:
    """The organization a text search must be scoped to, or None when the index holds
    no other organization's products (the usual single-shop database), where the
    scoping token would only cost time. The page is still fetched by organization."""
    others = db.execute_sql(
        "SELECT 1 FROM product_status_count WHERE org_id != ? AND n > 0 LIMIT 1", (org_id,)
    ).fetchone()
    return org_id if others else None


def list_products_json(db: Database, org_id: int, q: ProductQuery) -> tuple[list[str], int]:
    """One page of products as JSON texts, and the total that match, from one snapshot;
    each with the relations `q.include` asks for and, with `sku`/`ean` filters, the
    variants that matched."""
    with db.atomic():
        keys, total = _list_keys(db, org_id, q)
        pairs = product_pairs(db, org_id, keys, q.locale)
        return relations.with_relations(db, org_id, pairs, q.include, q.skus, q.eans), total


def _with_hits(where: str, params: list[Any], exact: int | None,
               match: str | None) -> tuple[str, list[Any]] | None:
    """`where` narrowed to a search's hits: the exact SKU/EAN hit or the text matches
    (None when there can be none)."""
    hits = ["p.id = ?"] if exact is not None else []
    hit_params: list[Any] = [exact] if exact is not None else []
    if match is not None:
        hits.append("p.id IN (SELECT rowid FROM product_fts WHERE product_fts MATCH ?)")
        hit_params.append(match)
    if not hits:
        return None
    return where + " AND (" + " OR ".join(hits) + ")", params + hit_params


def matching(db: Database, org_id: int, q: ProductQuery) -> tuple[str, list[Any]] | None:
    """The WHERE (on `product p`) and its parameters of every product `q`'s filters and
    search match, in no order (an export walks it by id); None when none can."""
    base, base_params, extra, extra_params = _filters(org_id, q)
    where, params = " AND ".join(base + extra), base_params + extra_params
    if not (q.search and q.search.strip()):
        return where, params
    term = q.search.strip()
    words = text.words_expression(term)
    match = None if words is None else text.match_expression(words, _search_scope(db, org_id), q.status)
    return _with_hits(where, params, _exact_hit(db, org_id, term, where, params), match)


def _list_keys(db: Database, org_id: int, q: ProductQuery) -> tuple[list[Key], int]:
    offset = (q.page - 1) * q.limit
    if (q.skus or q.eans) and not q.search:
        return _code_keys(db, org_id, q, offset)
    base, base_params, extra, extra_params = _filters(org_id, q)
    where = " AND ".join(base + extra)
    params = base_params + extra_params

    if q.search and q.search.strip():
        term = q.search.strip()
        exact = _exact_hit(db, org_id, term, where, params)
        words = text.words_expression(term)
        match = None
        if words is not None:
            match = text.match_expression(words, _search_scope(db, org_id), q.statuses)
        if q.sort is None:
            head = [exact] if exact is not None else []
            first = head[offset:offset + q.limit]
            ids: list[int] = []
            total = 0
            if words is not None and match is not None:
                ids, total = text.ranked_ids(
                    db, words, match, "".join(f" AND {clause}" for clause in extra),
                    extra_params, max(0, offset - len(head)), q.limit - len(first), exact,
                )
            return keys_of(db, org_id, first + ids), total + len(head)
        found = _with_hits(where, params, exact, match)
        if found is None:
            return [], 0
        where, params = found

    if not extra and not q.search:
        total = _count_by_status(db, org_id, q.statuses)
    elif q.category is not None and not q.include_subcategories and not q.search:
        total = _count_linked(db, org_id, q)
    else:
        total = db.execute_sql(f"SELECT count(*) FROM product p WHERE {where}", params).fetchone()[0]
    if offset >= total:
        return [], total
    rows = db.execute_sql(
        f"SELECT p.id, p.updated_at FROM product p WHERE {where}"
        f" ORDER BY {_order_by(q.sort)} LIMIT ? OFFSET ?",
        [*params, q.limit, offset],
    ).fetchall()
    return rows, total


def _code_keys(db: Database, org_id: int, q: ProductQuery, offset: int) -> tuple[list[Key], int]:
    """A page of a `sku`/`ean` lookup, and its total: from the codes' products, each
    then checked against the other filters. Written as a join that starts from the
    codes, because left to itself SQLite counts by walking the organization's products
    and testing each against the list of ids (a scan of the catalog at any size)."""
    base, base_params, extra, extra_params = _filters(org_id, q, with_codes=False)
    candidates, candidate_params = _code_candidates(org_id, q)
    source = f"({candidates}) code CROSS JOIN product p ON p.id = code.id"
    where = " AND ".join(base + extra)
    params = [*candidate_params, *base_params, *extra_params]
    total = int(db.execute_sql(f"SELECT count(*) FROM {source} WHERE {where}", params).fetchone()[0])
    if offset >= total:
        return [], total
    rows = db.execute_sql(
        f"SELECT p.id, p.updated_at FROM {source} WHERE {where}"
        f" ORDER BY {_order_by(q.sort)} LIMIT ? OFFSET ?",
        [*params, q.limit, offset],
    ).fetchall()
    return rows, total
