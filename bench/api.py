"""API benchmark: MicroPIM against a raw Tornado hello-world, under the same wrk load.

Run from the repository root:

    .venv/bin/python bench/api.py [--products N] [--duration S] [--connections C]
                                  [--threads T] [--db PATH] [--warmup S] [--repeat R]

What it does, in one run:

1. Builds a catalog of N products (default 100,000) with `bulk_import` (bench/loader.py)
   in a temporary directory, or in `--db PATH`; an existing file at PATH that already
   holds the benchmark organization's products is reused as it is. Names and
   descriptions come from weighted vocabularies, so some words are common (10-20 % of
   rows), some medium (~1 %) and some rare (model names, ~0.015 % each). Prints the
   generation time, the bulk-insert time and rate (rows/s) and the file size.
2. Times `store.products.query.list_products_json` in-process (no HTTP) for every search term on
   its own (median of --repeat runs), with its match count, so slow terms are visible;
   also a status list page and a get-by-id for reference, and the sync-friendly list
   calls: status lists, `updated_since`, `sku=`/`ean=` lookups of 1-100 codes and
   pages with `include=stock_levels,variants`.
3. Starts `micropim.py serve` and a raw Tornado hello-world JSON server (a script
   written into the temporary directory, same Python), each in its own process on
   127.0.0.1, and runs wrk with the same threads, connections and duration against:
   hello-world; GET /api/products?status=active&limit=20; GET /api/products/{id}
   (random ids, Lua); GET /api/products?search=... (Lua, cycling through the terms);
   the same search with one connection, for its unloaded latency (under C
   connections in a closed loop, p50 is about C / req/s whatever a request costs);
   a lookup of 20 SKUs (`sku=`) and the status list page with
   `include=stock_levels,variants`.
4. Prints a table: req/s, p50, p99 (wrk --latency), req/s as a percentage of
   hello-world, server CPU per request (from /proc), errors, the share of the machine's
   CPU that other processes used during the run (noise), and the targets
   (list >= 40 %, get >= 60 % of hello-world req/s; search p50 <= 10 ms at 1M
   products), then the servers' RSS (VmRSS) at start and after the load.

Subprocesses are always stopped (try/finally); every wrk run is bounded by --duration.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from loader import bulk_import  # noqa: E402

from store import orgs  # noqa: E402
from store.db import Database, open_database  # noqa: E402
from store.products.query import ProductQuery, list_products_json  # noqa: E402
from store.products.relations import INCLUDES  # noqa: E402
from store.products.read import get_product  # noqa: E402
from store.reference import BRANDS, SUPPLIERS, VAT_RATES  # noqa: E402
from store.values import STATUSES as STATUS_ANY, ean_check_digit, slugify  # noqa: E402

BENCH_ORG = "Bench Store"
SEED = 20261127
DEFAULT_PRODUCTS = 100_000
WRK = "/usr/bin/wrk"
HOST = "127.0.0.1"
LIST_PATH = "/api/products?status=active&limit=20"
SEARCH_ONE = "search (term mix), 1 connection"
TARGET_LIST_PCT = 40.0
TARGET_GET_PCT = 60.0
TARGET_SEARCH_P50_MS = 10.0
TARGET_SEARCH_AT = 1_000_000

# ---- vocabularies: (word, relative weight); "" means the part is left out ---------------

NOUNS: list[tuple[str, float]] = [
    ("Shirt", 14), ("Mug", 7), ("Shoe", 6), ("Bottle", 5), ("Jacket", 4), ("Bag", 4),
    ("Sweater", 3), ("Lamp", 3), ("Cap", 3), ("Backpack", 2.5),
] + [(noun, 1.2) for noun in (
    "Kettle Scarf Glove Sock Belt Wallet Towel Pillow Blanket Candle Vase Plate Bowl "
    "Teapot Apron Umbrella Notebook Pen Watch Sunglasses Hoodie Dress Skirt Jeans Shorts "
    "Sandal Boot Sneaker Slipper Hat Beanie Tote Duffel Suitcase Lunchbox Thermos Jug "
    "Tray Basket Cushion"
).split()]
COLOURS: list[tuple[str, float]] = [
    ("", 25), ("Black", 15), ("White", 10), ("Navy", 6), ("Grey", 6), ("Red", 5),
    ("Blue", 5), ("Green", 4), ("Beige", 4), ("Brown", 4),
] + [(colour, 1.0) for colour in (
    "Burgundy Coral Mustard Olive Teal Sand Charcoal Ivory Lilac Mint Rust Plum Ochre "
    "Cobalt Salmon Khaki"
).split()]
MATERIALS: list[tuple[str, float]] = [
    ("", 35), ("Cotton", 12), ("Steel", 5), ("Leather", 5), ("Wool", 4), ("Ceramic", 4),
    ("Glass", 4), ("Polyester", 4), ("Denim", 3), ("Canvas", 3), ("Linen", 2),
    ("Stoneware", 1.6), ("Bamboo", 1.5), ("Enamel", 1.5), ("Silk", 1), ("Oak", 1),
    ("Copper", 1), ("Merino", 1), ("Cashmere", 0.8), ("Cork", 0.6),
]
ADJECTIVES: list[tuple[str, float]] = [
    ("", 30), ("Classic", 8), ("Premium", 5), ("Slim", 4), ("Essential", 4), ("Oversized", 3),
    ("Vintage", 3), ("Organic", 3), ("Lightweight", 3), ("Insulated", 2), ("Waterproof", 2),
    ("Handmade", 2), ("Travel", 2), ("Compact", 2), ("Minimalist", 1.5), ("Rugged", 1.5),
] + [(adjective, 0.8) for adjective in (
    "Cosy Retro Nordic Urban Alpine Coastal Sporty Elegant Relaxed Tailored Quilted "
    "Padded Woven Knitted Brushed Matte Glossy Foldable Stackable Reversible"
).split()]
FEATURES = [
    "Machine washable at 30 degrees", "Dishwasher safe", "Microwave safe",
    "Keeps drinks cold for 24 hours", "Reinforced stitching at stress points",
    "Breathable fabric for all-day comfort", "Recycled packaging", "Fair trade certified",
    "Ergonomic handle", "Adjustable strap", "Two zipped pockets", "Padded laptop sleeve",
    "Non-slip rubber sole", "Cushioned insole", "Water-repellent finish", "UV protection",
    "Lead-free glaze", "BPA free", "Hand finished by artisans", "Fits standard cup holders",
    "Soft brushed interior", "Wind resistant", "Quick-drying", "Odour resistant",
    "Double-walled vacuum insulation", "Scratch resistant coating", "Dimmable warm light",
    "Magnetic closure", "Hidden inner pocket", "Relaxed fit", "Regular fit", "Tapered fit",
    "Ribbed cuffs and hem", "Stain resistant", "Easy to clean", "Lifetime guarantee",
    "Limited edition", "Made in Portugal", "Made in Romania", "Made in Italy",
]
CARE = [
    "Wash inside out.", "Do not tumble dry.", "Wipe clean with a damp cloth.",
    "Hand wash only.", "Iron on low heat.", "Store in a dry place.",
]
BRAND_NAMES = ["Nordwind", "Carpathia", "Urban Loom", "Aroma & Co", "Stride Lab", "Lumen",
               "Hearth & Co", "Fjord Outdoor", "Solace", "Ironbark", "Pebble", "Velora"]
SUPPLIER_NAMES = ["Textile Partners SRL", "Ceramica Est", "EuroFoot GmbH", "BrightHome"]
CHANNEL_SETS: list[tuple[list[str], float]] = [
    (["web", "mobile"], 40), (["web"], 20), (["web", "mobile", "marketplace"], 15),
    (["web", "marketplace"], 10), (["web", "mobile", "social", "email"], 10), ([], 5),
]
STATUSES: list[tuple[str, float]] = [
    ("active", 70), ("draft", 15), ("out_of_stock", 8), ("archived", 7),
]
MODEL_COUNT = 4000  # pseudo-word model names: each one is a rare term
MODEL_SHARE = 0.6  # share of products whose name carries a model name


def _model_names(count: int) -> list[str]:
    """Deterministic pronounceable pseudo-words, none of them a vocabulary word."""
    rng = random.Random(SEED)
    onsets, vowels, codas = "b c d f g k l m n p r s t v z br kr tr pl st".split(), "aeiou", "nrlsx"
    taken = {w.lower() for vocab in (NOUNS, COLOURS, MATERIALS, ADJECTIVES) for w, _ in vocab}
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        syllables = rng.choice((2, 2, 3))
        word = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(syllables))
        word += rng.choice(codas) if rng.random() < 0.5 else ""
        if word not in seen and word not in taken:
            seen.add(word)
            names.append(word.capitalize())
    return names


MODELS = _model_names(MODEL_COUNT)


class Picker:
    """Weighted choice with precomputed cumulative weights (fast for millions of draws)."""

    def __init__(self, weighted: Sequence[tuple[Any, float]]) -> None:
        self.values = [value for value, _ in weighted]
        self.cum: list[float] = []
        total = 0.0
        for _, weight in weighted:
            total += weight
            self.cum.append(total)

    def __call__(self, rng: random.Random) -> Any:
        return rng.choices(self.values, cum_weights=self.cum)[0]


# ---- the catalog ---------------------------------------------------------------------

@dataclass(frozen=True)
class Refs:
    """Reference rows products point at."""

    brands: list[tuple[int, str]]
    suppliers: list[int]
    vat_rates: list[int]


def sku_of(noun: str, n: int) -> str:
    return f"{noun[:3].upper()}-{n:07d}"


def ean_of(n: int) -> str:
    body = f"594{n:09d}"
    return body + str(ean_check_digit(body))


def generate_products(count: int, refs: Refs) -> Iterator[dict[str, Any]]:
    """`count` varied, valid product dicts for `bulk_import`, deterministic for a seed."""
    rng = random.Random(SEED)
    noun_p, colour_p, material_p = Picker(NOUNS), Picker(COLOURS), Picker(MATERIALS)
    adjective_p, status_p, channel_p = Picker(ADJECTIVES), Picker(STATUSES), Picker(CHANNEL_SETS)
    for n in range(1, count + 1):
        noun, colour, material, adjective = noun_p(rng), colour_p(rng), material_p(rng), adjective_p(rng)
        brand = refs.brands[rng.randrange(len(refs.brands))] if rng.random() < 0.85 else None
        model = MODELS[rng.randrange(MODEL_COUNT)] if rng.random() < MODEL_SHARE else ""
        words = [brand[1] if brand else "", adjective, colour, material, noun, model]
        name = " ".join(word for word in words if word)
        sku = sku_of(noun, n)
        price = rng.randrange(3, 300)
        status = status_p(rng)
        described = " ".join(w.lower() for w in (adjective, noun) if w) or noun.lower()
        made_of = " ".join(w.lower() for w in (colour, material) if w)
        description = (
            f"{described.capitalize()}{' in ' + made_of if made_of else ''}. "
            f"{rng.choice(FEATURES)}. {rng.choice(FEATURES)}. {rng.choice(CARE)}"
        )
        if rng.random() < 0.1:
            description += f" Pairs well with our {noun_p(rng).lower()}."
        yield {
            "name": name,
            "sku": sku,
            "slug": f"{slugify(name)}-{n}",
            "description": description,
            "short_description": f"{described}{', ' + made_of if made_of else ''}",
            "price": f"{price}.99",
            "sale_price": f"{price * 8 // 10}.49" if rng.random() < 0.15 else None,
            "cost_price": f"{price * 45 // 100}.00",
            "status": status,
            "stock": 0 if status == "out_of_stock" or rng.random() < 0.1 else rng.randrange(1, 250),
            "ean": ean_of(n) if rng.random() < 0.95 else None,
            "brand_id": brand[0] if brand else None,
            "supplier_id": refs.suppliers[rng.randrange(len(refs.suppliers))],
            "vat_rate_id": refs.vat_rates[0] if rng.random() < 0.8 else refs.vat_rates[1],
            "publishing_channels": channel_p(rng),
            "product_condition": "refurbished" if rng.random() < 0.03 else "new",
            "attributes": {"colour": colour or "n/a", "material": material or "n/a"},
        }


def create_references(db: Database, org_id: int) -> Refs:
    with db.writing():
        brands = [(BRANDS.create(db, org_id, {"name": name})["id"], name) for name in BRAND_NAMES]
        suppliers = [SUPPLIERS.create(db, org_id, {"name": name})["id"] for name in SUPPLIER_NAMES]
        vat_rates = [
            VAT_RATES.create(db, org_id, {"name": name, "rate": rate, "country_code": "RO"})["id"]
            for name, rate in (("Standard", 19), ("Reduced", 9))
        ]
        orgs.set_channels(db, org_id, [{"value": v} for v in ("web", "mobile", "marketplace", "social", "email")])
    return Refs(brands, suppliers, vat_rates)


def product_count(db: Database, org_id: int) -> int:
    return int(db.execute_sql("SELECT count(*) FROM product WHERE org_id = ?", (org_id,)).fetchone()[0])


def build_catalog(db: Database, org_id: int, count: int) -> None:
    """Generate and bulk-insert `count` products; prints the times and the rate."""
    refs = create_references(db, org_id)
    started = time.perf_counter()
    catalog = list(generate_products(count, refs))
    generated = time.perf_counter() - started
    print(f"generated {count:,} product dicts in {generated:.1f} s")
    started = time.perf_counter()
    inserted = bulk_import(db, org_id, catalog)
    elapsed = time.perf_counter() - started
    del catalog
    print(f"bulk_import: {inserted:,} rows in {elapsed:.1f} s = {inserted / elapsed:,.0f} rows/s"
          " (one transaction, FTS and counts rebuilt at the end)")
    started = time.perf_counter()
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    print(f"WAL checkpoint: {time.perf_counter() - started:.1f} s")


def prepare_database(path: str, wanted: int | None) -> tuple[Database, int, int]:
    """Open (and build if needed) the catalog; answers (the database, org id, product count)."""
    db = open_database(path)
    with db.writing():
        org_id = orgs.get_or_create_org(db, BENCH_ORG)
    found = product_count(db, org_id)
    if found:
        print(f"reusing {path}: {found:,} products" + (
            f" (asked for {wanted:,}; using what is there)" if wanted not in (None, found) else ""))
    else:
        count = wanted or DEFAULT_PRODUCTS
        print(f"building {count:,} products in {path}")
        build_catalog(db, org_id, count)
        found = product_count(db, org_id)
    size = sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
    print(f"database size: {size / 2**20:,.0f} MiB")
    return db, org_id, found


# ---- search terms ---------------------------------------------------------------------

@dataclass(frozen=True)
class Term:
    text: str
    kind: str


def search_terms(db: Database, org_id: int) -> list[Term]:
    """A realistic mix: common, medium, rare, prefixes, two words, a SKU, an EAN."""
    sku, ean = db.execute_sql(
        "SELECT sku, ean FROM product WHERE org_id = ? AND status = 'active' AND ean IS NOT NULL"
        " ORDER BY id LIMIT 1 OFFSET ?",
        (org_id, product_count(db, org_id) // 3),
    ).fetchone()
    return [
        Term("shirt", "common"), Term("black", "common"), Term("cotton", "common"),
        Term("linen", "medium"), Term("kettle", "medium"),
        Term(MODELS[7].lower(), "rare"), Term(MODELS[1234].lower(), "rare"),
        Term("sh", "prefix"), Term("bott", "prefix"),
        Term("black shirt", "two words"), Term("wool scarf", "two words"),
        Term(sku, "SKU"), Term(ean, "EAN"),
    ]


# ---- in-process timings ----------------------------------------------------------------

def median_ms(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(median ms, min ms, last result) over `repeat` runs after one warm-up run."""
    result = fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), min(times), result


