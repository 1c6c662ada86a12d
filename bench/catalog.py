"""Catalog structure benchmark (issue 3): categories, attributes and variants over HTTP.

Run from the repository root:

    .venv/bin/python bench/catalog.py [--products N] [--categories C] [--variants V]
                                      [--repeat R] [--db PATH]

What it does, in one run:

1. Builds, in a temporary directory or in `--db PATH` (an existing file that already
   holds the benchmark organization's catalog is reused as it is):
   - N products (default 100,000) from `bench/api.py`'s generator through
     `bulk_import` (bench/loader.py), each with five attribute values (colour, size,
     material, weight, organic) checked against definitions made with
     `store.attributes.create_attribute`;
   - a tree of C categories (default 5,000): ten top-level categories of C/10 nodes
     each (so with the default, ten 500-node subtrees), three levels deep;
   - three links per product to distinct leaf categories, inserted with the triggers
     of migration 7 on, so `product_count` is kept the way the API keeps it;
   - V variants (default 20,000): one product with 50 (ten colours by five sizes),
     the rest ten each; those products are written `variable` with no warehouse stock,
     and the variant triggers of migration 3 sum their stock.
   Then checks the derived columns (every category's `product_count` against a count
   of its links and its `total_product_count` against a plain count of its subtree,
   positions 0..n-1 per parent, variable products' stock against their variants' sum)
   and prints the setup time of each part and the file size.
2. Makes an API key with `micropim create-key`, starts `micropim serve` in its own
   process (bench/api.py's helpers) and times over HTTP, with urllib, R requests each
   (default 100, after 3 unmeasured) printing p50 and p99 in ms and the body size:
   `GET /api/categories/tree`, again and again (its subtree counts kept) and each time
   after a write (a product's short description: counted again); `GET /api/categories/{id}` of a
   top-level category; `GET /api/categories/{id}/products` of a leaf, and of a
   top-level category with `include_subcategories=true` (page 1 and a later page);
   `GET /api/products/{id}/variants` of the 50-variant product; `GET /api/products/{id}`
   for random products (mostly first reads: the JSON is built) and for one product
   again and again (cached); and `POST /api/categories/{id}/move` of a 500-node subtree,
   moved under a category of another subtree and back to its place, in turn.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from api import (  # noqa: E402
    COLOURS, HOST, SEED, Server, cpu_seconds, create_references, describe_setup, free_port,
    generate_products, machine_busy_seconds, start_server, stop_server, wait_ready,
)

from loader import bulk_import  # noqa: E402

from store import attributes, categories, orgs  # noqa: E402
from store.db import Database, open_database  # noqa: E402
from store.values import ean_check_digit, slugify, utcnow  # noqa: E402

CATALOG_ORG = "Bench catalog"
ROOTS = 10  # top-level categories; each holds categories / ROOTS nodes
GROUPS = 10  # second-level categories under each top-level one
LINKS_PER_PRODUCT = 3
BIG_VARIANTS = 50
SMALL_VARIANTS = 10
SIZES = ["XS", "S", "M", "L", "XL"]
AXIS_COLOURS = [c for c, _ in COLOURS if c]
WARMUP = 3


# ---- building the catalog ---------------------------------------------------------------

@dataclass(frozen=True)
class Targets:
    """What the timings read: found in the catalog, so a reused file works too."""

    leaf: int  # the leaf category with the most products
    root: int  # a top-level category: the subtree that moves
    subtree: int  # how many categories move with it (itself included)
    elsewhere: int  # a second-level category of another subtree: where it moves to
    big_product: int  # the product with the most variants
    product_ids: list[int]


class Stopwatch:
    """Prints how long each setup step took, and the total at the end."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def step(self, label: str, since: float) -> float:
        now = time.perf_counter()
        print(f"  {label:<58} {now - since:>6.1f} s")
        return now

    def total(self) -> float:
        return time.perf_counter() - self.started


def define_attributes(db: Database, org_id: int) -> None:
    """The five definitions products hold values for; colour and size are the axes."""
    bodies = (
        {"name": "Colour", "code": "colour", "type": "select", "options": [*AXIS_COLOURS, "n/a"],
         "is_variant_axis": True},
        {"name": "Size", "code": "size", "type": "select", "options": SIZES, "is_variant_axis": True},
        {"name": "Material", "code": "material", "type": "text"},
        {"name": "Weight", "code": "weight", "type": "number", "unit": "kg"},
        {"name": "Organic", "code": "organic", "type": "boolean"},
    )
    with db.writing():
        for body in bodies:
            attributes.create_attribute(db, org_id, body)


