"""Change events and webhooks benchmark (issue 12), through a real `micropim serve`.

Run from the repository root (on a shared machine under `nice -n 10`):

    .venv/bin/python bench/events.py [--products N] [--patches P] [--backlog B]
                                     [--feed F] [--work DIR]

What it measures, on a fresh database in a temporary folder (or `--work`):

1. Setup: an organization, a key and N products (default 1,000) made in-process, and
   F synthetic events (default 100,000; each the JSON of a real product) for the feed
   read; a local receiver in a process of its own (tornado, keep-alive, answering 204)
   that notes when each delivery arrives.
2. **Write throughput**: P `PATCH /api/products/{id}` (default 3,000; each a real
   change, so each makes one event) from 2 client threads on keep-alive connections,
   with no webhook and with one webhook subscribed to `*` delivering to the receiver
   as they commit, 3 rounds of each in turn; the medians' writes/s and the slowdown
   (target <= 10 %), and
   how many events arrived during the storm and how long the rest took after it
   (deliveries give way to requests, see search/webhooks.py).
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
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from api import HOST, Server, free_port, start_server, stop_server, wait_ready  # noqa: E402
from bulk import Client  # noqa: E402

from store import orgs  # noqa: E402
from store.db import open_database  # noqa: E402
from store.products import write  # noqa: E402
from store.values import utcnow  # noqa: E402

BENCH_ORG = "Events Bench"
TARGET_SLOWDOWN = 10.0
TARGET_LAG_P50_MS = 50.0
TARGET_RATE = 1000.0
ROUNDS = 3


def receive(port: int) -> None:
    """The receiver, in a process of its own (`--receiver PORT`): tornado, keep-alive,
    answering 204 and noting (webhook-id, arrival time); `GET /arrivals?from=N` answers
    what arrived from the N-th on, `GET /count` how many."""
    import asyncio

    import tornado.web

    arrivals: list[tuple[str, float]] = []

    class Hook(tornado.web.RequestHandler):
        def post(self) -> None:
            arrivals.append((self.request.headers["webhook-id"], time.time()))
            self.set_status(204)

    class Arrivals(tornado.web.RequestHandler):
        def get(self) -> None:
            self.finish(json.dumps(arrivals[int(self.get_argument("from", "0")):]))

    class Count(tornado.web.RequestHandler):
        def get(self) -> None:
            self.finish(str(len(arrivals)))

    async def main() -> None:
        tornado.web.Application([(r"/hook", Hook), (r"/arrivals", Arrivals), (r"/count", Count)]).listen(port, HOST)
        await asyncio.Event().wait()

    asyncio.run(main())


class Receiver:
    """The receiver process, seen from the benchmark."""

    def __init__(self, work: Path) -> None:
        self.port = free_port()
        self.server = start_server("receiver", [sys.executable, __file__, "--receiver", str(self.port)],
                                   self.port, work / "receiver.log")
        wait_ready(self.server)
        self.url = f"http://{HOST}:{self.port}/hook"
        self.conn = http.client.HTTPConnection(HOST, self.port, timeout=60)

    def arrivals(self, start: int = 0) -> list[tuple[str, float]]:
        self.conn.request("GET", f"/arrivals?from={start}")
        return [(str(event_id), float(when)) for event_id, when in json.loads(self.conn.getresponse().read())]

    def count(self) -> int:
        self.conn.request("GET", "/count")
        return int(self.conn.getresponse().read())

    def wait_for(self, count: int, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while self.count() < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the receiver got {self.count()} deliveries, not {count}")
            time.sleep(0.05)

    def stop(self) -> None:
        stop_server(self.server)


def prepare(work: Path, products: int, feed_events: int) -> tuple[str, str, list[int]]:
    path = str(work / "events.db")
    db = open_database(path)
    try:
        with db.writing():
            org_id = orgs.get_or_create_org(db, BENCH_ORG)
            key = orgs.create_key(db, org_id, label="bench")
            ids = [write.insert_product(db, org_id, {"name": f"Bench product {n}", "sku": f"EB-{n}",
                                                     "price": Decimal(10), "description": "A product to change."})
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
    receiver = Receiver(work)
    port = free_port()
    server: Server = start_server("micropim", [
        sys.executable, str(ROOT / "micropim.py"), "serve", "--db", db_path, "--host", HOST, "--port", str(port),
        "--read-limit", "100000000", "--write-limit", "100000000", "--allow-private-urls"],
        port, work / "serve.log")
    try:
        wait_ready(server)
        client = Client(port, key)
        patch_storm(port, key, ids, 400, 0)  # warm-up
        # Alternating rounds, medians: a run's rate moves by several % from round to round.
        without: list[float] = []
        with_hook: list[float] = []
        during: list[int] = []
        catch_up: list[float] = []
        for round_no in range(ROUNDS):
            without.append(patch_storm(port, key, ids, args.patches, 2 * round_no + 1))
            hook = client.json("POST", "/api/webhooks", {"url": receiver.url, "events": ["*"]})
            before = receiver.count()
            with_hook.append(patch_storm(port, key, ids, args.patches, 2 * round_no + 2))
            during.append(receiver.count() - before)
            storm_over = time.perf_counter()
            receiver.wait_for(before + args.patches)
            catch_up.append(time.perf_counter() - storm_over)
            if round_no < ROUNDS - 1:
                client.json("DELETE", f"/api/webhooks/{hook['id']}")
        plain, hooked = statistics.median(without), statistics.median(with_hook)
        slowdown = (plain - hooked) / plain * 100
        print(f"PATCH /api/products/{{id}}, 2 threads, median of {ROUNDS} rounds of {args.patches:,}:"
              f" {plain:,.0f} writes/s without a webhook, {hooked:,.0f} with one: {slowdown:+.1f} % slower"
              f" ({verdict(slowdown <= TARGET_SLOWDOWN)}: <= {TARGET_SLOWDOWN:g} %); rounds without"
              f" {', '.join(f'{rate:,.0f}' for rate in without)}, with {', '.join(f'{rate:,.0f}' for rate in with_hook)};"
              f" delivered during a storm {statistics.median(during):,.0f} of {args.patches:,} events,"
              f" the rest in {statistics.median(catch_up):.1f} s after it")

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
        arrivals = receiver.arrivals(start_count)[:200]
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
        burst = receiver.arrivals(start_count)[:backlog]
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
        receiver.stop()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--patches", type=int, default=3000)
    parser.add_argument("--backlog", type=int, default=5000)
    parser.add_argument("--feed", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--receiver", type=int, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.receiver is not None:
        receive(args.receiver)
        return 0
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        run(args, args.work)
    else:
        with tempfile.TemporaryDirectory() as folder:
            run(args, Path(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
