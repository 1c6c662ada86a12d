"""Categories: the contract's routes, the tree's ordering rules, product assignment,
bad inputs, query counts, and a property test of random create/move/delete sequences."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import categories, orgs
from store.db import Database, open_database
from store.products import write
from store.errors import BadRequest
from tests.factories import count_queries, post_product

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
FIELDS = {"id", "name", "slug", "description", "parent_id", "position", "product_count",
          "total_product_count", "created_at", "updated_at"}


async def make(api: Any, name: str, parent_id: int | None = None, **extra: Any) -> dict[str, Any]:
    response = await api.post("/api/categories", {"name": name, "parent_id": parent_id, **extra})
    assert response.code == 201, response.body
    return dict(response.data)


async def make_product(api: Any, sku: str, **extra: Any) -> dict[str, Any]:
    return await post_product(api, extra.pop("name", f"Product {sku}"), sku, **extra)


async def children(api: Any, parent: int | None) -> list[tuple[str, int]]:
    """(name, position) of a parent's children (0: the top level), in order."""
    response = await api.get(f"/api/categories?parent_id={parent or 0}&limit=100")
    assert response.code == 200, response.body
    return [(c["name"], c["position"]) for c in response.data["categories"]]


def names(rows: list[tuple[str, int]]) -> list[str]:
    assert [position for _, position in rows] == list(range(len(rows))), rows
    return [name for name, _ in rows]


def category_rows(db: Database) -> list[tuple[Any, ...]]:
    return db.execute_sql("SELECT * FROM category ORDER BY id").fetchall()


def link_rows(db: Database) -> list[tuple[Any, ...]]:
    return db.execute_sql("SELECT * FROM product_category ORDER BY 1, 2").fetchall()


# ---- create, read, list -------------------------------------------------------------------

async def test_create_answers_the_category_and_get_agrees(api: Any) -> None:
    created = await api.post("/api/categories", {"name": "Electronics",
                                                 "description": "Electronic products",
                                                 "parent_id": None})
    assert created.code == 201
    row = created.data
    assert set(row) == FIELDS
    assert {k: row[k] for k in FIELDS - {"id", "created_at", "updated_at"}} == {
        "name": "Electronics", "slug": "electronics", "description": "Electronic products",
        "parent_id": None, "position": 0, "product_count": 0, "total_product_count": 0,
    }
    assert TIMESTAMP.match(row["created_at"]) and row["updated_at"] == row["created_at"]
    fetched = await api.get(f"/api/categories/{row['id']}")
    assert fetched.code == 200 and fetched.data == row


async def test_a_new_category_goes_last_among_its_siblings(api: Any) -> None:
    root = await make(api, "Apparel")
    first = await make(api, "Shirts", root["id"])
    second = await make(api, "Hats", root["id"])
    other_root = await make(api, "Footwear")
    assert (first["position"], second["position"], other_root["position"]) == (0, 1, 1)
    assert names(await children(api, root["id"])) == ["Shirts", "Hats"]
    assert names(await children(api, None)) == ["Apparel", "Footwear"]


async def test_slugs_are_made_from_the_name_unique_per_organization(api: Any, other_api: Any) -> None:
    assert (await make(api, "Mugs & Cups"))["slug"] == "mugs-cups"
    assert (await make(api, "Mugs  Cups"))["slug"] == "mugs-cups-2"
    assert (await make(other_api, "Mugs & Cups"))["slug"] == "mugs-cups"
    assert (await make(api, "Ceașcă", slug="cups"))["slug"] == "cups"
    taken = await api.post("/api/categories", {"name": "Other", "slug": "cups"})
    assert taken.code == 400 and taken.error == "slug: slug 'cups' is already taken"


async def test_list_is_paginated_in_id_order_and_parent_id_filters(api: Any) -> None:
    a = await make(api, "A")
    b = await make(api, "B", a["id"])
    c = await make(api, "C")
    page = (await api.get("/api/categories?limit=2")).data
    assert [x["id"] for x in page["categories"]] == [a["id"], b["id"]]
    assert page["pagination"] == {"current_page": 1, "total_pages": 2, "total_items": 3,
                                  "items_per_page": 2}
    assert [x["id"] for x in (await api.get("/api/categories?page=2&limit=2")).data["categories"]] == [c["id"]]
    roots = (await api.get("/api/categories?parent_id=0")).data
    assert [x["id"] for x in roots["categories"]] == [a["id"], c["id"]]
    under_a = (await api.get(f"/api/categories?parent_id={a['id']}")).data
    assert [x["id"] for x in under_a["categories"]] == [b["id"]]
    kids = await api.get(f"/api/categories/{a['id']}/children")
    assert kids.code == 200 and kids.data == under_a
    leaf = (await api.get(f"/api/categories/{b['id']}/children")).data
    assert leaf["categories"] == [] and leaf["pagination"]["total_pages"] == 0


@pytest.mark.parametrize("query, message", [
    ("parent_id=abc", "parent_id: must be an integer"),
    ("parent_id=-1", "parent_id: must be between 0 and 9223372036854775807"),
    ("parent_id=1.5", "parent_id: must be an integer"),
    ("limit=0", "limit: must be between 1 and 100"),
    ("page=x", "page: must be an integer"),
])
async def test_bad_list_parameters_are_400(api: Any, query: str, message: str) -> None:
    response = await api.get(f"/api/categories?{query}")
    assert response.code == 400 and response.error == message


