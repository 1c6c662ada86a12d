"""Bulk import and export benchmark (issue 11), through a real `micropim serve` over HTTP.

Run from the repository root (heavy: on a shared machine run it under `nice -n 10`):

    .venv/bin/python bench/bulk.py [--products N] [--variants V] [--categories C]
                                   [--lines L] [--work DIR] [--keep]

What it measures, in one run, on a fresh database in a temporary folder (or `--work`):

1. Setup (not timed as a figure): an organization and a key, the five attribute
   definitions of `bench/catalog.py` (colour and size are variant axes), and a tree of
   C categories (default 610: 10 departments of 10 aisles of 5 shelves) imported with
   `POST /api/categories/bulk`. A warm-up feed of 1,000 other products is imported
   first: the products the latency probe reads.
2. A feed of N NDJSON lines (default 100,000), written to a file: every line a new
   product with 3 categories by path, 5 attribute values, a `ro` translation (name,
   short description, slug), brand, supplier and VAT rate by name, channels, EAN and
   stock; V variants (default 20,000) inline on the lines of V/10 products, 10 each.
3. **Creates**: the feed sent to `POST /api/imports` (`create_references=true`: the
   first line naming a brand creates it), the job followed with `GET /api/imports/{id}`
   until done. Prints lines/s over the job's own run (`started_at` to `finished_at`)
   and over the wall time from the POST to the job's end (upload and the body's check
   included), with the target (>= 20,000 lines/s).
4. **Unchanged**: the same feed again, every line `unchanged`: lines/s (target >= 30,000).
5. **Export**: `GET /api/products/export?format=ndjson`, read to the end: products/s
   (target >= 50,000), and the same as CSV.
6. **GET during an import**: a thread reads `GET /api/products/{id}` of the warm-up
   products in a closed loop on one keep-alive connection while each import runs, and
   once with the server idle; p50, p99 and max in ms (target p99 < 20 ms while an
   import runs). The probe shares the machine with the server (2 cores here).
7. **RSS**: the server's VmRSS sampled every 50 ms during each phase, its peak printed.
   With `--lines L` (say 1000000), a second database gets an L-line feed of the same
   shape (variants in the same share) and an L-product export, with the peak RSS of
   each (target < 300 MB); skipped when L is 0 (the default: it takes minutes).

The CPU share other processes took during each phase is printed as `other` (noise:
repeat a run when it is high).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from api import (  # noqa: E402
    ADJECTIVES, BRAND_NAMES, CARE, CHANNEL_SETS, COLOURS, FEATURES, HOST, MATERIALS, MODEL_COUNT,
    MODELS, NOUNS, SEED, STATUSES, SUPPLIER_NAMES, Picker, Server, cpu_seconds, describe_setup,
    ean_of, free_port, machine_busy_seconds, rss_mb, sku_of, start_server, stop_server, wait_ready,
)
from catalog import AXIS_COLOURS, SIZES  # noqa: E402

from store import orgs  # noqa: E402
from store.db import open_database  # noqa: E402
from store.values import slugify  # noqa: E402

BENCH_ORG = "Bulk Bench"
DEFAULT_PRODUCTS = 100_000
DEFAULT_VARIANTS = 20_000
VARIANTS_PER_PRODUCT = 10
WARMUP_PRODUCTS = 1_000
DEPARTMENTS, AISLES, SHELVES = 10, 10, 5
TARGET_CREATES = 20_000
TARGET_UNCHANGED = 30_000
TARGET_EXPORT = 50_000
TARGET_GET_P99_MS = 20.0
TARGET_RSS_MB = 300.0
RO = {"Shirt": "Cămașă", "Mug": "Cană", "Shoe": "Pantof", "Bottle": "Sticlă", "Jacket": "Geacă",
      "Bag": "Geantă", "Sweater": "Pulover", "Lamp": "Lampă", "Cap": "Șapcă", "Backpack": "Rucsac"}


# ---- the feeds --------------------------------------------------------------------------

def category_paths() -> list[str]:
    """Every category of the tree, parents first; the shelves are what products name."""
    paths: list[str] = []
    for d in range(1, DEPARTMENTS + 1):
        paths.append(f"Department {d}")
        for a in range(1, AISLES + 1):
            paths.append(f"Department {d} > Aisle {a}")
            paths += [f"Department {d} > Aisle {a} > Shelf {s}" for s in range(1, SHELVES + 1)]
    return paths


def feed_lines(count: int, variants: int, prefix: str = "", seed: int = SEED) -> Iterator[dict[str, Any]]:
    """`count` lines, each a new product (see the module's docstring); every
    count/(variants/10)-th carries 10 variants."""
    rng = random.Random(seed)
    noun_p, colour_p, material_p = Picker(NOUNS), Picker(COLOURS), Picker(MATERIALS)
    adjective_p, status_p, channel_p = Picker(ADJECTIVES), Picker(STATUSES), Picker(CHANNEL_SETS)
    shelves = [path for path in category_paths() if path.count(">") == 2]
    with_variants = variants // VARIANTS_PER_PRODUCT
    every = max(1, count // with_variants) if with_variants else 0
    for n in range(1, count + 1):
        noun, colour, material, adjective = noun_p(rng), colour_p(rng), material_p(rng), adjective_p(rng)
        brand = BRAND_NAMES[rng.randrange(len(BRAND_NAMES))] if rng.random() < 0.85 else None
        model = MODELS[rng.randrange(MODEL_COUNT)] if rng.random() < 0.6 else ""
        name = " ".join(w for w in (brand or "", adjective, colour, material, noun, model) if w)
        sku = prefix + sku_of(noun, n)
        price = rng.randrange(3, 300)
        described = " ".join(w.lower() for w in (adjective, noun) if w) or noun.lower()
        made_of = " ".join(w.lower() for w in (colour, material) if w)
        ro_name = " ".join(w for w in (RO.get(noun, noun), brand or "", model) if w)
        line: dict[str, Any] = {
            "sku": sku, "name": name, "slug": f"{slugify(name)}-{prefix.lower()}{n}",
            "description": f"{described.capitalize()}{' in ' + made_of if made_of else ''}. "
                           f"{rng.choice(FEATURES)}. {rng.choice(FEATURES)}. {rng.choice(CARE)}",
            "short_description": f"{described}{', ' + made_of if made_of else ''}",
            "price": f"{price}.99", "cost_price": f"{price * 45 // 100}.00",
            "status": status_p(rng), "supplier": SUPPLIER_NAMES[rng.randrange(len(SUPPLIER_NAMES))],
            "vat_rate": "Standard (RO) 19%" if rng.random() < 0.8 else "Reduced (RO) 9%",
            "categories": rng.sample(shelves, 3), "publishing_channels": channel_p(rng),
            "attributes": {"colour": colour or "n/a", "size": SIZES[rng.randrange(len(SIZES))],
                           "material": material or "n/a", "weight": f"{rng.randrange(1, 400) / 20}",
                           "organic": rng.random() < 0.2},
            "translations": {"ro": {"name": ro_name, "short_description": f"{described} (ro)",
                                    "slug": f"{slugify(ro_name)}-{prefix.lower()}{n}"}},
        }
        if rng.random() < 0.15:
            line["sale_price"] = f"{price * 8 // 10}.49"
        if rng.random() < 0.95:
            line["ean"] = ean_of(n + (5_000_000 if prefix else 0))
        if brand:
            line["brand"] = brand
        if every and n % every == 0 and with_variants > 0:
            with_variants -= 1
            colours = rng.sample(AXIS_COLOURS, 2)
            line["variants"] = [
                {"sku": f"{sku}-V{i + 1:02d}", "attributes": {"colour": colours[i // len(SIZES)],
                                                              "size": SIZES[i % len(SIZES)]},
                 "price": f"{price + i}.50", "stock_quantity": rng.randrange(0, 40)}
                for i in range(VARIANTS_PER_PRODUCT)]
        else:
            line["stock"] = 0 if rng.random() < 0.1 else rng.randrange(1, 250)
        yield line


def write_feed(path: Path, lines: Iterator[dict[str, Any]]) -> tuple[int, int]:
    """The lines as NDJSON in `path`; answers (lines, variants)."""
    count = variants = 0
    with open(path, "w", encoding="utf-8") as out:
        for line in lines:
            out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
            variants += len(line.get("variants", ()))
    return count, variants


# ---- HTTP ---------------------------------------------------------------------------------

class Client:
    """Calls to the server with the key, one keep-alive connection per client."""

    def __init__(self, port: int, key: str) -> None:
        self.port, self.key = port, key
        self.conn = http.client.HTTPConnection(HOST, port, timeout=600)

    def call(self, method: str, path: str, body: bytes | IO[bytes] | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        self.conn.request(method, path, body=body, headers={"X-API-KEY": self.key, **(headers or {})})
        response = self.conn.getresponse()
        return response.status, response.read()

    def json(self, method: str, path: str, body: Any = None) -> Any:
        status, raw = self.call(method, path, None if body is None else json.dumps(body).encode(),
                                {"Content-Type": "application/json"})
        answer = json.loads(raw)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {answer.get('error')}")
        return answer["data"]

    def close(self) -> None:
        self.conn.close()


def upload(client: Client, path: str, feed: Path) -> tuple[int, bytes]:
    """POST a feed file, streamed from disk."""
    with open(feed, "rb") as body:
        return client.call("POST", path, body, {"Content-Type": "application/x-ndjson",
                                                "Content-Length": str(feed.stat().st_size)})


# ---- what runs beside a phase ---------------------------------------------------------------

def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and its parts: RssAnon (the heap: Python objects, SQLite's page caches and
    prepared statements) and RssFile (file pages mapped in: the database read through
    its memory map, and the libraries)."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile"):
            found[name] = int(value.split()[0]) / 1024
    return found


class RssSampler(threading.Thread):
    """The server's memory every 50 ms; `peak` (VmRSS) and `peak_anon` (RssAnon) are
    the highest seen since `reset()`."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.peak_anon, self.stopped = pid, 0.0, 0.0, threading.Event()

    def reset(self) -> None:
        now = memory_mb(self.pid)
        self.peak, self.peak_anon = now["VmRSS"], now["RssAnon"]

    def run(self) -> None:
        while not self.stopped.wait(0.05):
            try:
                now = memory_mb(self.pid)
            except (OSError, ValueError, KeyError):
                return
            self.peak, self.peak_anon = max(self.peak, now["VmRSS"]), max(self.peak_anon, now["RssAnon"])


class LatencyProbe(threading.Thread):
    """GET /api/products/{id} of random ids, one after another, until stopped."""

    def __init__(self, port: int, key: str, ids: list[int]) -> None:
        super().__init__(daemon=True)
        self.client, self.ids = Client(port, key), ids
        self.stopped = threading.Event()
        self.times: list[float] = []
        self.errors = 0

    def run(self) -> None:
        rng = random.Random(SEED)
        while not self.stopped.is_set():
            started = time.perf_counter()
            status, _ = self.client.call("GET", f"/api/products/{rng.choice(self.ids)}")
            self.times.append((time.perf_counter() - started) * 1000)
            if status != 200:
                self.errors += 1
            time.sleep(0.002)  # a client that also does other things: about 300-400 reads/s
        self.client.close()

    def stop(self) -> "LatencyProbe":
        self.stopped.set()
        self.join()
        return self

    def summary(self) -> str:
        if not self.times:
            return "no requests"
        ordered = sorted(self.times)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (f"GET /api/products/{{id}}: {len(ordered):,} requests, p50 {statistics.median(ordered):.1f} ms,"
                f" p99 {p99:.1f} ms, max {ordered[-1]:.1f} ms, errors {self.errors}")

    def p99(self) -> float:
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("nan")


@dataclass
class Phase:
    """CPU shares and the RSS peak of one timed phase."""

    server: Server
    rss: RssSampler
    started: float = 0.0
    cpu: float = 0.0
    busy: float = 0.0
    notes: list[str] = field(default_factory=list)

    def __enter__(self) -> "Phase":
        self.rss.reset()
        self.started, self.cpu, self.busy = time.perf_counter(), cpu_seconds(self.server.process.pid), \
            machine_busy_seconds()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.started
        server_cpu = cpu_seconds(self.server.process.pid) - self.cpu
        busy = machine_busy_seconds() - self.busy
        cores = os.cpu_count() or 1
        self.server_pct = 100 * server_cpu / max(self.seconds, 1e-9) / cores
        self.other_pct = 100 * max(0.0, busy - server_cpu) / max(self.seconds, 1e-9) / cores

    def line(self) -> str:
        return (f"server CPU {self.server_pct:.0f} %, other {self.other_pct:.0f} % of the machine;"
                f" server RSS peak {self.rss.peak:.0f} MB (of which heap, RssAnon, {self.rss.peak_anon:.0f} MB)")


def _stamp(text: str) -> float:
    """An API timestamp (`2026-01-02T03:04:05.678901Z`) as seconds."""
    import datetime as dt
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc).timestamp()


