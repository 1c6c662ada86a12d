"""Change events and webhook delivery through a `kill -9` of the server in the middle
of a write storm: after the restart every committed change has exactly one event, and
every event reaches the receiver (at least once, in order within each run)."""

from __future__ import annotations

import http.server
import json
import pathlib
import signal
import sqlite3
import threading
import time
import urllib.error
from typing import Any, Iterator

import pytest

from tests.test_cli import Server, call, create_key, free_port, servers  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


class Received:
    def __init__(self) -> None:
        self.ids: list[int] = []
        self.lock = threading.Lock()


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received]]:
    received = Received()

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with received.lock:
                received.ids.append(int(self.headers["webhook-id"]))
            assert json.loads(body)["id"] == int(self.headers["webhook-id"])
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def test_a_kill_9_in_a_write_storm_loses_no_event_and_no_delivery(
        tmp_path: pathlib.Path, servers: list[Server], receiver: tuple[str, Received]) -> None:  # noqa: F811
    url, received = receiver
    db = tmp_path / "pim.db"
    key = create_key(db, "Acme")
    port = free_port()
    args = ["--db", str(db), "--port", str(port), "--allow-private-urls", "--webhook-retry-base", "0.05"]
    server = Server(args)
    servers.append(server)
    server.wait_for(r"^MicroPIM listening on ")
    code, made, _ = call(port, "/api/webhooks", key, "POST", {"url": url, "events": ["*"]})
    assert code == 201, made

    committed: list[str] = []
    stop = threading.Event()

    def write(worker: int) -> None:
        n = 0
        while not stop.is_set():
            sku = f"W{worker}-{n}"
            try:
                code, answer, _ = call(port, "/api/products", key, "POST", {"name": sku, "sku": sku})
                if code == 201:
                    committed.append(sku)
                    call(port, f"/api/products/{answer['data']['id']}", key, "PATCH", {"price": "9.5"})
            except (urllib.error.URLError, ConnectionError, OSError):
                return  # the server is gone
            n += 1

    writers = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in writers:
        thread.start()
    deadline = time.monotonic() + 30
    while len(received.ids) < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=15)
    stop.set()
    for thread in writers:
        thread.join(timeout=30)
    before_restart = len(received.ids)
    assert committed and before_restart >= 200

    restarted = Server(args)
    servers.append(restarted)
    restarted.wait_for(r"^MicroPIM listening on ")
    with sqlite3.connect(db) as conn:
        products = dict(conn.execute("SELECT sku, id FROM product").fetchall())
        created = conn.execute("SELECT object_id, count(*) FROM event WHERE type = 'product.created'"
                               " GROUP BY object_id").fetchall()
        event_ids = [row[0] for row in conn.execute("SELECT id FROM event ORDER BY id")]
    # Every write the server answered committed, and every committed product has one event.
    assert set(committed) <= set(products)
    assert sorted(created) == sorted((product_id, 1) for product_id in products.values())
    # Every event reaches the receiver, at least once.
    deadline = time.monotonic() + 60
    while not set(event_ids) <= set(received.ids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(event_ids) <= set(received.ids), sorted(set(event_ids) - set(received.ids))[:10]
    # In order within each run; the second run starts again at most where the first
    # stopped acknowledging (what it had not yet written down is sent again).
    first_run, second_run = received.ids[:before_restart], received.ids[before_restart:]
    assert first_run == sorted(first_run) and second_run == sorted(second_run)
    assert second_run[0] <= first_run[-1] + 1
    restarted.stop()