async def test_tree_nests_children_in_position_order(api: Any) -> None:
    apparel = await make(api, "Apparel")
    shirts = await make(api, "Shirts", apparel["id"])
    await make(api, "Hats", apparel["id"])
    await make(api, "Linen", shirts["id"])
    await make(api, "Footwear")
    await api.post(f"/api/categories/{shirts['id']}/move", {"parent_id": apparel["id"], "position": 1})
    tree = (await api.get("/api/categories/tree")).data["categories"]

    def shape(nodes: list[dict[str, Any]]) -> list[Any]:
        return [(n["name"], n["position"], shape(n["children"])) for n in nodes]

    assert shape(tree) == [
        ("Apparel", 0, [("Hats", 0, []), ("Shirts", 1, [("Linen", 0, [])])]),
        ("Footwear", 1, []),
    ]
    assert set(tree[0]) == FIELDS | {"children"}
    assert (await api.get("/api/categories/tree")).data == {"categories": tree}


async def test_tree_and_lists_of_another_organization_are_empty(api: Any, other_api: Any) -> None:
    await make(api, "Ours")
    assert (await other_api.get("/api/categories/tree")).data == {"categories": []}
    assert (await other_api.get("/api/categories")).data["categories"] == []
    assert (await other_api.get("/api/categories?parent_id=0")).data["categories"] == []


# ---- update and move ------------------------------------------------------------------------

async def test_put_changes_only_the_fields_sent(api: Any) -> None:
    row = await make(api, "Mugs", description="Ceramic")
    updated = await api.put(f"/api/categories/{row['id']}", {"description": "Stoneware"})
    assert updated.code == 200
    assert updated.data["description"] == "Stoneware"
    assert {k: updated.data[k] for k in ("name", "slug", "parent_id", "position")} == {
        "name": "Mugs", "slug": "mugs", "parent_id": None, "position": 0}
    assert updated.data["updated_at"] > row["updated_at"]
    renamed = (await api.put(f"/api/categories/{row['id']}", {"name": "Cups"})).data
    assert renamed["slug"] == "mugs"  # kept, so storefront URLs stay stable
    remade = (await api.put(f"/api/categories/{row['id']}", {"slug": None})).data
    assert remade["slug"] == "cups"
    same = await api.put(f"/api/categories/{row['id']}", {})
    assert same.code == 200 and same.data == remade


async def test_put_with_a_new_parent_moves_it_last_and_closes_the_gap(api: Any) -> None:
    a, b = await make(api, "A"), await make(api, "B")
    a1, _, a3 = [await make(api, n, a["id"]) for n in ("A1", "A2", "A3")]
    await make(api, "B1", b["id"])
    moved = await api.put(f"/api/categories/{a1['id']}", {"parent_id": b["id"], "name": "X"})
    assert moved.code == 200
    assert (moved.data["parent_id"], moved.data["position"], moved.data["name"]) == (b["id"], 1, "X")
    assert names(await children(api, a["id"])) == ["A2", "A3"]
    assert names(await children(api, b["id"])) == ["B1", "X"]
    to_root = await api.put(f"/api/categories/{a3['id']}", {"parent_id": None})
    assert (to_root.data["parent_id"], to_root.data["position"]) == (None, 2)
    assert names(await children(api, None)) == ["A", "B", "A3"]