def run_job(client: Client, feed: Path, query: str = "create_references=true") -> tuple[dict[str, Any], float]:
    """Import `feed` as a job and wait for it; answers the finished job and the wall time."""
    started = time.perf_counter()
    status, raw = upload(client, f"/api/imports?{query}", feed)
    if status != 202:
        raise RuntimeError(f"POST /api/imports: {status} {raw[:300]!r}")
    job_id = json.loads(raw)["data"]["id"]
    while True:
        job = client.json("GET", f"/api/imports/{job_id}")
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    wall = time.perf_counter() - started
    if job["status"] != "done":
        raise RuntimeError(f"import {job_id} {job['status']}: {job['message']}")
    return job, wall


def job_rate(job: dict[str, Any], wall: float) -> tuple[float, float]:
    run = _stamp(job["finished_at"]) - _stamp(job["started_at"])
    return job["total_lines"] / max(run, 1e-9), job["total_lines"] / max(wall, 1e-9)


def export(client: Client, fmt: str) -> tuple[int, int, float]:
    """The whole export read as it streams; answers (lines, bytes, seconds)."""
    started = time.perf_counter()
    client.conn.request("GET", f"/api/products/export?format={fmt}", headers={"X-API-KEY": client.key})
    response = client.conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"export: {response.status} {response.read()[:300]!r}")
    lines = size = 0
    while chunk := response.read(1 << 20):
        lines += chunk.count(b"\n")
        size += len(chunk)
    return lines, size, time.perf_counter() - started