def searcher(db: Database, org_id: int, query: ProductQuery) -> Callable[[], Any]:
    return lambda: list_products_json(db, org_id, query)


def in_process_timings(db: Database, org_id: int, terms: list[Term], id_range: tuple[int, int], repeat: int) -> None:
    print(f"\nIn-process store calls (no HTTP), median / min of {repeat} runs after a warm-up:")
    print(f"  {'call':<44} {'matches':>9} {'median':>10} {'min':>10}")

    def show(label: str, matches: int | str, fn: Callable[[], Any]) -> None:
        med, low, _ = median_ms(fn, repeat)
        print(f"  {label:<44} {matches:>9} {med:>8.2f}ms {low:>8.2f}ms")

    listed = ProductQuery(status=("active",), limit=20)
    show("list_products_json(status=active, limit=20)",
         list_products_json(db, org_id, listed)[1], lambda: list_products_json(db, org_id, listed))
    middle = (id_range[0] + id_range[1]) // 2
    show(f"get_product({middle})", 1, lambda: get_product(db, org_id, middle))
    for term in terms:
        query = ProductQuery(search=term.text)
        total = list_products_json(db, org_id, query)[1]
        show(f"search {term.text!r} ({term.kind})", total, searcher(db, org_id, query))
    # The sync-friendly list (README, "Product lists for sync"); the catalog has one
    # warehouse and no variants, so `include` costs its queries, not its rows.
    since = "2000-01-01T00:00:00.000000Z"
    skus, eans = spread_codes(db, org_id, "sku", 100), spread_codes(db, org_id, "ean", 100)
    for label, query in (
        ("list status=active,draft limit=20", ProductQuery(status=("active", "draft"))),
        ("list status=any limit=20", ProductQuery(status=STATUS_ANY)),
        ("list updated_since (every status) limit=100", ProductQuery(updated_since=since, limit=100)),
        ("list sku=1 code", ProductQuery(skus=skus[:1])),
        ("list sku=20 codes", ProductQuery(skus=skus[:20])),
        ("list sku=100 codes limit=100", ProductQuery(skus=skus, limit=100)),
        ("list ean=100 codes limit=100", ProductQuery(eans=eans, limit=100)),
        ("list limit=20 include=stock_levels,variants", ProductQuery(include=INCLUDES)),
        ("list limit=100", ProductQuery(limit=100)),
        ("list limit=100 include=stock_levels,variants", ProductQuery(limit=100, include=INCLUDES)),
    ):
        show(label, list_products_json(db, org_id, query)[1], searcher(db, org_id, query))


