"""Change events and webhooks benchmark (issue 12), through a real `micropim serve`.

Run from the repository root (on a shared machine under `nice -n 10`):

    .venv/bin/python bench/events.py [--products N] [--patches P] [--backlog B]
                                     [--feed F] [--work DIR]

What it measures, on a fresh database in a temporary folder (or `--work`):

1. Setup: an organization, a key and N products (default 1,000) made in-process, and
   F synthetic events (default 100,000; each the JSON of a real product) for the feed
   read; a local receiver (a threaded `http.server` in this process, answering 204)
   that notes when each delivery arrives.
2. **Write throughput**: P `PATCH /api/products/{id}` (default 3,000; each a real
   change, so each makes one event) from 2 client threads on keep-alive connections,
   once with no webhook and once with one webhook subscribed to `*` delivering to the
   receiver as they commit; writes/s of each and the slowdown (target <= 10 %).
3. **Lag**: 200 PATCHes 20 ms apart with the webhook subscribed; for each event, the
   receiver's arrival time minus the event's `occurred_at` (both this machine's clock):
   p50 / p99 (target p50 <= 50 ms).
4. **Delivery rate**: `POST /api/webhooks/{id}/redeliver` of the last B events
   (default 5,000): events/s the receiver gets, first to last (target >= 1,000/s).
5. **Feed read**: every one of the F events through `GET /api/events?limit=1000`,
   following `next_after`: total time, events/s and the p50 of one page.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from api import HOST, Server, free_port, start_server, stop_server, wait_ready  # noqa: E402

from store import orgs  # noqa: E402
from store.db import open_database  # noqa: E402
from store.products import write  # noqa: E402
from store.values import utcnow  # noqa: E402

BENCH_ORG = "Events Bench"
TARGET_SLOWDOWN = 10.0
TARGET_LAG_P50_MS = 50.0
TARGET_RATE = 1000.0


class Receiver:
    """Deliveries land here: (webhook-id, arrival wall time)."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[str, float]] = []
        self.lock = threading.Lock()
        received = self

        class Hook(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
                self.rfile.read(int(self.headers["Content-Length"]))
                with received.lock:
                    received.arrivals.append((self.headers["webhook-id"], time.time()))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((HOST, 0), Hook)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://{HOST}:{self.server.server_address[1]}/hook"

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def wait_for(self, count: int, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while self.count() < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the receiver got {self.count()} deliveries, not {count}")
            time.sleep(0.005)


class Client:
    def __init__(self, port: int, key: str) -> None:
        self.key = key
        self.conn = http.client.HTTPConnection(HOST, port, timeout=120)

    def json(self, method: str, path: str, body: Any = None) -> Any:
        self.conn.request(method, path, body=None if body is None else json.dumps(body).encode(),
                          headers={"X-API-KEY": self.key, "Content-Type": "application/json"})
        response = self.conn.getresponse()
        answer = json.loads(response.read())
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {answer.get('error')}")
        return answer["data"]


def prepare(work: Path, products: int, feed_events: int) -> tuple[str, str, list[int]]:
    path = str(work / "events.db")
    db = open_database(path)
    try:
        with db.writing():
            org_id = orgs.get_or_create_org(db, BENCH_ORG)
            key = orgs.create_key(db, org_id, label="bench")
            ids = [write.insert_product(db, org_id, {"name": f"Bench product {n}", "sku": f"EB-{n}",
                                                     "price": "10", "description": "A product to change."})
                   for n in range(products)]
        sample = db.execute_sql("SELECT data FROM event WHERE org_id = ? ORDER BY id LIMIT 1", (org_id,)).fetchone()[0]
        with db.writing():  # the feed read's events: real product JSON, written as the store writes them
            now = utcnow()
            db.connection().executemany(
                "INSERT INTO event (org_id, type, object_id, product_id, occurred_at, data) VALUES (?, ?, ?, ?, ?, ?)",
                ((org_id, "product.updated", ids[n % len(ids)], ids[n % len(ids)], now, sample)
                 for n in range(feed_events)))
    finally:
        db.close()
    return path, key, ids


def patch_storm(port: int, key: str, ids: list[int], count: int, round_no: int) -> float:
    """`count` PATCHes from 2 threads; answers writes/s."""
    per_thread = count // 2

    def run(offset: int) -> None:
        client = Client(port, key)
        for n in range(per_thread):
            product = ids[(offset + n) % len(ids)]
            client.json("PATCH", f"/api/products/{product}", {"name": f"Round {round_no} change {offset + n}"})

    threads = [threading.Thread(target=run, args=(offset,)) for offset in (0, per_thread)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return per_thread * 2 / (time.perf_counter() - started)


def stamp(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def run(args: argparse.Namespace, work: Path) -> None:
    t0 = time.perf_counter()
    db_path, key, ids = prepare(work, args.products, args.feed)
    print(f"setup: {args.products:,} products, {args.feed:,} feed events in {time.perf_counter() - t0:.1f} s")
    receiver = Receiver()
    port = free_port()
    server: Server = start_server("micropim", [
        sys.executable, str(ROOT / "micropim.py"), "serve", "--db", db_path, "--host", HOST, "--port", str(port),
        "--read-limit", "100000000", "--write-limit", "100000000", "--allow-private-urls"],
        port, work / "serve.log")
    try:
        wait_ready(server)
        client = Client(port, key)
        patch_storm(port, key, ids, 400, 0)  # warm-up
        without = patch_storm(port, key, ids, args.patches, 1)
        hook = client.json("POST", "/api/webhooks", {"url": receiver.url, "events": ["*"]})
        before = receiver.count()
        with_hook = patch_storm(port, key, ids, args.patches, 2)
        receiver.wait_for(before + args.patches)
        slowdown = (without - with_hook) / without * 100
        print(f"PATCH /api/products/{{id}}, 2 threads: {without:,.0f} writes/s without a webhook, "
              f"{with_hook:,.0f} with one: {slowdown:+.1f} % slower ({verdict(slowdown <= TARGET_SLOWDOWN)}: "
              f"<= {TARGET_SLOWDOWN:g} %)")

        # Lag: spaced writes, each event's arrival minus its occurred_at.
        latest = client.json("GET", f"/api/webhooks/{hook['id']}")["delivered_id"]
        start_count = receiver.count()
        for n in range(200):
            client.json("PATCH", f"/api/products/{ids[n % len(ids)]}", {"name": f"Lag probe {n}"})
            time.sleep(0.02)
        receiver.wait_for(start_count + 200)
        events: dict[str, float] = {}
        after = latest
        while True:
            page = client.json("GET", f"/api/events?after={after}&limit=1000")
            for event in page["events"]:
                events[str(event["id"])] = stamp(event["occurred_at"])
            if not page["events"]:
                break
            after = page["next_after"]
        with receiver.lock:
            arrivals = receiver.arrivals[start_count:start_count + 200]
        lags = [(arrived - events[event_id]) * 1000 for event_id, arrived in arrivals if event_id in events]
        p50 = statistics.median(lags)
        print(f"lag from commit to delivery, {len(lags)} writes 20 ms apart: p50 {p50:.1f} ms, "
              f"p99 {pct(lags, 0.99):.1f} ms ({verdict(p50 <= TARGET_LAG_P50_MS)}: p50 <= {TARGET_LAG_P50_MS:g} ms)")

        # Delivery rate: a backlog of the last B events, sent again.
        newest = client.json("GET", f"/api/webhooks/{hook['id']}")["delivered_id"]
        backlog = args.backlog
        start_count = receiver.count()
        client.json("POST", f"/api/webhooks/{hook['id']}/redeliver", {"after": newest - backlog})
        receiver.wait_for(start_count + backlog)
        with receiver.lock:
            burst = receiver.arrivals[start_count:start_count + backlog]
        span = burst[-1][1] - burst[0][1]
        rate = (len(burst) - 1) / span if span > 0 else float("inf")
        print(f"delivery of a {backlog:,}-event backlog to a local receiver: {rate:,.0f} events/s "
              f"({span:.1f} s; {verdict(rate >= TARGET_RATE)}: >= {TARGET_RATE:,.0f}/s)")
        client.json("DELETE", f"/api/webhooks/{hook['id']}")

        # Feed read: everything, 1,000 at a time.
        pages: list[float] = []
        total = 0
        after = 0
        started = time.perf_counter()
        while True:
            page_started = time.perf_counter()
            page = client.json("GET", f"/api/events?after={after}&limit=1000")
            pages.append((time.perf_counter() - page_started) * 1000)
            if not page["events"]:
                break
            total += len(page["events"])
            after = page["next_after"]
        seconds = time.perf_counter() - started
        print(f"feed read: {total:,} events in {seconds:.1f} s ({total / seconds:,.0f} events/s),"
              f" p50 of a 1,000-event page {statistics.median(pages):.1f} ms")
    finally:
        stop_server(server)
        receiver.server.shutdown()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--patches", type=int, default=3000)
    parser.add_argument("--backlog", type=int, default=5000)
    parser.add_argument("--feed", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=None)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        run(args, args.work)
    else:
        with tempfile.TemporaryDirectory() as folder:
            run(args, Path(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
