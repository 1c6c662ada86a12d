"""The measured facts the store's design relies on, measured again on this machine.

Run from the repository root:

    .venv/bin/python bench/facts.py [--products 100000] [--db FILE]

Builds a catalog of N products in a temporary database (or reuses `--db FILE`), then
prints, in process, the median time of each pair of ways to do one thing, so that the
choices in the code can be checked on any machine (README, "Measured facts"):

1. a list page (20 products and the count) as raw SQL tuples, peewee `.dicts()` and
   peewee model instances, and a product by id the same three ways;
2. building a peewee query (no execution) against running the SQL it builds;
3. counting the active products with `count(*)` against the counts table triggers keep;
4. a channel filter through the bitmask's partial index against a join to a link table;
5. full-text search: the top 20 of a common word ranked by bm25 against the count and
   newest 20 of the same matches;
6. inserting products one statement per row with the text-index triggers in place,
   against without them and filling the index in one statement;
7. counting a `sku=` lookup of 20 codes as a join that starts from the codes, against
   `p.id IN (the codes' products)`;
8. running 150 distinct statements in turn on a connection that keeps 100 prepared
   (pysqlite3's default: once full, each new statement is prepared at every run) and on
   one that keeps `store.db.STATEMENT_CACHE`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from loader import bulk_import  # noqa: E402

from store import orgs, schema  # noqa: E402
from store.db import Database, open_database  # noqa: E402
from store.migrations import split_sql  # noqa: E402
from store.models import Product  # noqa: E402

WORDS = ["shirt", "mug", "lamp", "boot", "cap", "bottle", "jacket", "sneaker", "bag", "sweater"]


def median_ms(fn: Callable[[], Any], repeat: int = 50) -> float:
    fn()  # warm
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def catalog(count: int) -> list[dict[str, Any]]:
    return [{
        "sku": f"F-{n:07d}", "name": f"{WORDS[n % 10].title()} {n}",
        "description": f"A {WORDS[n % 10]} of the catalog, number {n}",
        "status": "active" if n % 10 < 7 else "draft", "price": str(10 + n % 90),
        "stock": n % 50, "publishing_channels": ["web"] if n % 3 else ["web", "marketplace"],
    } for n in range(count)]


def line(what: str, first: tuple[str, float], *others: tuple[str, float]) -> None:
    shown = "  ".join(f"{name} {ms:.3f} ms" for name, ms in (first, *others))
    ratios = "  ".join(f"{name}/{first[0]} {ms / first[1]:.1f}x" for name, ms in others)
    print(f"{what:34s} {shown}   {ratios}")


def lists_and_reads(db: Database, org_id: int) -> None:
    page = ("SELECT id, sku, name, price, status, stock FROM product WHERE org_id = ?"
            " AND status = 'active' ORDER BY id LIMIT 20")
    count = "SELECT count(*) FROM product WHERE org_id = ? AND status = 'active'"
    query = (Product.select(Product.id, Product.sku, Product.name, Product.price, Product.status,
                            Product.stock)
             .where(Product.org_id == org_id, Product.status == "active").order_by(Product.id).limit(20))

    def raw() -> None:
        db.execute_sql(page, (org_id,)).fetchall()
        db.execute_sql(count, (org_id,)).fetchone()

    def dicts() -> None:
        list(query.dicts().execute(db))
        query.count(db, clear_limit=True)

    def instances() -> None:
        list(query.execute(db))
        query.count(db, clear_limit=True)

    line("list page of 20 + count", ("raw", median_ms(raw)), ("peewee dicts", median_ms(dicts)),
         ("peewee models", median_ms(instances)))
    product_id = db.execute_sql("SELECT max(id) FROM product").fetchone()[0] // 2
    one = Product.select().where(Product.id == product_id)
    line("product by id", ("raw", median_ms(lambda: db.execute_sql(
        "SELECT * FROM product WHERE id = ?", (product_id,)).fetchone(), 500)),
         ("peewee dicts", median_ms(lambda: one.dicts().get(db), 500)),
         ("peewee model", median_ms(lambda: one.get(db), 500)))
    line("peewee query: build only", ("run the SQL", median_ms(lambda: db.execute_sql(
        "SELECT * FROM product WHERE id = ?", (product_id,)).fetchone(), 500)),
         ("build the query", median_ms(lambda: Product.select().where(Product.id == product_id).sql(), 500)))


def counts_and_channels(db: Database, org_id: int) -> None:
    line("count of active products",
         ("counts table", median_ms(lambda: db.execute_sql(
             "SELECT n FROM product_status_count WHERE org_id = ? AND status = 'active'",
             (org_id,)).fetchone())),
         ("count(*)", median_ms(lambda: db.execute_sql(
             "SELECT count(*) FROM product WHERE org_id = ? AND status = 'active'", (org_id,)).fetchone(), 10)))
    db.execute_sql("CREATE TEMP TABLE channel_link (product_id INTEGER, channel TEXT,"
                   " PRIMARY KEY (channel, product_id)) WITHOUT ROWID")
    db.execute_sql("INSERT INTO channel_link SELECT id, 'marketplace' FROM product WHERE channels & 8")
    line("active products on a channel",
         ("bitmask index", median_ms(lambda: db.execute_sql(
             "SELECT count(*) FROM product p WHERE p.org_id = ? AND p.status = 'active'"
             " AND p.channels & 8", (org_id,)).fetchone(), 10)),
         ("join to a link table", median_ms(lambda: db.execute_sql(
             "SELECT count(*) FROM product p JOIN channel_link c ON c.product_id = p.id"
             " WHERE p.org_id = ? AND p.status = 'active' AND c.channel = 'marketplace'",
             (org_id,)).fetchone(), 10)))


def text_search(db: Database) -> None:
    match = '{sku name description} : ("shirt"*)'
    line("full-text: a word in 10 % of rows",
         ("count + newest 20", median_ms(lambda: (
             db.execute_sql("SELECT count(*) FROM product_fts WHERE product_fts MATCH ?", (match,)).fetchone(),
             db.execute_sql("SELECT rowid FROM product_fts WHERE product_fts MATCH ?"
                            " ORDER BY rowid DESC LIMIT 20", (match,)).fetchall()), 10)),
         ("top 20 by bm25", median_ms(lambda: db.execute_sql(
             "SELECT rowid FROM product_fts WHERE product_fts MATCH ? ORDER BY rank LIMIT 20",
             (match,)).fetchall(), 5)))


def code_lookups(db: Database, org_id: int) -> None:
    skus = [row[0] for row in db.execute_sql(
        "SELECT sku FROM product WHERE org_id = ? ORDER BY (id * 7919) % 100003 LIMIT 20", (org_id,))]
    marks = ",".join("?" * len(skus))
    codes = (f"SELECT id FROM (SELECT id FROM product WHERE org_id = ? AND sku IN ({marks})"
             f" UNION SELECT product_id FROM product_variant WHERE org_id = ? AND sku IN ({marks}))")
    params = [org_id, *skus, org_id, *skus]
    line("count of a lookup of 20 SKUs",
         ("join from the codes", median_ms(lambda: db.execute_sql(
             f"SELECT count(*) FROM ({codes}) code CROSS JOIN product p ON p.id = code.id"
             " WHERE p.org_id = ? AND p.status != 'archived'", [*params, org_id]).fetchone())),
         ("p.id IN (...)", median_ms(lambda: db.execute_sql(
             f"SELECT count(*) FROM product p WHERE p.org_id = ? AND p.status != 'archived'"
             f" AND p.id IN ({codes})", [org_id, *params]).fetchone(), 10)))


def inserts(path: str, org_id: int, count: int) -> None:
    """Insert `count` more products one statement per row, with and without the
    per-row triggers, each on a copy of the catalog."""
    columns = "org_id, sku, slug, name, description, short_description, created_at, updated_at"
    rows = [(org_id, f"I-{n}", f"i-{n}", f"Inserted {n}", "a new product", "", "t", "t")
            for n in range(count)]
    timings = []
    for with_triggers in (True, False):
        copy = path + (".with" if with_triggers else ".without")
        shutil.copyfile(path, copy)
        db = open_database(copy)
        started = time.perf_counter()
        with db.writing():
            if not with_triggers:
                for name in schema.ROW_TRIGGER_NAMES:
                    db.execute_sql(f"DROP TRIGGER {name}")
            first = db.execute_sql("SELECT max(id) + 1 FROM product").fetchone()[0]
            for row in rows:
                db.execute_sql(f"INSERT INTO product ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
            if not with_triggers:
                db.execute_sql(f"INSERT INTO product_fts ({schema.FTS_COLUMNS})"
                               f" SELECT {schema.TEXT_INDEX_VALUES.format(t='p')} FROM product p"
                               " WHERE p.id >= ?", (first,))
                for statement in split_sql(schema.ROW_TRIGGERS):
                    db.execute_sql(statement)
        timings.append(count / (time.perf_counter() - started))
        db.close()
        os.remove(copy)
    print(f"{'insert ' + format(count, ',') + ' products':34s} with triggers {timings[0]:,.0f} rows/s"
          f"  without, index filled once {timings[1]:,.0f} rows/s   {timings[1] / timings[0]:.1f}x")


def statement_cache(path: str) -> None:
    """150 distinct one-product lookups run in turn, 20 rounds, with a prepared-statement
    cache too small for them and with the store's."""
    from store.db import STATEMENT_CACHE, sqlite3

    # Shaped like the store's (joins and subqueries): preparing one costs about what
    # running it does, so a statement prepared at every run costs twice.
    statements = [f"SELECT p.id, p.sku, b.name, (SELECT count(*) FROM product_category c"
                  f" WHERE c.product_id = p.id), (SELECT group_concat(t.locale) FROM"
                  f" product_translation t WHERE t.product_id = p.id AND t.org_id = p.org_id)"
                  f" FROM product p LEFT JOIN brand b ON b.id = p.brand_id WHERE p.id = ? + {n}"
                  for n in range(150)]
    timings = []
    for cached in (100, STATEMENT_CACHE):
        conn = sqlite3.connect(path, cached_statements=cached)
        for sql in statements:  # warm: every statement prepared once
            conn.execute(sql, (1,)).fetchall()
        started = time.perf_counter()
        for _ in range(20):
            for sql in statements:
                conn.execute(sql, (1,)).fetchall()
        timings.append((time.perf_counter() - started) / (20 * len(statements)) * 1e6)
        conn.close()
    print(f"{'150 statements in turn':34s} cache of 100 {timings[0]:.1f} us each"
          f"  cache of {STATEMENT_CACHE} {timings[1]:.1f} us each   {timings[0] / timings[1]:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--db", help="reuse (or build once into) this database file")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="micropim-facts-")
    path = args.db or os.path.join(workdir, "facts.db")
    try:
        built = os.path.exists(path)
        db = open_database(path)
        with db.writing():
            org_id = orgs.get_or_create_org(db, "Facts")
        if not built:
            started = time.perf_counter()
            bulk_import(db, org_id, catalog(args.products))
            print(f"built {args.products:,} products in {time.perf_counter() - started:.1f} s")
        print(f"{args.products:,} products, SQLite {db.execute_sql('SELECT sqlite_version()').fetchone()[0]}")
        lists_and_reads(db, org_id)
        counts_and_channels(db, org_id)
        text_search(db)
        code_lookups(db, org_id)
        db.close()
        statement_cache(path)
        inserts(path, org_id, min(20_000, args.products))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