def verdict(ok: bool) -> str:
    return "meets the target" if ok else "MISSES the target"


# ---- the run ------------------------------------------------------------------------------

def prepare(work: Path, name: str) -> tuple[str, str]:
    """A fresh database with the benchmark organization; answers (path, key)."""
    path = str(work / f"{name}.db")
    db = open_database(path)
    try:
        with db.writing():
            org_id = orgs.get_or_create_org(db, BENCH_ORG)
            key = orgs.create_key(db, org_id, label="bench")
    finally:
        db.close()
    return path, key


def serve(work: Path, db_path: str, name: str) -> Server:
    port = free_port()
    server = start_server(name, [
        sys.executable, str(ROOT / "micropim.py"), "serve", "--db", db_path, "--host", HOST,
        "--port", str(port), "--read-limit", "100000000", "--write-limit", "100000000",
        "--bulk-limit-mb", "100000"], port, work / f"{name}.log")
    wait_ready(server)
    return server


def define_catalog(client: Client, work: Path) -> None:
    """The attribute definitions and the category tree the feeds name."""
    for body in (
        {"name": "Colour", "code": "colour", "type": "select", "options": [*AXIS_COLOURS, "n/a"],
         "is_variant_axis": True},
        {"name": "Size", "code": "size", "type": "select", "options": SIZES, "is_variant_axis": True},
        {"name": "Material", "code": "material", "type": "text"},
        {"name": "Weight", "code": "weight", "type": "number", "unit": "kg"},
        {"name": "Organic", "code": "organic", "type": "boolean"},
    ):
        client.json("POST", "/api/product-attributes", body)
    tree = work / "categories.ndjson"
    tree.write_text("".join(json.dumps({"path": path}) + "\n" for path in category_paths()))
    status, raw = upload(client, "/api/categories/bulk", tree)
    answer = json.loads(raw)["data"]
    if status != 200 or answer["failed"]:
        raise RuntimeError(f"categories: {status} {raw[:300]!r}")


