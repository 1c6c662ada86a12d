"""Translations benchmark: text search and localized lists before and after every
product of a catalog gets translated.

Run from the repository root, on a catalog that `bench/api.py --db PATH` built:

    .venv/bin/python bench/api.py --products 100000 --db /tmp/bench.db
    .venv/bin/python bench/translations.py --db /tmp/bench.db [--locales de,ro] [--repeat R]

What it does, in one run, on a temporary copy of PATH (PATH itself is left alone):

1. Times every search term of `bench/api.py` in-process (median and min of --repeat
   runs), plus words that only the translations will hold, and a page of the active
   list read with and without `locale` (cold cache: the JSON is built; warm: cached).
2. Inserts one translation per product and locale (name, description and short
   description with the common nouns, colours and materials translated) through the
   row triggers that keep the text index in step, and prints the rate and the growth
   of the file.
3. Times the same calls again; then merges the text index (FTS5 `optimize`) and times
   them once more, and with `locale` set. Each translation written re-indexes its
   product (a delete and an insert in the contentless FTS5 table); 200k of them in a
   row leave the index in many segments with tombstones until FTS5's own merging
   catches up: at 100k products that made searches 2-4x slower (a SKU up to 20x) until
   `optimize` (2-3 s) merged it, after which they were faster than on the catalog as
   `bulk_import` left it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from api import BENCH_ORG, median_ms, search_terms  # noqa: E402

from store.db import Database, open_database  # noqa: E402
from store.products.query import ProductQuery, list_products_json  # noqa: E402
from store.values import utcnow  # noqa: E402

WORDS = {
    "de": {"shirt": "Hemd", "mug": "Becher", "shoe": "Schuh", "bottle": "Flasche",
           "jacket": "Jacke", "bag": "Tasche", "sweater": "Pullover", "lamp": "Lampe",
           "black": "Schwarz", "white": "Weiss", "cotton": "Baumwolle", "linen": "Leinen",
           "wool": "Wolle", "kettle": "Wasserkocher", "scarf": "Schal"},
    "ro": {"shirt": "Cămașă", "mug": "Cană", "shoe": "Pantof", "bottle": "Sticlă",
           "jacket": "Jachetă", "bag": "Geantă", "black": "Negru", "white": "Alb",
           "cotton": "Bumbac", "linen": "In", "wool": "Lână", "scarf": "Fular"},
}
ONLY_TRANSLATED = ["hemd", "schwarz hemd", "camasa", "fular"]


def translate(text: str, words: dict[str, str]) -> str:
    return " ".join(words.get(word.lower().strip(".,"), word) for word in text.split())


def add_translations(db: Database, org_id: int, locales: list[str]) -> None:
    rows = db.execute_sql(
        "SELECT id, name, description, short_description FROM product WHERE org_id = ?", (org_id,)
    ).fetchall()
    now = utcnow()
    started = time.perf_counter()
    with db.writing():
        for locale in locales:
            words = WORDS.get(locale.split("-")[0], {})
            db.connection().executemany(
                "INSERT INTO product_translation (product_id, org_id, locale, name, description,"
                " short_description, slug, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(pid, org_id, locale, translate(name, words), translate(description, words),
                  translate(short, words), f"{locale.lower()}-{pid}", now, now)
                 for pid, name, description, short in rows],
            )
    elapsed = time.perf_counter() - started
    count = len(rows) * len(locales)
    print(f"\ninserted {count:,} translations ({', '.join(locales)}) through the row triggers"
          f" in {elapsed:.1f} s = {count / elapsed:,.0f} rows/s")
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def optimize_index(db: Database) -> None:
    started = time.perf_counter()
    db.execute_sql("INSERT INTO product_fts(product_fts) VALUES('optimize')")
    print(f"\nmerged the text index (FTS5 optimize) in {time.perf_counter() - started:.1f} s")


def timings(db: Database, org_id: int, terms: list[str], locale: str | None, repeat: int, note: str) -> None:
    print(f"\nIn-process, {note}, locale={locale or '(none)'}, median / min of {repeat} runs"
          " after a warm-up:")
    print(f"  {'call':<44} {'matches':>9} {'median':>10} {'min':>10}")

    def show(label: str, fn: Callable[[], Any]) -> None:
        med, low, result = median_ms(fn, repeat)
        print(f"  {label:<44} {result[1]:>9} {med:>8.2f}ms {low:>8.2f}ms")

    listed = ProductQuery(status=("active",), limit=20, locale=locale)

    def cold() -> Any:
        db.product_json.clear()
        return list_products_json(db, org_id, listed)

    show("list status=active limit=20, cold cache", cold)
    show("list status=active limit=20, warm cache", lambda: list_products_json(db, org_id, listed))
    for term in terms:
        query = ProductQuery(search=term, locale=locale)
        show(f"search {term!r}", lambda: list_products_json(db, org_id, query))


def file_mib(path: str) -> float:
    return os.path.getsize(path) / 2**20


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="a catalog built by bench/api.py --db")
    parser.add_argument("--locales", default="de,ro", help="locales to add (default de,ro)")
    parser.add_argument("--repeat", type=int, default=7, help="runs per call (default 7)")
    args = parser.parse_args(argv)
    locales = [locale.strip() for locale in args.locales.split(",") if locale.strip()]
    with tempfile.TemporaryDirectory(prefix="micropim-bench-") as tmp:
        path = str(Path(tmp) / "translated.db")
        shutil.copyfile(args.db, path)
        started = time.perf_counter()
        db = open_database(path)
        print(f"opened a copy of {args.db} ({file_mib(path):.0f} MiB), migrations included,"
              f" in {time.perf_counter() - started:.2f} s")
        try:
            row = db.execute_sql("SELECT id FROM organization WHERE name = ?", (BENCH_ORG,)).fetchone()
            if row is None:
                raise SystemExit(f"{args.db} holds no {BENCH_ORG!r} catalog: build it with bench/api.py --db")
            org_id = int(row[0])
            if db.execute_sql("SELECT 1 FROM product_translation LIMIT 1").fetchone():
                raise SystemExit(f"{args.db} already holds translations")
            terms = [term.text for term in search_terms(db, org_id)] + ONLY_TRANSLATED
            timings(db, org_id, terms, None, args.repeat, "no translations")
            add_translations(db, org_id, locales)
            print(f"database file: {file_mib(path):.0f} MiB")
            timings(db, org_id, terms, None, args.repeat, "translated, index as the triggers left it")
            optimize_index(db)
            timings(db, org_id, terms, None, args.repeat, "translated, index merged")
            timings(db, org_id, terms, locales[0], args.repeat, "translated, index merged")
        finally:
            db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
