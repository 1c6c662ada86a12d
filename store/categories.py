"""Categories: an ordered tree per organization, and the products assigned to it.

Siblings (same organization, same parent) hold positions 0..n-1 without gaps, and
every write here keeps that within its one transaction. Every re-parenting checks
the new parent's ancestors, so the tree never holds a cycle. `product_count` is a
column kept by triggers (migration 7): the category's own products, archived ones
left out, which is exactly what its product list shows. `total_product_count` is
counted when read: the distinct products of the whole subtree, archived ones left out
(what its product list shows with `include_subcategories=true`); a leaf's is its
`product_count`, and the counts of every category with subcategories are one query,
kept per snapshot of the file (`Database.category_totals`) for the next read.

Reads are parameterised SQL on tuples like products; the whole tree is one query,
nested here. Writes run in the caller's write transaction.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from store.db import Database
from store.errors import BadRequest, NotFound
from store.identity import first_free
from store.models import Category, column_names
from store.ordering import Siblings, clamp
from store.products.query import SUBTREE_SQL, ProductQuery, list_products_json
from store.products.read import product_data
from store.values import slugify, utcnow

FIELDS = column_names(Category, without=("org_id",))
COLUMNS = ", ".join(FIELDS)

#: `list_categories(parent_id=ROOTS)` lists the top-level categories.
ROOTS = 0


# The categories with subcategories (all of the organization's, or those of ?2, a JSON
# list of ids), each with every category of its subtree: `down(root, id)`. UNION, not
# UNION ALL: it ends even on a cycle. CROSS JOIN: children looked up by the parent index.
_DOWN = (
    "WITH RECURSIVE down(root, id) AS (SELECT c.id, c.id FROM category c WHERE c.org_id = ?1{only}"
    " AND EXISTS (SELECT 1 FROM category k WHERE k.org_id = ?1 AND k.parent_id = c.id)"
    " UNION SELECT d.root, c.id FROM down d CROSS JOIN category c ON c.org_id = ?1 AND c.parent_id = d.id)"
)
_ONLY = " AND c.id IN (SELECT value FROM json_each(?2))"
# Distinct products linked anywhere in each subtree, archived ones included: counting
# them without looking up each product's status is what keeps this fast (a status
# lookup per link doubled the time at 300k links); the archived ones are subtracted
# by the next query, which starts from the few archived products instead.
_LINKED = (", roots(id) AS (SELECT DISTINCT root FROM down)"
           " SELECT r.id, (SELECT count(DISTINCT pc.product_id) FROM product_category pc"
           " WHERE pc.category_id IN (SELECT d.id FROM down d WHERE d.root = r.id)) FROM roots r")
_ARCHIVED = (" SELECT d.root, count(DISTINCT pc.product_id) FROM product p"
             " CROSS JOIN product_category pc ON pc.product_id = p.id"
             " CROSS JOIN down d ON d.id = pc.category_id"
             " WHERE p.org_id = ?1 AND p.status = 'archived' GROUP BY d.root")
TOTALS_SQL = {only: (_DOWN.format(only=only) + _LINKED, _DOWN.format(only=only) + _ARCHIVED)
              for only in ("", _ONLY)}


def _inner_totals(db: Database, org_id: int, ids: list[int] | None) -> dict[int, int]:
    """Category id -> distinct non-archived products in its subtree, for the categories
    with subcategories among `ids` (None: all of the organization's)."""
    linked_sql, archived_sql = TOTALS_SQL["" if ids is None else _ONLY]
    params: tuple[Any, ...] = (org_id,) if ids is None else (org_id, json.dumps(ids))
    archived = dict(db.execute_sql(archived_sql, params).fetchall())
    return {int(category_id): int(n) - int(archived.get(category_id, 0))
            for category_id, n in db.execute_sql(linked_sql, params)}


def _totals(db: Database, org_id: int, ids: list[int] | None,
            snapshot: tuple[int, int] | None) -> dict[int, int]:
    """`_inner_totals`, from the cache when the file has not changed since they were
    counted for the whole organization. Only a count of the whole organization is
    kept; a page or one category counts just its own subtrees when nothing is kept."""
    conn = db.connection()
    if snapshot is not None:
        kept = db.category_totals.get(conn, org_id, snapshot)
        if kept is not None:
            return kept
    totals = _inner_totals(db, org_id, ids)
    if ids is None and snapshot is not None:
        db.category_totals.put(conn, org_id, snapshot, totals)
    return totals


def _to_api(row: tuple[Any, ...], totals: dict[int, int]) -> dict[str, Any]:
    category = dict(zip(FIELDS, row))
    out: dict[str, Any] = {}
    for name, value in category.items():
        out[name] = value
        if name == "product_count":  # a leaf's subtree is itself
            out["total_product_count"] = totals.get(category["id"], value)
    return out


def _row(db: Database, org_id: int, category_id: int) -> tuple[Any, ...]:
    row = db.execute_sql(
        f"SELECT {COLUMNS} FROM category WHERE id = ? AND org_id = ?", (category_id, org_id)
    ).fetchone()
    if row is None:
        raise NotFound(f"category {category_id} not found")
    return tuple(row)


def require_category(db: Database, org_id: int, category_id: int) -> None:
    """NotFound unless the category is the organization's (one index lookup)."""
    _row(db, org_id, category_id)


def get_category(db: Database, org_id: int, category_id: int) -> dict[str, Any]:
    """One category, with its subtree's `total_product_count` (a read of its subtree's
    links: off the event loop for a large one)."""
    snapshot = db.snapshot()
    with db.atomic():
        row = _row(db, org_id, category_id)
        return _to_api(row, _totals(db, org_id, [category_id], snapshot))


def category_data(db: Database, org_id: int, category_id: int, _: int | None = None) -> dict[str, Any]:
    """A category event's data: the category as the API shows it."""
    return get_category(db, org_id, category_id)


def _current(db: Database, org_id: int, category_id: int) -> dict[str, Any]:
    """The category's own columns, for a write to start from (no subtree count)."""
    return dict(zip(FIELDS, _row(db, org_id, category_id)))


def list_categories(db: Database, org_id: int, parent_id: int | None, page: int,
                    limit: int | None) -> tuple[list[dict[str, Any]], int]:
    """One page of categories (every one with `limit` None) and the total: all of them
    in id order (stable while others write, like products), or one parent's children
    (`ROOTS`: the top level) in position order."""
    params: list[int | None]
    snapshot = db.snapshot()
    if parent_id is None:
        where, params, order = "org_id = ?", [org_id], "id"
    else:
        where, order = "org_id = ? AND parent_id IS ?", "position, id"
        params = [org_id, parent_id or None]
    with db.atomic():  # the page and its total from one snapshot
        total = int(db.execute_sql(f"SELECT count(*) FROM category WHERE {where}", params).fetchone()[0])
        rows = db.execute_sql(
            f"SELECT {COLUMNS} FROM category WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, -1 if limit is None else limit, 0 if limit is None else (page - 1) * limit],
        ).fetchall()
        totals = _totals(db, org_id, [row[0] for row in rows], snapshot)
    return [_to_api(row, totals) for row in rows], total


def category_tree(db: Database, org_id: int) -> list[dict[str, Any]]:
    """The roots, each with `children` nested to any depth in position order: one query,
    and one for the subtree counts (none when the file has not changed since the last)."""
    snapshot = db.snapshot()
    with db.atomic():  # the rows and their counts from one snapshot
        rows = db.execute_sql(
            f"SELECT {COLUMNS} FROM category WHERE org_id = ? ORDER BY parent_id, position, id",
            (org_id,),
        ).fetchall()
        totals = _totals(db, org_id, None, snapshot)
    nodes: dict[int, dict[str, Any]] = {}
    for row in rows:
        node = _to_api(row, totals)
        node["children"] = []
        nodes[node["id"]] = node
    roots: list[dict[str, Any]] = []
    # Rows come parent by parent in position order, so appending keeps that order.
    for node in nodes.values():
        parent = nodes.get(node["parent_id"]) if node["parent_id"] is not None else None
        (parent["children"] if parent is not None else roots).append(node)
    return roots


def paths(db: Database, org_id: int) -> dict[int, str]:
    """Every category's path from the top ("Apparel > Tops > T-Shirts"), in one query:
    how feeds name categories (bulk import and export)."""
    rows = db.execute_sql("SELECT id, parent_id, name FROM category WHERE org_id = ?", (org_id,)).fetchall()
    parents = {int(row_id): (parent, str(name)) for row_id, parent, name in rows}
    found: dict[int, str] = {}

    def path(row_id: int, seen: frozenset[int] = frozenset()) -> str:
        if row_id not in found:
            parent, name = parents[row_id]
            up = path(parent, seen | {row_id}) if parent in parents and parent not in seen else None
            found[row_id] = name if up is None else f"{up} > {name}"
        return found[row_id]

    for row_id in parents:
        path(row_id)
    return found


def subtree_ids(db: Database, org_id: int, category_id: int) -> list[int]:
    """The category and all its descendants (empty when it is not the organization's)."""
    return [row[0] for row in db.execute_sql(
        f"{SUBTREE_SQL} SELECT id FROM subtree ORDER BY id", (category_id, org_id, org_id)
    )]


# ---- writes -------------------------------------------------------------------------------

def _siblings(org_id: int, parent_id: int | None) -> Siblings:
    """One parent's children (None: the top level); a moved category's updated_at moves."""
    return Siblings("category", "org_id = ? AND parent_id IS ?", (org_id, parent_id), touch="updated_at")


def _check_parent(db: Database, org_id: int, parent_id: int, moving: int | None) -> None:
    """The parent must be the organization's, and not `moving` or one of its descendants."""
    owned = db.execute_sql(
        "SELECT 1 FROM category WHERE id = ? AND org_id = ?", (parent_id, org_id)
    ).fetchone()
    if owned is None:
        raise BadRequest(f"parent_id: no category with id {parent_id}")
    if moving is None:
        return
    # Walk up from the new parent; UNION (not UNION ALL) ends even on a cycle.
    looped = db.execute_sql(
        "WITH RECURSIVE up(id) AS (SELECT ? UNION SELECT c.parent_id FROM category c"
        " JOIN up ON c.id = up.id WHERE c.parent_id IS NOT NULL)"
        " SELECT 1 FROM up WHERE id = ? LIMIT 1",
        (parent_id, moving),
    ).fetchone()
    if looped is not None:
        raise BadRequest("parent_id: a category cannot move under itself or one of its descendants")


def _unique_slug(db: Database, org_id: int, name: str, category_id: int | None) -> str:
    base = slugify(name)
    used = {row[0] for row in db.execute_sql(  # a range uses the slug index, LIKE would not
        "SELECT slug FROM category WHERE org_id = ? AND id != ? AND slug >= ? AND slug < ?",
        (org_id, category_id or 0, base, base + "."),  # base and base-…
    )}
    return first_free(base, used)


def _slug(db: Database, org_id: int, data: dict[str, Any], current: dict[str, Any] | None) -> str | None:
    """The slug to write, or None to keep the current one. Like product slugs: made
    from the name once and then kept, so storefront URLs stay stable."""
    category_id = current["id"] if current else None
    if data.get("slug") is not None:
        taken = db.execute_sql(
            "SELECT 1 FROM category WHERE org_id = ? AND slug = ? AND id != ?",
            (org_id, data["slug"], category_id or 0),
        ).fetchone()
        if taken:
            raise BadRequest(f"slug: slug '{data['slug']}' is already taken")
        return str(data["slug"])
    if current is None or "slug" in data:  # a new category, or `"slug": null` to remake it
        return _unique_slug(db, org_id, data.get("name") or (current or {})["name"], category_id)
    return None


def _touch_products(db: Database, org_id: int, category_id: int, now: str) -> None:
    """Products show their categories' names: move their updated_at (store/cache.py)."""
    db.execute_sql(
        "UPDATE product SET updated_at = ? WHERE org_id = ? AND id IN"
        " (SELECT product_id FROM product_category WHERE category_id = ?)",
        (now, org_id, category_id),
    )


def create_category(db: Database, org_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Create from validated fields (`name`, optional `description`, `parent_id`,
    `slug`); the new category goes last among its siblings."""
    parent_id = data.get("parent_id")
    if parent_id is not None:
        _check_parent(db, org_id, parent_id, None)
    slug = _slug(db, org_id, data, None)
    now = utcnow()
    cursor = db.execute_sql(
        "INSERT INTO category (org_id, parent_id, name, slug, description, position,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (org_id, parent_id, data["name"], slug, data.get("description", ""),
         _siblings(org_id, parent_id).count(db), now, now),
    )
    category_id = int(cursor.lastrowid)
    db.changed(org_id, "category.created", category_id, describe=category_data)
    return get_category(db, org_id, category_id)


def _move(db: Database, org_id: int, current: dict[str, Any], parent_id: int | None,
          position: int | None, now: str) -> None:
    """Re-parent and re-order: `position` is the index among the new siblings (others
    shift; past the end or None means last). Positions stay 0..n-1 on both sides."""
    category_id = current["id"]
    if parent_id is not None:
        _check_parent(db, org_id, parent_id, category_id)
    siblings = _siblings(org_id, parent_id)
    target = clamp(position, siblings.count(db, without=category_id))
    if parent_id == current["parent_id"] and target == current["position"]:
        return
    db.changed(org_id, "category.moved", category_id, describe=category_data)
    _siblings(org_id, current["parent_id"]).close_at(db, current["position"], now)
    siblings.open_at(db, target, now, without=category_id)
    db.execute_sql(
        "UPDATE category SET parent_id = ?, position = ?, updated_at = ? WHERE id = ?",
        (parent_id, target, now, category_id),
    )


def move_category(db: Database, org_id: int, category_id: int, parent_id: int | None,
                  position: int | None) -> dict[str, Any]:
    """Move under `parent_id` (None: to the top level) at `position` (None: last)."""
    _move(db, org_id, _current(db, org_id, category_id), parent_id, position, utcnow())
    return get_category(db, org_id, category_id)


def update_category(db: Database, org_id: int, category_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Any subset of the create fields; omitted ones keep their values. A new parent
    puts the category last among its new siblings (`move` places it anywhere)."""
    current = _current(db, org_id, category_id)
    now = utcnow()
    if "parent_id" in data and data["parent_id"] != current["parent_id"]:
        _move(db, org_id, current, data["parent_id"], None, now)
    columns: dict[str, Any] = {name: data[name] for name in ("name", "description") if name in data}
    slug = _slug(db, org_id, data, current)
    if slug is not None:
        columns["slug"] = slug
    if columns:
        columns["updated_at"] = now
        assignments = ", ".join(f"{name} = ?" for name in columns)
        db.execute_sql(f"UPDATE category SET {assignments} WHERE id = ?",
                       [*columns.values(), category_id])
        if any(current[name] != value for name, value in columns.items() if name != "updated_at"):
            db.changed(org_id, "category.updated", category_id, describe=category_data)
    if columns.get("name", current["name"]) != current["name"]:
        _touch_products(db, org_id, category_id, now)
    return get_category(db, org_id, category_id)


def delete_category(db: Database, org_id: int, category_id: int) -> dict[str, Any]:
    """Delete; its children take its place among its siblings, in their own order, and
    its product links go (the products stay). Answers the category as it was."""
    current = get_category(db, org_id, category_id)
    parent_id, position = current["parent_id"], current["position"]
    now = utcnow()
    children = _siblings(org_id, category_id).count(db)
    # Its children move up a level; its products lose it from their category_ids.
    for (child_id,) in db.execute_sql("SELECT id FROM category WHERE org_id = ? AND parent_id = ?",
                                      (org_id, category_id)).fetchall():
        db.changed(org_id, "category.moved", child_id, describe=category_data)
    for (product_id,) in db.execute_sql("SELECT product_id FROM product_category WHERE category_id = ?",
                                        (category_id,)).fetchall():
        db.changed(org_id, "product.updated", product_id, product_id=product_id, describe=product_data)
    # The siblings after it make room for the children (or close its gap).
    _siblings(org_id, parent_id).close_at(db, position, now, by=1 - children)
    db.execute_sql(
        "UPDATE category SET parent_id = ?, position = position + ?, updated_at = ?"
        " WHERE org_id = ? AND parent_id = ?",
        (parent_id, position, now, org_id, category_id),
    )
    _touch_products(db, org_id, category_id, now)
    db.execute_sql("DELETE FROM product_category WHERE category_id = ?", (category_id,))
    db.execute_sql("DELETE FROM category WHERE id = ?", (category_id,))
    db.changed(org_id, "category.deleted", category_id, data=current)
    return current


# ---- products in a category -----------------------------------------------------------------

def assign_products(db: Database, org_id: int, category_id: int, product_ids: list[int]) -> dict[str, Any]:
    """Link the products (idempotent: a link that exists stays one). Every id must be a
    product of the organization, or nothing is assigned. Answers the category."""
    wanted = list(dict.fromkeys(product_ids))
    require_category(db, org_id, category_id)
    if wanted:
        ids = json.dumps(wanted)
        found = {row[0] for row in db.execute_sql(
            "SELECT id FROM product WHERE org_id = ? AND id IN (SELECT value FROM json_each(?))",
            (org_id, ids),
        )}
        missing = [product_id for product_id in wanted if product_id not in found]
        if missing:
            raise BadRequest(f"product_ids: no product with id {missing[0]}")
        linked = {row[0] for row in db.execute_sql(
            "SELECT product_id FROM product_category WHERE category_id = ?"
            " AND product_id IN (SELECT value FROM json_each(?))",
            (category_id, ids),
        )}
        new = json.dumps([product_id for product_id in wanted if product_id not in linked])
        db.execute_sql(
            "INSERT INTO product_category (product_id, category_id)"
            " SELECT value, ? FROM json_each(?)",
            (category_id, new),
        )
        db.execute_sql(
            "UPDATE product SET updated_at = ? WHERE id IN (SELECT value FROM json_each(?))",
            (utcnow(), new),
        )
        for product_id in json.loads(new):
            db.changed(org_id, "product.updated", product_id, product_id=product_id, describe=product_data)
    return get_category(db, org_id, category_id)


def remove_product(db: Database, org_id: int, category_id: int, product_id: int) -> dict[str, Any]:
    """Unlink one product; idempotent, like assigning. Answers the category."""
    require_category(db, org_id, category_id)
    cursor = db.execute_sql(
        "DELETE FROM product_category WHERE category_id = ? AND product_id = ?",
        (category_id, product_id),
    )
    if cursor.rowcount:
        db.execute_sql("UPDATE product SET updated_at = ? WHERE id = ?", (utcnow(), product_id))
        db.changed(org_id, "product.updated", product_id, product_id=product_id, describe=product_data)
    return get_category(db, org_id, category_id)


def category_products_json(db: Database, org_id: int, category_id: int,
                           query: ProductQuery) -> tuple[list[str], int]:
    """A page of the category's products (archived left out) as JSON texts, and the
    total: the product list's own machinery, filtered on the category."""
    with db.atomic():
        require_category(db, org_id, category_id)
        return list_products_json(db, org_id, replace(query, category=category_id, status=None))


# ---- by path: bulk import and export of the tree ---------------------------------------------------

def _child(db: Database, org_id: int, parent_id: int | None, name: str) -> dict[str, Any] | None:
    """The parent's child called `name` (the first by position when two share it)."""
    row = db.execute_sql(
        f"SELECT {COLUMNS} FROM category WHERE org_id = ? AND parent_id IS ? AND name = ?"
        " ORDER BY position, id LIMIT 1", (org_id, parent_id, name)).fetchone()
    return None if row is None else _to_api(row, {})  # its id and fields, no counts


def upsert_by_path(db: Database, org_id: int, data: dict[str, Any]) -> tuple[int, str]:
    """Create the category at `data["path"]` ("Apparel > Tops"; missing ancestors too,
    each last among its siblings) or update its `description` and `slug`; answers its
    id and `created`, `updated` or `unchanged`."""
    names = [name.strip() for name in data["path"].split(">")]
    if any(not name for name in names):
        raise BadRequest(f"path: '{data['path']}' is not a category path such as 'Apparel > Tops'")
    parent: int | None = None
    for name in names[:-1]:
        found = _child(db, org_id, parent, name)
        parent = int(found["id"]) if found is not None else int(
            create_category(db, org_id, {"name": name, "parent_id": parent})["id"])
    fields: dict[str, Any] = {key: data[key] for key in ("description", "slug") if key in data}
    current = _child(db, org_id, parent, names[-1])
    if current is None:
        return int(create_category(db, org_id, {"name": names[-1], "parent_id": parent, **fields})["id"]), "created"
    if "description" in fields and fields["description"] is None:
        fields["description"] = ""
    changed = {key: value for key, value in fields.items() if current[key] != value}
    if not changed:
        return int(current["id"]), "unchanged"
    update_category(db, org_id, int(current["id"]), changed)
    return int(current["id"]), "updated"


def tree_rows(db: Database, org_id: int) -> list[dict[str, Any]]:
    """Every category as {path, description, slug}, parents before their children and
    siblings in position order: what an import recreates the tree from."""
    rows: list[dict[str, Any]] = []

    def walk(nodes: list[dict[str, Any]], prefix: str) -> None:
        for node in nodes:
            path = f"{prefix} > {node['name']}" if prefix else node["name"]
            rows.append({"path": path, "description": node["description"], "slug": node["slug"]})
            walk(node["children"], path)

    walk(category_tree(db, org_id), "")
    return rows