def main_phases(args: argparse.Namespace, work: Path) -> None:
    db_path, key = prepare(work, "bulk")
    server = serve(work, db_path, "micropim")
    client = Client(server.port, key)
    rss = RssSampler(server.process.pid)
    rss.start()
    try:
        define_catalog(client, work)
        warm = work / "warmup.ndjson"
        write_feed(warm, feed_lines(WARMUP_PRODUCTS, 0, prefix="W", seed=SEED + 7))
        run_job(client, warm)
        ids = [int(row["id"]) for row in client.json("GET", "/api/products?status=any&limit=100")["products"]]
        print(f"setup: {len(category_paths())} categories, 5 attributes, {WARMUP_PRODUCTS:,} warm-up products;"
              f" RSS {rss_mb(server.process.pid):.0f} MB")

        started = time.perf_counter()
        feed = work / "feed.ndjson"
        lines, variants = write_feed(feed, feed_lines(args.products, args.variants))
        print(f"feed: {lines:,} lines with {variants:,} variants, {feed.stat().st_size / 1e6:,.0f} MB,"
              f" written in {time.perf_counter() - started:.1f} s")

        idle = LatencyProbe(server.port, key, ids)
        idle.start()
        time.sleep(3)
        print(f"\nidle server: {idle.stop().summary()}")

        results: dict[str, float] = {}
        for label, target in (("creates", TARGET_CREATES), ("unchanged", TARGET_UNCHANGED)):
            probe = LatencyProbe(server.port, key, ids)
            with Phase(server, rss) as phase:
                probe.start()
                job, wall = run_job(client, feed)
                probe.stop()
            run_rate, wall_rate = job_rate(job, wall)
            counts = {k: job[k] for k in ("created", "updated", "unchanged", "failed")}
            print(f"\nimport, {label}: {run_rate:,.0f} lines/s over the job's run, {wall_rate:,.0f} lines/s"
                  f" from the POST ({wall:.1f} s), {counts}; target >= {target:,}: {verdict(run_rate >= target)}")
            if job["errors"]:
                print(f"  first errors: {job['errors'][:3]}")
            print(f"  {phase.line()}")
            print(f"  while it ran, {probe.summary()};"
                  f" p99 target < {TARGET_GET_P99_MS:.0f} ms: {verdict(probe.p99() < TARGET_GET_P99_MS)}")
            results[label] = run_rate

        for fmt in ("ndjson", "csv"):
            with Phase(server, rss) as phase:
                rows, size, seconds = export(client, fmt)
            total = args.products + WARMUP_PRODUCTS
            note = (f"; target >= {TARGET_EXPORT:,}: {verdict(total / seconds >= TARGET_EXPORT)}"
                    if fmt == "ndjson" else f" ({rows:,} rows with the header and variant rows)")
            print(f"\nexport {fmt}: {total:,} products in {seconds:.1f} s = {total / seconds:,.0f} products/s,"
                  f" {size / 1e6:,.0f} MB{note}")
            print(f"  {phase.line()}")
    finally:
        client.close()
        rss.stopped.set()
        stop_server(server)