def spread_codes(db: Database, org_id: int, column: str, count: int) -> tuple[str, ...]:
    """`count` SKUs or EANs of the catalog's active products, spread over it."""
    return tuple(row[0] for row in db.execute_sql(
        f"SELECT {column} FROM product WHERE org_id = ? AND status = 'active' AND {column} IS NOT NULL"
        " ORDER BY (id * 7919) % 100003 LIMIT ?", (org_id, count)))


# ---- processes -------------------------------------------------------------------------

HELLO_SERVER = '''\
"""A raw Tornado hello-world JSON server: the ceiling for one Tornado process."""
import asyncio
import json
import sys

import tornado.web


class Hello(tornado.web.RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"status": 1, "data": {"hello": "world"}, "error": None}))


async def main(port: int) -> None:
    tornado.web.Application([(r"/.*", Hello)]).listen(port, "127.0.0.1")
    await asyncio.Event().wait()


asyncio.run(main(int(sys.argv[1])))
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"


def start_server(name: str, argv: list[str], port: int, log: Path) -> Server:
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    return Server(name, process, port, log)


def wait_ready(server: Server, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            with socket.create_connection((HOST, server.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    tail = server.log.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"{server.name} did not start on port {server.port}:\n{tail}")


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of the whole process (all threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds since boot in user and system mode, plus time stolen by the hypervisor."""
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, steal = fields[0], fields[1], fields[2], fields[7]
    return (user + nice + system + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def fetch_json(url: str, key: str | None) -> Any:
    request = urllib.request.Request(url, headers={"X-API-KEY": key} if key else {})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


# ---- wrk -------------------------------------------------------------------------------

GET_SCRIPT = """\
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
function init(args)
  math.randomseed(os.time() * 1000 + tid)
end
function request()
  return wrk.format("GET", "/api/products/" .. math.random(%d, %d))
end
"""

CYCLE_SCRIPT = """\
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
local paths = {%s}
local i = 0
function init(args)
  i = (tid * 5) %% #paths
end
function request()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx responses plus socket errors
    cpu_ms_per_request: float
    other_cpu_pct: float  # machine CPU used by neither the server nor wrk: noise


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match.group(1)) * UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> tuple[float, float, float, int, int]:
    """(req/s, p50 ms, p99 ms, requests, errors) from `wrk --latency` output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _duration_ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _duration_ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if sockets:
        errors += sum(int(n) for n in sockets.groups())
    return rps, p50, p99, requests, errors


@dataclass(frozen=True)
class Load:
    threads: int
    connections: int
    duration: int
    warmup: int


def wrk_argv(load: Load, seconds: int, url: str, key: str | None, script: Path | None) -> list[str]:
    argv = [WRK, "-t", str(load.threads), "-c", str(load.connections), "-d", f"{seconds}s",
            "--latency", "--timeout", "10s"]
    if key:
        argv += ["-H", f"X-API-KEY: {key}"]
    if script:
        argv += ["-s", str(script)]
    return argv + [url]


def run_wrk(server: Server, load: Load, path: str, key: str | None, script: Path | None) -> WrkResult:
    url = server.url(path)
    if load.warmup:
        subprocess.run(wrk_argv(load, load.warmup, url, key, script), capture_output=True,
                       timeout=load.warmup + 30, check=True)
    pid = server.process.pid
    before = (cpu_seconds(pid), children_cpu_seconds(), machine_busy_seconds(), time.monotonic())
    done = subprocess.run(wrk_argv(load, load.duration, url, key, script), capture_output=True,
                          text=True, timeout=load.duration + 30, check=True)
    server_cpu = cpu_seconds(pid) - before[0]
    wrk_cpu = children_cpu_seconds() - before[1]
    other = machine_busy_seconds() - before[2] - server_cpu - wrk_cpu
    capacity = (time.monotonic() - before[3]) * (os.cpu_count() or 1)
    rps, p50, p99, requests, errors = parse_wrk(done.stdout)
    return WrkResult(rps, p50, p99, requests, errors, server_cpu * 1000 / max(requests, 1),
                     max(0.0, other / capacity * 100))


# ---- report ----------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def print_table(results: dict[str, WrkResult], count: int, load: Load) -> None:
    hello = results["hello-world"].requests_per_s
    print(f"\nwrk: {load.threads} threads, {load.connections} connections, {load.duration} s each"
          f" (after a {load.warmup} s warm-up), {count:,} products; last row: 1 thread, 1 connection")
    print(f"  {'endpoint':<34} {'req/s':>8} {'p50':>9} {'p99':>9} {'% hello':>8}"
          f" {'CPU/req':>8} {'errors':>6} {'other':>6}  target")
    search_scale = "" if count >= TARGET_SEARCH_AT else f" (target is for {TARGET_SEARCH_AT:,})"
    targets = {
        "hello-world": "",
        "list status=active limit=20": f">= {TARGET_LIST_PCT:.0f} % hello: "
        + verdict(results["list status=active limit=20"].requests_per_s / hello * 100 >= TARGET_LIST_PCT),
        "get /api/products/{id}": f">= {TARGET_GET_PCT:.0f} % hello: "
        + verdict(results["get /api/products/{id}"].requests_per_s / hello * 100 >= TARGET_GET_PCT),
        "search (term mix)": f"p50 <= {TARGET_SEARCH_P50_MS:.0f} ms: "
        + verdict(results["search (term mix)"].p50_ms <= TARGET_SEARCH_P50_MS) + search_scale,
        SEARCH_ONE: f"p50 <= {TARGET_SEARCH_P50_MS:.0f} ms: "
        + verdict(results[SEARCH_ONE].p50_ms <= TARGET_SEARCH_P50_MS) + search_scale,
    }
    for name, r in results.items():
        print(f"  {name:<34} {r.requests_per_s:>8,.0f} {r.p50_ms:>7.2f}ms {r.p99_ms:>7.2f}ms"
              f" {r.requests_per_s / hello * 100:>7.0f}% {r.cpu_ms_per_request:>6.2f}ms"
              f" {r.errors:>6} {r.other_cpu_pct:>5.0f}%  {targets.get(name, '')}")
    print("  CPU/req: server CPU (all threads) per request; other: share of the machine's CPU"
          " used by neither the server nor wrk during the run, hypervisor steal included (noise)")


# ---- main ------------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=None,
                        help=f"catalog size to build (default {DEFAULT_PRODUCTS})")
    parser.add_argument("--db", help="database file to build into, or reuse if it holds the catalog")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured wrk before each run")
    parser.add_argument("--repeat", type=int, default=7, help="in-process runs per call (default 7)")
    return parser.parse_args(argv)


def check_endpoints(micropim: Server, hello: Server, key: str, paths: list[str]) -> None:
    """One request to each endpoint before the load: a broken setup fails loudly here."""
    assert fetch_json(hello.url("/"), None)["status"] == 1
    for path in paths:
        body = fetch_json(micropim.url(path), key)
        if body.get("status") != 1:
            raise RuntimeError(f"{path}: {body}")


def write_scripts(work: Path, id_range: tuple[int, int], terms: list[Term]) -> tuple[Path, Path, Path]:
    hello_py = work / "hello_server.py"
    hello_py.write_text(HELLO_SERVER)
    get_lua = work / "get.lua"
    get_lua.write_text(GET_SCRIPT % id_range)
    search_lua = work / "search.lua"
    paths = ", ".join(f'"{search_path(t)}"' for t in terms)
    search_lua.write_text(CYCLE_SCRIPT % paths)
    return hello_py, get_lua, search_lua


def search_path(term: Term) -> str:
    return "/api/products?search=" + urllib.parse.quote(term.text)


def run_load(db: Database, work: Path, db_path: str, org_id: int, count: int, terms: list[Term],
             id_range: tuple[int, int], load: Load) -> None:
    with db.writing():
        key = orgs.create_key(db, org_id, label="bench")
    hello_py, get_lua, search_lua = write_scripts(work, id_range, terms)
    micropim_port, hello_port = free_port(), free_port()
    servers: list[Server] = []
    try:
        servers.append(start_server("hello-world", [sys.executable, str(hello_py), str(hello_port)],
                                    hello_port, work / "hello.log"))
        servers.append(start_server("micropim", [
            sys.executable, str(ROOT / "micropim.py"), "serve", "--db", db_path, "--host", HOST,
            "--port", str(micropim_port), "--read-limit", "100000000", "--write-limit", "100000000",
        ], micropim_port, work / "micropim.log"))
        hello, micropim = servers
        for server in servers:
            wait_ready(server)
        check_endpoints(micropim, hello, key, [LIST_PATH, f"/api/products/{id_range[0]}",
                                               search_path(terms[0])])
        rss_start = {s.name: rss_mb(s.process.pid) for s in servers}

        sync_paths = {
            "list sku=20 codes": "/api/products?sku=" + ",".join(spread_codes(db, org_id, "sku", 20)),
            "list include=stock_levels,variants": LIST_PATH + "&include=stock_levels,variants",
        }
        check_endpoints(micropim, hello, key, list(sync_paths.values()))
        results = {
            "hello-world": run_wrk(hello, load, "/", None, None),
            "list status=active limit=20": run_wrk(micropim, load, LIST_PATH, key, None),
            "get /api/products/{id}": run_wrk(micropim, load, "/api/products/1", key, get_lua),
            "search (term mix)": run_wrk(micropim, load, "/api/products", key, search_lua),
            # Unloaded latency: with C connections in a closed loop, p50 is about C / (req/s)
            # whatever the query costs, so this row shows what one request takes.
            SEARCH_ONE: run_wrk(micropim, replace(load, threads=1, connections=1),
                                "/api/products", key, search_lua),
            **{name: run_wrk(micropim, load, path, key, None) for name, path in sync_paths.items()},
        }
        print_table(results, count, load)
        print(f"  get: random ids in [{id_range[0]}, {id_range[1]}];"
              f" search cycles {len(terms)} terms: " + ", ".join(repr(t.text) for t in terms))
        for server in servers:
            print(f"RSS {server.name}: {rss_start[server.name]:.0f} MB at start,"
                  f" {rss_mb(server.process.pid):.0f} MB after the load")
    finally:
        for server in servers:
            stop_server(server)


def describe_setup() -> str:
    """The commit and whether the tree outside bench/ has uncommitted changes."""
    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()
    dirty = [line for line in git("status", "--porcelain").splitlines() if " bench/" not in line]
    return (f"commit {git('rev-parse', '--short', 'HEAD') or '?'}"
            f"{f' + {len(dirty)} uncommitted changes' if dirty else ''}; {os.cpu_count()} CPUs")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print(describe_setup())
    load = Load(args.threads, args.connections, args.duration, args.warmup)
    with tempfile.TemporaryDirectory(prefix="micropim-bench-") as tmp:
        work = Path(tmp)
        db_path = args.db or str(work / "bench.db")
        db, org_id, count = prepare_database(db_path, args.products)
        try:
            low, high = db.execute_sql(
                "SELECT min(id), max(id) FROM product WHERE org_id = ?", (org_id,)).fetchone()
            terms = search_terms(db, org_id)
            in_process_timings(db, org_id, terms, (low, high), args.repeat)
            run_load(db, work, db_path, org_id, count, terms, (low, high), load)
        finally:
            db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
