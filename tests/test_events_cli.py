"""`micropim events`: the change feed as NDJSON on stdout, from a real process on a
database in tmp_path; `--follow` prints what another process commits."""

from __future__ import annotations

import json
import pathlib
import queue
import subprocess
import sys
import threading
from typing import Any

import pytest

from store import orgs
from store.db import open_database
from store.products import write
from tests.test_cli import ROOT, SCRIPT, base_env, run

pytestmark = pytest.mark.slow


def catalog(path: pathlib.Path, count: int) -> list[int]:
    db = open_database(str(path))
    try:
        with db.writing():
            org_id = orgs.get_or_create_org(db, "Acme")
            ids = [write.insert_product(db, org_id, {"name": f"P{n}", "sku": f"P-{n}"}) for n in range(count)]
        with db.writing():
            write.update_product(db, org_id, ids[0], {"stock": 5})
    finally:
        db.close()
    return ids


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_events_prints_the_feed_as_ndjson_filtered_and_after_a_cursor(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "pim.db"
    ids = catalog(db, 1005)  # more than one page of 1,000
    done = run("events", "--org", "Acme", "--db", str(db))
    assert done.returncode == 0, done.stderr
    printed = lines(done.stdout)
    assert [(e["type"], e["object_id"]) for e in printed] == (
        [("product.created", i) for i in ids] + [("stock.updated", ids[0])])
    assert [e["id"] for e in printed] == sorted(e["id"] for e in printed)
    assert printed[0]["data"]["sku"] == "P-0"
    only = lines(run("events", "--org", "Acme", "--db", str(db), "--type", "stock.*").stdout)
    assert [(e["type"], e["data"]["stock"]) for e in only] == [("stock.updated", 5)]
    after = lines(run("events", "--org", "Acme", "--db", str(db), "--after", str(printed[-3]["id"])).stdout)
    assert after == printed[-2:]

    wrong = run("events", "--org", "Acme", "--db", str(db), "--type", "product.sold")
    assert wrong.returncode == 2 and wrong.stderr.strip() == (
        "micropim: error: --type: unknown event type 'product.sold'"
        " (a type such as product.updated, a kind such as product.*, or *)")
    nobody = run("events", "--org", "Nobody", "--db", str(db))
    assert nobody.returncode == 2 and "no organization named 'Nobody'" in nobody.stderr
    missing = run("events", "--org", "Acme", "--db", str(tmp_path / "none.db"))
    assert missing.returncode == 2 and "no database at" in missing.stderr


def test_follow_prints_what_another_process_commits(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "pim.db"
    catalog(db, 1)
    follower = subprocess.Popen([sys.executable, SCRIPT, "events", "--org", "Acme", "--db", str(db), "--follow"],
                                cwd=ROOT, env=base_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    printed: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [printed.put(line) for line in follower.stdout or ()], daemon=True).start()

    def next_event() -> dict[str, Any]:
        return dict(json.loads(printed.get(timeout=30)))

    try:
        assert next_event()["type"] == "product.created"
        assert next_event()["type"] == "stock.updated"
        other = open_database(str(db))
        try:
            org_id = int(other.execute_sql("SELECT id FROM organization WHERE name = 'Acme'").fetchone()[0])
            with other.writing():
                write.insert_product(other, org_id, {"name": "Later", "sku": "LATER-1"})
        finally:
            other.close()
        later = next_event()
        assert (later["type"], later["data"]["sku"]) == ("product.created", "LATER-1")
        assert follower.poll() is None  # still following
    finally:
        follower.terminate()
        follower.wait(timeout=15)