def big_phases(args: argparse.Namespace, work: Path) -> None:
    """The RSS of an L-line import and an L-product export, on a database of their own."""
    db_path, key = prepare(work, "big")
    feed = work / "big.ndjson"
    started = time.perf_counter()
    share = args.variants / max(args.products, 1)
    lines, variants = write_feed(feed, feed_lines(args.lines, int(args.lines * share), prefix="B"))
    print(f"\nbig feed: {lines:,} lines with {variants:,} variants, {feed.stat().st_size / 1e6:,.0f} MB,"
          f" written in {time.perf_counter() - started:.1f} s")
    server = serve(work, db_path, "micropim-big")
    client = Client(server.port, key)
    rss = RssSampler(server.process.pid)
    rss.start()
    try:
        define_catalog(client, work)
        print(f"RSS at start: {rss_mb(server.process.pid):.0f} MB")
        with Phase(server, rss) as phase:
            job, wall = run_job(client, feed)
        run_rate, _ = job_rate(job, wall)
        print(f"import of {lines:,} lines: {wall:.0f} s, {run_rate:,.0f} lines/s over the run; {phase.line()};"
              f" RSS target < {TARGET_RSS_MB:.0f} MB: {verdict(phase.rss.peak < TARGET_RSS_MB)}")
        feed.unlink()
        with Phase(server, rss) as phase:
            rows, size, seconds = export(client, "ndjson")
        print(f"export of {rows:,} products: {seconds:.0f} s, {rows / seconds:,.0f} products/s,"
              f" {size / 1e6:,.0f} MB; {phase.line()};"
              f" RSS target < {TARGET_RSS_MB:.0f} MB: {verdict(phase.rss.peak < TARGET_RSS_MB)}")
    finally:
        client.close()
        rss.stopped.set()
        stop_server(server)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=DEFAULT_PRODUCTS, help="lines of the main feed")
    parser.add_argument("--variants", type=int, default=DEFAULT_VARIANTS, help="variants in the main feed")
    parser.add_argument("--lines", type=int, default=0,
                        help="lines of the RSS feed (e.g. 1000000; 0 skips that part)")
    parser.add_argument("--work", help="folder for the databases and feeds (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep --work's files")
    parser.add_argument("--skip-main", action="store_true", help="only the --lines part")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print(describe_setup())
    work = Path(args.work or tempfile.mkdtemp(prefix="micropim-bulk-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if not args.skip_main:
            main_phases(args, work)
        if args.lines:
            big_phases(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