async def test_move_places_at_the_position_and_shifts_the_others(api: Any) -> None:
    root = await make(api, "Root")
    rows = [await make(api, n, root["id"]) for n in ("a", "b", "c", "d")]
    other = await make(api, "Other")
    await make(api, "x", other["id"])

    async def move(row: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        response = await api.post(f"/api/categories/{row['id']}/move", body)
        assert response.code == 200, response.body
        return dict(response.data)

    assert (await move(rows[3], {"parent_id": root["id"], "position": 0}))["position"] == 0
    assert names(await children(api, root["id"])) == ["d", "a", "b", "c"]
    await move(rows[3], {"parent_id": root["id"], "position": 2})
    assert names(await children(api, root["id"])) == ["a", "b", "d", "c"]
    last = await move(rows[0], {"parent_id": root["id"], "position": 99})  # past the end: last
    assert last["position"] == 3
    assert names(await children(api, root["id"])) == ["b", "d", "c", "a"]
    await move(rows[1], {"parent_id": other["id"], "position": 0})
    assert names(await children(api, root["id"])) == ["d", "c", "a"]
    assert names(await children(api, other["id"])) == ["b", "x"]
    top = await move(rows[2], {"parent_id": None, "position": 1})
    assert (top["parent_id"], top["position"]) == (None, 1)
    assert names(await children(api, None)) == ["Root", "c", "Other"]
    appended = await move(rows[2], {"parent_id": other["id"]})  # no position: last
    assert appended["position"] == 2
    assert names(await children(api, None)) == ["Root", "Other"]


async def test_moving_under_itself_or_a_descendant_is_400_and_changes_nothing(db: Database, api: Any) -> None:
    a = await make(api, "A")
    b = await make(api, "B", a["id"])
    c = await make(api, "C", b["id"])
    before = category_rows(db)
    message = "parent_id: a category cannot move under itself or one of its descendants"
    for target in (a, b, c):
        moved = await api.post(f"/api/categories/{a['id']}/move", {"parent_id": target["id"], "position": 0})
        assert moved.code == 400 and moved.error == message
        put = await api.put(f"/api/categories/{a['id']}", {"parent_id": target["id"], "name": "Z"})
        assert put.code == 400 and put.error == message
    assert category_rows(db) == before
    assert (await api.post(f"/api/categories/{c['id']}/move", {"parent_id": None, "position": 0})).code == 200


# ---- delete ----------------------------------------------------------------------------------

async def test_delete_lifts_children_into_its_place_and_unlinks_products(api: Any) -> None:
    root = await make(api, "Root")
    first = await make(api, "first", root["id"])
    doomed = await make(api, "doomed", root["id"])
    await make(api, "last", root["id"])
    k1 = await make(api, "k1", doomed["id"])
    await make(api, "k2", doomed["id"])
    await make(api, "k3", doomed["id"])
    grandchild = await make(api, "g", k1["id"])
    product = await make_product(api, "P-1", category_ids=[doomed["id"], first["id"]])

    deleted = await api.delete(f"/api/categories/{doomed['id']}")
    assert deleted.code == 200
    assert deleted.data["id"] == doomed["id"] and deleted.data["name"] == "doomed"
    assert deleted.data["product_count"] == 1  # as it was
    assert (await api.get(f"/api/categories/{doomed['id']}")).code == 404
    assert names(await children(api, root["id"])) == ["first", "k1", "k2", "k3", "last"]
    assert (await api.get(f"/api/categories/{grandchild['id']}")).data["position"] == 0

    after = (await api.get(f"/api/products/{product['id']}")).data
    assert after["categories"] == [{"id": first["id"], "name": "first"}]
    assert after["updated_at"] > product["updated_at"]
    assert {k: after[k] for k in after if k not in ("categories", "updated_at")} == \
        {k: product[k] for k in product if k not in ("categories", "updated_at")}


async def test_deleting_a_root_lifts_its_children_to_the_top_level(api: Any) -> None:
    await make(api, "A")
    b = await make(api, "B")
    await make(api, "C")
    await make(api, "B1", b["id"])
    await make(api, "B2", b["id"])
    assert (await api.delete(f"/api/categories/{b['id']}")).code == 200
    assert names(await children(api, None)) == ["A", "B1", "B2", "C"]
    leaf = (await api.get("/api/categories?parent_id=0")).data["categories"][-1]
    assert (await api.delete(f"/api/categories/{leaf['id']}")).code == 200
    assert names(await children(api, None)) == ["A", "B1", "B2"]


# ---- products of a category -------------------------------------------------------------------

async def test_assigning_products_is_idempotent_and_counts_them(db: Database, api: Any) -> None:
    cat = await make(api, "Mugs")
    p1, p2 = await make_product(api, "M-1"), await make_product(api, "M-2")
    assigned = await api.post(f"/api/categories/{cat['id']}/products", {"product_ids": [p1["id"], p2["id"], p1["id"]]})
    assert assigned.code == 200
    assert assigned.data["id"] == cat["id"] and assigned.data["product_count"] == 2
    assert set(assigned.data) == FIELDS
    links = link_rows(db)
    again = await api.post(f"/api/categories/{cat['id']}/products", {"product_ids": [p2["id"]]})
    assert again.data["product_count"] == 2 and link_rows(db) == links
    shown = (await api.get(f"/api/products/{p1['id']}")).data
    assert shown["categories"] == [{"id": cat["id"], "name": "Mugs"}]
    assert shown["updated_at"] > p1["updated_at"]
    empty = await api.post(f"/api/categories/{cat['id']}/products", {"product_ids": []})
    assert empty.code == 200 and empty.data["product_count"] == 2


async def test_product_count_leaves_archived_products_out(api: Any) -> None:
    cat = await make(api, "Mugs")
    p1 = await make_product(api, "M-1", category_ids=[cat["id"]])
    await make_product(api, "M-2", category_ids=[cat["id"]], status="active")
    assert (await api.get(f"/api/categories/{cat['id']}")).data["product_count"] == 2
    await api.delete(f"/api/products/{p1['id']}")  # archives it
    assert (await api.get(f"/api/categories/{cat['id']}")).data["product_count"] == 1
    await api.post(f"/api/categories/{cat['id']}/products", {"product_ids": [p1["id"]]})
    assert (await api.get(f"/api/categories/{cat['id']}")).data["product_count"] == 1
    await api.patch(f"/api/products/{p1['id']}", {"status": "draft"})
    assert (await api.get(f"/api/categories/{cat['id']}")).data["product_count"] == 2
    await api.patch(f"/api/products/{p1['id']}", {"category_ids": []})
    assert (await api.get(f"/api/categories/{cat['id']}")).data["product_count"] == 1


def test_product_count_follows_a_product_deleted_from_the_database(db: Database, org_id: int) -> None:
    """The API only archives, but a script may delete: the count must not drift."""
    with db.writing():
        a = categories.create_category(db, org_id, {"name": "A"})["id"]
    with db.writing():
        b = categories.create_category(db, org_id, {"name": "B"})["id"]
    with db.writing():
        live = write.create_product(db, org_id, {"name": "Live", "sku": "L-1", "category_ids": [a, b]})
    with db.writing():
        gone = write.create_product(db, org_id, {"name": "Gone", "sku": "G-1", "category_ids": [a]})
    with db.writing():
        write.archive_product(db, org_id, gone["id"])
    for product in (live, gone):
        db.execute_sql("DELETE FROM stock_level WHERE product_id = ?", (product["id"],))
        db.execute_sql("DELETE FROM product WHERE id = ?", (product["id"],))
    counts = [categories.get_category(db, org_id, c)["product_count"] for c in (a, b)]
    assert counts == [0, 0]
    assert link_rows(db) == []


def _totals_everywhere(tree: list[dict[str, Any]]) -> dict[int, int]:
    found: dict[int, int] = {}
    for node in tree:
        found[node["id"]] = node["total_product_count"]
        found.update(_totals_everywhere(node["children"]))
    return found


async def _check_totals(api: Any, expected: dict[int, int]) -> None:
    """The tree, the list, every item and every child list show the same totals, and
    each is the total of the category's product list with its subcategories."""
    tree = _totals_everywhere((await api.get("/api/categories/tree")).data["categories"])
    listed = {c["id"]: c["total_product_count"]
              for c in (await api.get("/api/categories?limit=100")).data["categories"]}
    assert tree == listed == expected
    for category_id, total in expected.items():
        item = (await api.get(f"/api/categories/{category_id}")).data
        assert item["total_product_count"] == total, item
        page = await api.get(f"/api/categories/{category_id}/products?include_subcategories=true")
        assert page.data["pagination"]["total_items"] == total
        for child in (await api.get(f"/api/categories/{category_id}/children")).data["categories"]:
            assert child["total_product_count"] == expected[child["id"]]


async def test_total_product_count_counts_the_subtree_each_product_once(api: Any, other_api: Any) -> None:
    # A > B > C, A > D, E: p1 in B and C, p2 in C, p3 in D, p4 in A itself, p5 in C archived.
    a = (await make(api, "A"))["id"]
    b = (await make(api, "B", a))["id"]
    c = (await make(api, "C", b))["id"]
    d = (await make(api, "D", a))["id"]
    e = (await make(api, "E"))["id"]
    p1 = await make_product(api, "P-1", category_ids=[b, c])
    p2 = await make_product(api, "P-2", category_ids=[c], status="active")
    await make_product(api, "P-3", category_ids=[d])
    p4 = await make_product(api, "P-4", category_ids=[a, d])
    await make_product(api, "P-5", category_ids=[c], status="archived")
    theirs = (await other_api.post("/api/categories", {"name": "Theirs"})).data["id"]
    await post_product(other_api, "Theirs", "T-1", category_ids=[theirs])
    item = (await api.get(f"/api/categories/{a}")).data
    assert (item["product_count"], item["total_product_count"]) == (1, 4)
    await _check_totals(api, {a: 4, b: 2, c: 2, d: 2, e: 0})

    await api.delete(f"/api/products/{p2['id']}")  # archived: out of every count
    await _check_totals(api, {a: 3, b: 1, c: 1, d: 2, e: 0})
    await api.patch(f"/api/products/{p2['id']}", {"status": "draft"})  # and back in
    await _check_totals(api, {a: 4, b: 2, c: 2, d: 2, e: 0})
    moved = await api.post(f"/api/categories/{b}/move", {"parent_id": e})
    assert moved.data["total_product_count"] == 2
    await _check_totals(api, {a: 2, b: 2, c: 2, d: 2, e: 2})
    assigned = await api.post(f"/api/categories/{e}/products", {"product_ids": [p1["id"], p4["id"]]})
    assert (assigned.data["product_count"], assigned.data["total_product_count"]) == (2, 3)
    await _check_totals(api, {a: 2, b: 2, c: 2, d: 2, e: 3})
    deleted = await api.delete(f"/api/categories/{b}")  # C moves up under E
    assert deleted.data["total_product_count"] == 2  # as it was
    await _check_totals(api, {a: 2, c: 2, d: 2, e: 3})
    removed = await api.delete(f"/api/categories/{e}/products/{p1['id']}")
    assert removed.data["total_product_count"] == 3  # p1 is still in C
    await _check_totals(api, {a: 2, c: 2, d: 2, e: 3})
    assert (await other_api.get("/api/categories/tree")).data["categories"][0]["total_product_count"] == 1


TOTAL_OPS = st.lists(st.tuples(st.sampled_from(["link", "link", "unlink", "status", "move", "delete"]),
                               st.integers(0, 30), st.integers(0, 30)), max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parents=st.lists(st.integers(0, 12), min_size=1, max_size=12), ops=TOTAL_OPS)
def test_random_links_keep_every_total_right(db: Database, parents: list[int], ops: list[Op]) -> None:
    """Totals against a brute-force count after every step, read from the tree (whose
    counts are kept between reads), the list and each item."""
    db.execute_sql("PRAGMA synchronous = OFF")
    with db.writing():
        org_id = orgs.get_or_create_org(db, f"totals-{next(ORG_NUMBERS)}")
        ids: list[int] = []
        for n, parent in enumerate(parents):
            above = ids[parent % len(ids)] if ids and parent % 3 else None
            ids.append(categories.create_category(db, org_id, {"name": f"c{n}", "parent_id": above})["id"])
        products = [write.create_product(db, org_id, {"name": f"p{n}", "sku": f"S-{n}"})["id"]
                    for n in range(6)]
    links: set[tuple[int, int]] = set()
    archived: set[int] = set()
    for kind, x, y in ops:
        product, category = products[x % len(products)], ids[y % len(ids)]
        with db.writing():
            if kind == "link":
                categories.assign_products(db, org_id, category, [product])
                links.add((product, category))
            elif kind == "unlink":
                categories.remove_product(db, org_id, category, product)
                links.discard((product, category))
            elif kind == "status":
                archived ^= {product}
                write.update_product(db, org_id, product,
                                     {"status": "archived" if product in archived else "active"})
            elif kind == "move":
                target = ids[x % len(ids)]
                if target not in categories.subtree_ids(db, org_id, category):
                    categories.move_category(db, org_id, category, target, None)
            elif len(ids) > 1:
                categories.delete_category(db, org_id, category)
                ids.remove(category)
                links = {(p, c) for p, c in links if c != category}
        tree = categories.category_tree(db, org_id)
        shown = _totals_everywhere(tree)
        for category_id in ids:
            subtree = set(categories.subtree_ids(db, org_id, category_id))
            expected = len({p for p, c in links if c in subtree and p not in archived})
            assert shown[category_id] == expected
            assert categories.get_category(db, org_id, category_id)["total_product_count"] == expected
        listed = {c["id"]: c["total_product_count"] for c in categories.list_categories(db, org_id, None, 1, 100)[0]}
        assert listed == shown


async def test_a_foreign_or_missing_product_id_assigns_nothing(db: Database,
    api: Any, other_api: Any
) -> None:
    cat = await make(api, "Mugs")
    mine = await make_product(api, "M-1")
    theirs = await make_product(other_api, "T-1")
    before = link_rows(db)
    for bad in (theirs["id"], 10**12):
        response = await api.post(f"/api/categories/{cat['id']}/products",
                                  {"product_ids": [mine["id"], bad]})
        assert response.code == 400
        assert response.error == f"product_ids: no product with id {bad}"
    assert link_rows(db) == before
    assert (await api.get(f"/api/products/{mine['id']}")).data == mine


async def test_unlinking_a_product(api: Any) -> None:
    cat = await make(api, "Mugs")
    p1 = await make_product(api, "M-1", category_ids=[cat["id"]])
    p2 = await make_product(api, "M-2", category_ids=[cat["id"]])
    removed = await api.delete(f"/api/categories/{cat['id']}/products/{p1['id']}")
    assert removed.code == 200 and removed.data["product_count"] == 1
    after = (await api.get(f"/api/products/{p1['id']}")).data
    assert after["categories"] == [] and after["updated_at"] > p1["updated_at"]
    again = await api.delete(f"/api/categories/{cat['id']}/products/{p1['id']}")
    assert again.code == 200 and again.data == removed.data  # idempotent
    assert (await api.get(f"/api/products/{p2['id']}")).data == p2


async def test_category_products_are_a_product_list_page_without_archived(api: Any) -> None:
    cat = await make(api, "Mugs")
    other = await make(api, "Other")
    made = [await make_product(api, f"M-{n}", category_ids=[cat["id"]]) for n in range(5)]
    await make_product(api, "NOT-IN", category_ids=[other["id"]])
    await api.delete(f"/api/products/{made[1]['id']}")
    page = await api.get(f"/api/categories/{cat['id']}/products?limit=2&page=2")
    assert page.code == 200
    assert set(page.data) == {"products", "pagination"}
    assert page.data["pagination"] == {"current_page": 2, "total_pages": 2, "total_items": 4,
                                       "items_per_page": 2}
    listed = (await api.get(f"/api/products?category={cat['id']}&limit=2&page=2")).data
    assert page.data == listed  # the same objects as the product list
    every = (await api.get(f"/api/categories/{cat['id']}/products?sort=-id")).data["products"]
    assert [p["id"] for p in every] == [made[n]["id"] for n in (4, 3, 2, 0)]
    assert (await api.get(f"/api/categories/{cat['id']}")).data["product_count"] == 4
    assert (await api.get(f"/api/categories/{cat['id']}/products?limit=101")).error == \
        "limit: must be between 1 and 100"
    assert (await api.get(f"/api/categories/{cat['id']}/products?sort=bogus")).code == 400


async def test_include_subcategories_takes_the_whole_subtree(db: Database,
    api: Any, other_api: Any, org_id: int
) -> None:
    top = await make(api, "Top")
    mid = await make(api, "Mid", top["id"])
    low = await make(api, "Low", mid["id"])
    beside = await make(api, "Beside")
    p_top = await make_product(api, "P-TOP", category_ids=[top["id"]])
    p_low = await make_product(api, "P-LOW", category_ids=[low["id"], mid["id"]])
    await make_product(api, "P-BESIDE", category_ids=[beside["id"]])
    theirs = await make(other_api, "Theirs", None)
    await make_product(other_api, "T-1", category_ids=[theirs["id"]])

    async def ids(path: str) -> list[int]:
        response = await api.get(path)
        assert response.code == 200, response.body
        return [p["id"] for p in response.data["products"]]

    assert await ids(f"/api/products?category={top['id']}") == [p_top["id"]]
    assert await ids(f"/api/products?category={top['id']}&include_subcategories=true") == [p_top["id"], p_low["id"]]
    assert await ids(f"/api/products?category={mid['id']}&include_subcategories=true") == [p_low["id"]]
    assert await ids(f"/api/products?category={top['id']}&include_subcategories=false") == [p_top["id"]]
    assert await ids(f"/api/categories/{top['id']}/products?include_subcategories=true") == [p_top["id"], p_low["id"]]
    assert await ids(f"/api/products?category={theirs['id']}&include_subcategories=true") == []
    assert categories.subtree_ids(db, org_id, top["id"]) == sorted([top["id"], mid["id"], low["id"]])
    for bad in ("1", "yes", "True", "TRUE", "0"):
        for path in (f"/api/products?category={top['id']}&include_subcategories={bad}",
                     f"/api/categories/{top['id']}/products?include_subcategories={bad}"):
            response = await api.get(path)
            assert response.code == 400 and response.error == "include_subcategories: must be true or false"


async def test_renaming_a_category_moves_its_products_updated_at(api: Any) -> None:
    cat = await make(api, "Mugs")
    product = await make_product(api, "M-1", category_ids=[cat["id"]])
    bystander = await make_product(api, "B-1")
    await api.get(f"/api/products/{product['id']}")  # cached now
    await api.put(f"/api/categories/{cat['id']}", {"description": "no name change"})
    assert (await api.get(f"/api/products/{product['id']}")).data["updated_at"] == product["updated_at"]
    await api.put(f"/api/categories/{cat['id']}", {"name": "Cups"})
    after = (await api.get(f"/api/products/{product['id']}")).data
    assert after["categories"] == [{"id": cat["id"], "name": "Cups"}]
    assert after["updated_at"] > product["updated_at"]
    synced = (await api.get(f"/api/products?updated_since={after['updated_at']}")).data["products"]
    assert [p["id"] for p in synced] == [product["id"]]
    assert (await api.get(f"/api/products/{bystander['id']}")).data == bystander


# ---- query counts -------------------------------------------------------------------------------

async def _statements(api: Any, db: Database, path: str) -> list[str]:
    db.product_json.clear()  # every product built again, as on a cold cache
    with count_queries(db) as seen:
        response = await api.get(path)
    assert response.code == 200, response.body
    return seen


async def test_the_tree_takes_the_same_queries_whatever_its_size(db: Database, api: Any) -> None:
    await make(api, "Root")
    small = await _statements(api, db, "/api/categories/tree")
    parent = None
    for n in range(40):  # a wide and deep tree
        parent = (await make(api, f"C{n}", parent if n % 3 else None))["id"]
    await make_product(api, "T-1", category_ids=[parent])
    big = await _statements(api, db, "/api/categories/tree")
    assert len(big) == len(small), big
    # The rows, and the subtree counts (linked products, archived ones) after a change.
    assert len([s for s in big if "FROM category" in s]) == 3, big


def test_the_tree_keeps_its_counts_while_nothing_commits(db: Database, org_id: int) -> None:
    with db.writing():
        top = categories.create_category(db, org_id, {"name": "Top"})["id"]
        low = categories.create_category(db, org_id, {"name": "Low", "parent_id": top})["id"]
        write.create_product(db, org_id, {"name": "P", "sku": "P-1", "category_ids": [low]})
    with count_queries(db) as first:
        assert categories.category_tree(db, org_id)[0]["total_product_count"] == 1
    with count_queries(db) as second:
        assert categories.category_tree(db, org_id)[0]["total_product_count"] == 1
    assert len([s for s in first if "FROM category" in s]) == 3, first
    assert len([s for s in second if "FROM category" in s]) == 1, second  # the counts kept
    with db.writing():  # a commit on this very connection, which data_version does not see
        write.create_product(db, org_id, {"name": "Q", "sku": "Q-1", "category_ids": [top]})
    assert categories.category_tree(db, org_id)[0]["total_product_count"] == 2
    other = open_database(db.database)  # another connection, as another process would be
    try:
        with other.writing():
            write.create_product(other, org_id, {"name": "R", "sku": "R-1", "category_ids": [low]})
    finally:
        other.close()
    assert categories.category_tree(db, org_id)[0]["total_product_count"] == 3


async def test_category_products_take_the_same_queries_whatever_their_number(db: Database, api: Any) -> None:
    cat = await make(api, "Mugs")
    sub = await make(api, "Sub", cat["id"])
    brand = (await api.post("/api/brands", {"name": "B"})).data["id"]
    await make_product(api, "M-0", category_ids=[cat["id"]], brand_id=brand)
    path = f"/api/categories/{cat['id']}/products?limit=100"
    subtree = f"/api/products?category={cat['id']}&include_subcategories=true&limit=100"
    small, small_subtree = await _statements(api, db, path), await _statements(api, db, subtree)
    for n in range(1, 30):
        await make_product(api, f"M-{n}", category_ids=[cat["id"], sub["id"]], brand_id=brand)
    assert len(await _statements(api, db, path)) == len(small)
    assert len(await _statements(api, db, subtree)) == len(small_subtree)
    assert len(small) <= 8, small  # BEGIN, category, count, ids, products JSON, COMMIT…


# ---- bad inputs ---------------------------------------------------------------------------------

CREATE_CASES = [
    ({}, "name: is required"),
    ({"name": ""}, "name: must not be empty"),
    ({"name": "   "}, "name: must not be empty"),
    ({"name": "x" * 256}, "name: must be at most 255 characters"),
    ({"name": 5}, "name: must be a string"),
    ({"name": None}, "name: must not be null"),
    ({"name": "A", "colour": "red"}, "colour: unknown field"),
    ({"name": "A", "parent_id": "1"}, "parent_id: must be an integer"),
    ({"name": "A", "parent_id": 0}, "parent_id: must be at least 1"),
    ({"name": "A", "parent_id": 1.5}, "parent_id: must be an integer"),
    ({"name": "A", "parent_id": 10**12}, "parent_id: no category with id 1000000000000"),
    ({"name": "A", "description": None}, "description: must not be null"),
    ({"name": "A", "description": "d" * 65536}, "description: must be at most 65535 characters"),
    ({"name": "A", "slug": "Not A Slug"}, "slug: must be lower-case letters, digits and single hyphens"),
    ({"name": "A", "position": 0}, "position: unknown field"),
]


@pytest.mark.parametrize("body, message", CREATE_CASES)
async def test_bad_create_bodies_are_400_and_write_nothing(db: Database, api: Any, body: Any, message: str) -> None:
    before = category_rows(db)
    response = await api.post("/api/categories", body)
    assert response.code == 400 and response.error == message
    assert category_rows(db) == before


@pytest.mark.parametrize("body, message", [
    (body, message) for body, message in CREATE_CASES if body and "name" not in message
] + [({"name": ""}, "name: must not be empty"), ({"name": None}, "name: must not be null")])
async def test_bad_put_bodies_are_400_and_write_nothing(db: Database, api: Any, body: Any, message: str) -> None:
    row = await make(api, "Mugs")
    before = category_rows(db)
    response = await api.put(f"/api/categories/{row['id']}", body)
    assert response.code == 400 and response.error == message
    assert category_rows(db) == before


@pytest.mark.parametrize("body, message", [
    ({}, "parent_id: is required"),
    ({"position": 0}, "parent_id: is required"),
    ({"parent_id": None, "position": -1}, "position: must be at least 0"),
    ({"parent_id": None, "position": "1"}, "position: must be an integer"),
    ({"parent_id": None, "position": 1.5}, "position: must be an integer"),
    ({"parent_id": None, "position": True}, "position: must be an integer"),
    ({"parent_id": None, "position": 2**31}, "position: must be at most 2147483647"),
    ({"parent_id": "2", "position": 0}, "parent_id: must be an integer"),
    ({"parent_id": 10**12, "position": 0}, "parent_id: no category with id 1000000000000"),
    ({"parent_id": None, "position": 0, "after": 3}, "after: unknown field"),
])
async def test_bad_move_bodies_are_400_and_write_nothing(db: Database, api: Any, body: Any, message: str) -> None:
    row = await make(api, "Mugs")
    await make(api, "Cups", row["id"])
    before = category_rows(db)
    response = await api.post(f"/api/categories/{row['id']}/move", body)
    assert response.code == 400 and response.error == message
    assert category_rows(db) == before


@pytest.mark.parametrize("body, message", [
    ({}, "product_ids: is required"),
    ({"product_ids": 1}, "product_ids: must be a list"),
    ({"product_ids": ["1"]}, "product_ids[0]: must be an integer"),
    ({"product_ids": [0]}, "product_ids[0]: must be at least 1"),
    ({"product_ids": None}, "product_ids: must not be null"),
    ({"product_ids": [1] * 1001}, "product_ids: must have at most 1000 items"),
    ({"product_ids": [], "x": 1}, "x: unknown field"),
])
async def test_bad_assign_bodies_are_400_and_write_nothing(db: Database, api: Any, body: Any, message: str) -> None:
    row = await make(api, "Mugs")
    await make_product(api, "M-1")
    before = link_rows(db)
    response = await api.post(f"/api/categories/{row['id']}/products", body)
    assert response.code == 400 and response.error == message
    assert link_rows(db) == before


@pytest.mark.parametrize("raw", [b"{", b"[]", b"", b'"x"'])
async def test_malformed_bodies_are_400_on_every_category_write(api: Any, raw: bytes) -> None:
    row = await make(api, "Mugs")
    for method, path in (("POST", "/api/categories"), ("PUT", f"/api/categories/{row['id']}"),
                         ("POST", f"/api/categories/{row['id']}/move"),
                         ("POST", f"/api/categories/{row['id']}/products")):
        response = await api.call(method, path, raw=raw)
        assert response.code == 400 and response.error.startswith("body: "), (method, path)


async def test_another_organizations_parent_is_a_400_naming_parent_id(db: Database, api: Any, other_api: Any) -> None:
    theirs = await make(other_api, "Theirs")
    mine = await make(api, "Mine")
    before = category_rows(db)
    message = f"parent_id: no category with id {theirs['id']}"
    created = await api.post("/api/categories", {"name": "X", "parent_id": theirs["id"]})
    assert created.code == 400 and created.error == message
    put = await api.put(f"/api/categories/{mine['id']}", {"parent_id": theirs["id"]})
    assert put.code == 400 and put.error == message
    moved = await api.post(f"/api/categories/{mine['id']}/move", {"parent_id": theirs["id"], "position": 0})
    assert moved.code == 400 and moved.error == message
    assert category_rows(db) == before


# ---- migration 7 on an old database ------------------------------------------------------------

def test_migration_7_counts_existing_links_and_makes_slugs_unique(tmp_path: Any, monkeypatch: Any) -> None:
    from store import migrations
    from store.db import open_database

    db_path = str(tmp_path / "old.db")  # a new file: the db_path fixture's copy is fully migrated
    monkeypatch.setattr(migrations, "MIGRATIONS", [m for m in migrations.MIGRATIONS if m[0] < 7])
    db = open_database(db_path)
    with db.writing():
        org = orgs.get_or_create_org(db, "Old")
    now = "2026-01-01T00:00:00.000000Z"
    # the rows a version-6 database held, written as it did (today's store functions write
    # today's schema: the event table of migration 15, for one)
    for name in ("Mugs", "Mugs again"):
        db.execute_sql("INSERT INTO category (org_id, name, slug, created_at, updated_at)"
                       " VALUES (?, ?, 'mugs', ?, ?)", (org, name, now, now))
    for sku, status, category_ids in (("L-1", "active", (1, 2)), ("G-1", "archived", (1,))):
        product_id = db.execute_sql(
            "INSERT INTO product (org_id, sku, slug, name, status, created_at, updated_at)"
            " VALUES (?, ?, lower(?), ?, ?, ?, ?)", (org, sku, sku, sku, status, now, now)).lastrowid
        for category_id in category_ids:
            db.execute_sql("INSERT INTO product_category (product_id, category_id) VALUES (?, ?)",
                           (product_id, category_id))
    db.close()
    monkeypatch.undo()

    db = open_database(db_path)
    try:
        rows = [(c["slug"], c["product_count"]) for c in categories.list_categories(db, org, None, 1, 10)[0]]
        assert rows == [("mugs", 1), ("mugs-2", 1)]
    finally:
        db.close()


# ---- property: random create / move / delete ---------------------------------------------------

Op = tuple[str, int, int, int]
ORG_NUMBERS = itertools.count()
OPS = st.lists(st.tuples(st.sampled_from(["create", "create", "move", "put", "delete"]),
                         st.integers(0, 50), st.integers(0, 50), st.integers(0, 8)),
               max_size=25)


class TreeModel:
    """What the tree should be: each parent's children in order (None: the top level)."""

    def __init__(self) -> None:
        self.kids: dict[int | None, list[int]] = {None: []}
        self.parent: dict[int, int | None] = {}

    def pick(self, n: int) -> int | None:
        ids = sorted(self.parent)
        return None if not ids or n % (len(ids) + 1) == len(ids) else ids[n % (len(ids) + 1)]

    def subtree(self, node: int) -> set[int]:
        found, todo = set(), [node]
        while todo:
            current = todo.pop()
            found.add(current)
            todo += self.kids.get(current, [])
        return found

    def add(self, node: int, parent: int | None) -> None:
        self.parent[node] = parent
        self.kids[node] = []
        self.kids[parent].append(node)

    def move(self, node: int, parent: int | None, position: int | None) -> None:
        self.kids[self.parent[node]].remove(node)
        siblings = self.kids[parent]
        siblings.insert(len(siblings) if position is None else min(position, len(siblings)), node)
        self.parent[node] = parent

    def delete(self, node: int) -> None:
        parent = self.parent.pop(node)
        siblings = self.kids[parent]
        at = siblings.index(node)
        lifted = self.kids.pop(node)
        siblings[at:at + 1] = lifted
        for child in lifted:
            self.parent[child] = parent


def check_store_matches(db: Database, org_id: int, model: TreeModel) -> None:
    flat, total = categories.list_categories(db, org_id, None, 1, 100)
    assert total == len(model.parent) == len(flat)
    by_parent: dict[int | None, list[tuple[int, int]]] = {}
    for row in flat:
        by_parent.setdefault(row["parent_id"], []).append((row["position"], row["id"]))
    for parent, rows in by_parent.items():
        rows.sort()
        assert [position for position, _ in rows] == list(range(len(rows))), (parent, rows)
        assert [node for _, node in rows] == model.kids[parent], parent
    # Every node is reachable from the roots (hence no cycles), and the tree agrees.
    seen: list[int] = []

    def walk(nodes: list[dict[str, Any]], parent: int | None) -> None:
        assert [n["id"] for n in nodes] == model.kids[parent]
        for n in nodes:
            assert n["parent_id"] == parent
            seen.append(n["id"])
            walk(n["children"], n["id"])

    walk(categories.category_tree(db, org_id), None)
    assert sorted(seen) == sorted(model.parent) and len(seen) == len(set(seen))
    flat_by_id = {row["id"]: row for row in flat}
    for node in seen:
        assert flat_by_id[node]["parent_id"] == model.parent[node]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_random_sequences_keep_the_tree_sound(db: Database, ops: list[Op]) -> None:
    db.execute_sql("PRAGMA synchronous = OFF")  # a throwaway file: fsyncs only cost time here
    with db.writing():
        org_id = orgs.get_or_create_org(db, f"tree-{next(ORG_NUMBERS)}")  # a fresh tree per example
    model = TreeModel()
    for n, (kind, a, b, c) in enumerate(ops):
        if kind == "create" or not model.parent:
            parent = model.pick(a)
            with db.writing():
                row = categories.create_category(db, org_id, {"name": f"c{n}", "parent_id": parent})
            model.add(row["id"], parent)
        else:
            node = model.pick(a)
            node = node if node is not None else sorted(model.parent)[0]
            parent = model.pick(b)
            cycle = parent is not None and parent in model.subtree(node)
            if kind == "delete":
                with db.writing():
                    categories.delete_category(db, org_id, node)
                model.delete(node)
            elif cycle:
                with pytest.raises(BadRequest, match="cannot move under itself"):
                    with db.writing():
                        if kind == "move":
                            categories.move_category(db, org_id, node, parent, c)
                        else:
                            categories.update_category(db, org_id, node, {"parent_id": parent})
            elif kind == "move":
                with db.writing():
                    categories.move_category(db, org_id, node, parent, c if c < 8 else None)
                model.move(node, parent, c if c < 8 else None)
            else:  # PUT: a new parent puts it last; the same parent changes nothing
                with db.writing():
                    categories.update_category(db, org_id, node, {"parent_id": parent})
                if parent != model.parent[node]:
                    model.move(node, parent, None)
        check_store_matches(db, org_id, model)