def variant_counts(product_count: int, total: int) -> dict[int, int]:
    """Product index (0-based, insertion order) -> how many variants it gets: the first
    gets BIG_VARIANTS, then every 50th product SMALL_VARIANTS until `total` is reached."""
    counts: dict[int, int] = {}
    left, index, step = total, 0, max(1, product_count // max(1, total // SMALL_VARIANTS))
    while left > 0 and index < product_count:
        counts[index] = min(left, BIG_VARIANTS if not counts else SMALL_VARIANTS)
        left -= counts[index]
        index += step
    return counts


def catalog_products(db: Database, count: int, org_id: int,
                     with_variants: dict[int, int]) -> Iterator[dict[str, Any]]:
    """bench/api.py's products with five attribute values; the ones that get variants
    are variable and hold no warehouse stock (variants carry it)."""
    refs = create_references(db, org_id)
    rng = random.Random(SEED + 1)
    for index, product in enumerate(generate_products(count, refs)):
        product["attributes"].update(
            size=SIZES[rng.randrange(len(SIZES))], weight=rng.randrange(1, 400) / 20,
            organic=rng.random() < 0.2)
        if index in with_variants:
            product.update(product_type="variable", stock=0)
        yield product


def build_tree(db: Database, org_id: int, total: int) -> list[int]:
    """ROOTS top-level categories of total/ROOTS nodes each (GROUPS children, the rest
    leaves shared out among them), inserted in one transaction with explicit ids and
    positions 0..n-1. Answers the leaf ids."""
    per_root = total // ROOTS
    now = utcnow()
    rows: list[tuple[Any, ...]] = []
    leaves: list[int] = []
    with db.writing():
        next_id = int(db.execute_sql("SELECT coalesce(max(id), 0) FROM category").fetchone()[0]) + 1

        def add(parent: int | None, name: str, position: int) -> int:
            nonlocal next_id
            rows.append((next_id, org_id, parent, name, f"{slugify(name)}-{next_id}",
                         f"The {name} category.", position, now, now))
            next_id += 1
            return next_id - 1

        for r in range(ROOTS):
            root = add(None, f"Department {r + 1}", r)
            groups = [add(root, f"Department {r + 1} Aisle {g + 1}", g) for g in range(GROUPS)]
            for n in range(per_root - 1 - GROUPS):
                group, position = groups[n % GROUPS], n // GROUPS
                leaves.append(add(group, f"Department {r + 1} Aisle {n % GROUPS + 1} Shelf {position + 1}",
                                  position))
        db.connection().executemany(
            "INSERT INTO category (id, org_id, parent_id, name, slug, description, position,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return leaves


def link_products(db: Database, org_id: int, leaves: list[int]) -> int:
    """Three distinct random leaves per product, through the count triggers."""
    rng = random.Random(SEED + 2)
    ids = [row[0] for row in db.execute_sql("SELECT id FROM product WHERE org_id = ?", (org_id,))]
    links = [(product_id, leaf) for product_id in ids for leaf in rng.sample(leaves, LINKS_PER_PRODUCT)]
    with db.writing():
        db.connection().executemany(
            "INSERT INTO product_category (product_id, category_id) VALUES (?, ?)", links)
    return len(links)


def variant_ean(n: int) -> str:
    body = f"200{n:09d}"
    return body + str(ean_check_digit(body))


def insert_variants(db: Database, org_id: int, with_variants: dict[int, int]) -> int:
    """Variant rows as `create_variant` writes them (canonical axis values, names from
    the product's name, positions 0..n-1), through the stock triggers."""
    rng = random.Random(SEED + 3)
    ids = [row for row in db.execute_sql(
        "SELECT id, name, sku FROM product WHERE org_id = ? ORDER BY id", (org_id,))]
    now = utcnow()
    rows: list[tuple[Any, ...]] = []
    for index, count in with_variants.items():
        product_id, name, sku = ids[index]
        colours = AXIS_COLOURS[:10] if count > SMALL_VARIANTS else rng.sample(AXIS_COLOURS, 2)
        for position in range(count):
            values = {"colour": colours[position // len(SIZES) % len(colours)],
                      "size": SIZES[position % len(SIZES)]}
            price = rng.randrange(500, 20000)
            rows.append((
                org_id, product_id, f"{sku}-V{position + 1:02d}",
                f"{name} - {values['colour']}, {values['size']}"[:255], price, None, price // 2,
                rng.randrange(100, 2000), rng.randrange(0, 40), int(rng.random() < 0.9), position,
                variant_ean(len(rows) + 1), attributes.encode(values), now, now,
            ))
    with db.writing():
        db.connection().executemany(
            "INSERT INTO product_variant (org_id, product_id, sku, name, price, sale_price, cost,"
            " weight, stock_quantity, is_enabled, position, ean, attributes, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


CHECKS = {
    "categories whose product_count is not their non-archived links": """
        SELECT count(*) FROM category c WHERE c.org_id = :org AND c.product_count != (
            SELECT count(*) FROM product_category pc JOIN product p ON p.id = pc.product_id
            WHERE pc.category_id = c.id AND p.status != 'archived')""",
    "parents whose children's positions are not 0..n-1": """
        SELECT count(*) FROM (SELECT parent_id FROM category WHERE org_id = :org GROUP BY parent_id
            HAVING count(DISTINCT position) != count(*) OR min(position) != 0
                OR max(position) != count(*) - 1)""",
    "variable products whose stock is not their enabled variants' sum": """
        SELECT count(*) FROM product p WHERE p.org_id = :org AND p.product_type = 'variable'
            AND p.stock != (SELECT coalesce(sum(stock_quantity), 0) FROM product_variant v
                            WHERE v.product_id = p.id AND v.is_enabled)""",
    "products with variants that are not variable": """
        SELECT count(DISTINCT v.product_id) FROM product_variant v JOIN product p ON p.id = v.product_id
            WHERE v.org_id = :org AND p.product_type != 'variable'""",
    "variable products holding warehouse stock levels": """
        SELECT count(*) FROM stock_level s JOIN product p ON p.id = s.product_id
            WHERE p.org_id = :org AND p.product_type = 'variable'""",
}


# Every category's distinct non-archived products of its subtree, the slow plain way.
SUBTREE_TOTALS = """
    WITH RECURSIVE up(cat, anc) AS (SELECT id, id FROM category WHERE org_id = ?
        UNION ALL SELECT up.cat, c.parent_id FROM up JOIN category c ON c.id = up.anc
        WHERE c.parent_id IS NOT NULL)
    SELECT up.anc, count(DISTINCT pc.product_id) FROM up
    JOIN product_category pc ON pc.category_id = up.cat JOIN product p ON p.id = pc.product_id
    WHERE p.status != 'archived' GROUP BY up.anc"""


def wrong_totals(db: Database, org_id: int) -> int:
    """Categories whose total_product_count in the tree is not the plain count."""
    expected = dict(db.execute_sql(SUBTREE_TOTALS, (org_id,)).fetchall())
    shown: dict[int, int] = {}

    def walk(nodes: list[dict[str, Any]]) -> None:
        for node in nodes:
            shown[node["id"]] = node["total_product_count"]
            walk(node["children"])

    walk(categories.category_tree(db, org_id))
    return sum(1 for category_id, total in shown.items() if expected.get(category_id, 0) != total)


def check_catalog(db: Database, org_id: int) -> None:
    """The derived columns must be what the API would have made; stop if not."""
    wrong = {label: int(db.execute_sql(sql.replace(":org", "?"), (org_id,)).fetchone()[0])
             for label, sql in CHECKS.items()}
    wrong["categories whose total_product_count is not a plain count of their subtree"] = \
        wrong_totals(db, org_id)
    for label, n in wrong.items():
        print(f"  check: {label}: {n}")
    if any(wrong.values()):
        raise RuntimeError("the built catalog is inconsistent; see the checks above")


def build_catalog(db: Database, org_id: int, count: int, category_count: int, variant_total: int) -> None:
    clock = Stopwatch()
    since = clock.started
    define_attributes(db, org_id)
    with_variants = variant_counts(count, variant_total)
    catalog = list(catalog_products(db, count, org_id, with_variants))
    since = clock.step(f"generate {count:,} products and 5 attribute definitions", since)
    bulk_import(db, org_id, catalog)
    del catalog
    since = clock.step("bulk_import (one transaction)", since)
    leaves = build_tree(db, org_id, category_count)
    since = clock.step(f"{category_count:,} categories ({len(leaves):,} leaves)", since)
    links = link_products(db, org_id, leaves)
    since = clock.step(f"{links:,} product-category links (count triggers on)", since)
    variants = insert_variants(db, org_id, with_variants)
    since = clock.step(f"{variants:,} variants of {len(with_variants):,} products (stock triggers on)", since)
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    since = clock.step("WAL checkpoint", since)
    print(f"  setup total {clock.total():.1f} s")


def count_of(db: Database, sql: str, org_id: int) -> int:
    return int(db.execute_sql(sql, (org_id,)).fetchone()[0])


SIZE_QUERIES = [
    ("products", "SELECT count(*) FROM product WHERE org_id = ?"),
    ("categories", "SELECT count(*) FROM category WHERE org_id = ?"),
    ("links", "SELECT count(*) FROM product_category pc JOIN category c ON c.id = pc.category_id"
              " WHERE c.org_id = ?"),
    ("variants", "SELECT count(*) FROM product_variant WHERE org_id = ?"),
]


def prepare(db: Database, path: str, args: argparse.Namespace) -> int:
    """Build the catalog in the open file unless the organization already has one."""
    with db.writing():
        org_id = orgs.get_or_create_org(db, CATALOG_ORG)
    if count_of(db, "SELECT count(*) FROM product WHERE org_id = ?", org_id):
        print(f"reusing {path}")
    else:
        print(f"building in {path}:")
        build_catalog(db, org_id, args.products, args.categories, args.variants)
    check_catalog(db, org_id)
    print("catalog: " + ", ".join(f"{count_of(db, sql, org_id):,} {what}" for what, sql in SIZE_QUERIES))
    size = sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
    print(f"database size: {size / 2**20:,.0f} MiB")
    return org_id


def find_targets(db: Database, org_id: int) -> Targets:
    def one(sql: str, *params: Any) -> int:
        return int(db.execute_sql(sql, (org_id, *params)).fetchone()[0])

    root = one("SELECT id FROM category WHERE org_id = ? AND parent_id IS NULL ORDER BY position LIMIT 1")
    return Targets(
        leaf=one("SELECT id FROM category c WHERE org_id = ? AND NOT EXISTS"
                 " (SELECT 1 FROM category k WHERE k.parent_id = c.id) ORDER BY product_count DESC, id LIMIT 1"),
        root=root,
        subtree=len(categories.subtree_ids(db, org_id, root)),
        elsewhere=one("SELECT c.id FROM category c JOIN category p ON p.id = c.parent_id"
                      " WHERE c.org_id = ? AND p.parent_id IS NULL AND p.id != ? ORDER BY c.id LIMIT 1", root),
        big_product=one("SELECT product_id FROM product_variant WHERE org_id = ?"
                        " GROUP BY product_id ORDER BY count(*) DESC, product_id LIMIT 1"),
        product_ids=[row[0] for row in db.execute_sql("SELECT id FROM product WHERE org_id = ?", (org_id,))],
    )


# ---- timing over HTTP ---------------------------------------------------------------------

@dataclass(frozen=True)
class Timing:
    label: str
    times_ms: list[float]
    body_bytes: int

    def percentile(self, pct: int) -> float:
        if len(self.times_ms) < 2:
            return self.times_ms[0]
        return statistics.quantiles(self.times_ms, n=100, method="inclusive")[pct - 1]


def request(server: Server, key: str, method: str, path: str, body: Any = None) -> tuple[float, bytes]:
    """One request on a fresh connection: (ms, body); anything but 200 stops the run."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"X-API-KEY": key, **({"Content-Type": "application/json"} if data else {})}
    req = urllib.request.Request(server.url(path), data=data, headers=headers, method=method)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            payload = response.read()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{method} {path}: {exc.code} {exc.read()[:300]!r}") from None
    return (time.perf_counter() - started) * 1000, payload


def timed(label: str, repeat: int, call: Callable[[int], tuple[float, bytes]]) -> Timing:
    """`call(i)` for i in 0..WARMUP+repeat-1; the first WARMUP are not counted."""
    times, size = [], 0
    for i in range(WARMUP + repeat):
        ms, payload = call(i)
        if i >= WARMUP:
            times.append(ms)
            size = len(payload)
    return Timing(label, times, size)


def create_key(db_path: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "micropim.py"), "create-key", "--db", db_path, "--org", CATALOG_ORG],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120)
    return done.stdout.strip().splitlines()[-1]


def run_timings(server: Server, key: str, t: Targets, repeat: int) -> list[Timing]:
    rng = random.Random(SEED + 4)

    def get(path: str) -> Callable[[int], tuple[float, bytes]]:
        return lambda _: request(server, key, "GET", path)

    def move(i: int) -> tuple[float, bytes]:
        there = i % 2 == 0
        ms, payload = request(server, key, "POST", f"/api/categories/{t.root}/move",
                              {"parent_id": t.elsewhere if there else None, "position": 0})
        moved = json.loads(payload)["data"]
        if moved["parent_id"] != (t.elsewhere if there else None):
            raise RuntimeError(f"move answered {moved}")
        return ms, payload

    def tree_after_a_write(i: int) -> tuple[float, bytes]:
        # Any commit makes the subtree counts be counted again on the next read.
        request(server, key, "PATCH", f"/api/products/{t.product_ids[0]}", {"short_description": f"bench {i}"})
        return request(server, key, "GET", "/api/categories/tree")

    pages = "/api/categories/{}/products?include_subcategories=true&limit=20&page={}"
    samples = rng.sample(t.product_ids, WARMUP + repeat)
    timings = [
        timed("GET /api/categories/tree (counts kept)", repeat, get("/api/categories/tree")),
        timed("GET /api/categories/tree after a write (counted)", repeat, tree_after_a_write),
        timed(f"GET /api/categories/{t.root} (a 500-node subtree)", repeat, get(f"/api/categories/{t.root}")),
        timed(f"category products, leaf {t.leaf}, limit=20", repeat,
              get(f"/api/categories/{t.leaf}/products?limit=20")),
        timed(f"category products, top {t.root} + subcategories, page 1", repeat,
              get(pages.format(t.root, 1))),
        timed(f"category products, top {t.root} + subcategories, page 100", repeat,
              get(pages.format(t.root, 100))),
        timed(f"GET /api/products/{t.big_product}/variants", repeat,
              get(f"/api/products/{t.big_product}/variants")),
        timed("GET /api/products/{id}, random ids (first reads)", repeat,
              lambda i: request(server, key, "GET", f"/api/products/{samples[i]}")),
        timed(f"GET /api/products/{t.big_product} (cached)", repeat, get(f"/api/products/{t.big_product}")),
    ]
    timings.append(timed(f"POST /api/categories/{t.root}/move ({t.subtree} nodes)", repeat, move))
    if (WARMUP + repeat) % 2:
        move(1)  # an odd number of moves left the subtree away: back home
    return timings


def print_table(timings: list[Timing], tree: Any) -> None:
    print(f"\n  {'request (urllib, a new connection each)':<56} {'n':>4} {'p50':>9} {'p99':>9} {'bytes':>10}")
    for t in timings:
        print(f"  {t.label:<56} {len(t.times_ms):>4} {t.percentile(50):>7.2f}ms {t.percentile(99):>7.2f}ms"
              f" {t.body_bytes:>10,}")

    def nodes(children: list[dict[str, Any]]) -> int:
        return sum(1 + nodes(c["children"]) for c in children)

    print(f"  the tree holds {nodes(tree):,} categories")


def serve_and_time(work: Path, db_path: str, targets: Targets, repeat: int) -> None:
    key = create_key(db_path)
    port = free_port()
    server = start_server("micropim", [
        sys.executable, str(ROOT / "micropim.py"), "serve", "--db", db_path, "--host", HOST,
        "--port", str(port), "--read-limit", "100000000", "--write-limit", "100000000",
    ], port, work / "micropim.log")
    try:
        wait_ready(server)
        before = (cpu_seconds(server.process.pid), cpu_seconds(os.getpid()), machine_busy_seconds(),
                  time.monotonic())
        timings = run_timings(server, key, targets, repeat)
        ours = cpu_seconds(server.process.pid) - before[0] + cpu_seconds(os.getpid()) - before[1]
        other = machine_busy_seconds() - before[2] - ours
        capacity = (time.monotonic() - before[3]) * (os.cpu_count() or 1)
        tree = json.loads(request(server, key, "GET", "/api/categories/tree")[1])["data"]["categories"]
        print_table(timings, tree)
        print(f"  noise: other processes used {max(0.0, other / capacity * 100):.0f} % of the machine's"
              " CPU during the timings (hypervisor steal included)")
    finally:
        stop_server(server)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=100_000, help="products to build (default 100,000)")
    parser.add_argument("--categories", type=int, default=5_000, help="categories to build (default 5,000)")
    parser.add_argument("--variants", type=int, default=20_000, help="variants to build (default 20,000)")
    parser.add_argument("--repeat", type=int, default=100, help="timed requests per row (default 100)")
    parser.add_argument("--db", help="database file to build into, or reuse if it holds the catalog")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print(describe_setup())
    with tempfile.TemporaryDirectory(prefix="micropim-catalog-") as tmp:
        db_path = args.db or str(Path(tmp) / "catalog.db")
        db = open_database(db_path)
        try:
            org_id = prepare(db, db_path, args)
            targets = find_targets(db, org_id)
        finally:
            db.close()
        serve_and_time(Path(tmp), db_path, targets, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
