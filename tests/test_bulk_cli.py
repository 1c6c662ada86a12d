"""`micropim import` and `micropim export`, and an import job through a `kill -9`:
real processes on a database in tmp_path."""

from __future__ import annotations

import json
import pathlib
import signal
import time
import urllib.request
from typing import Any

import pytest

from tests.test_cli import Server, call, create_key, free_port, run, servers  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


def feed(path: pathlib.Path, lines: list[dict[str, Any]]) -> pathlib.Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_import_and_export_round_trip_with_exit_codes(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "pim.db"
    create_key(db, "Acme")
    good = feed(tmp_path / "good.ndjson", [{"sku": f"G-{n}", "name": f"Good {n}", "price": "2.5"} for n in range(5)])
    imported = run("import", str(good), "--org", "Acme", "--db", str(db))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith("imported 5 lines of") and "5 created" in imported.stdout

    bad = feed(tmp_path / "bad.ndjson", [{"sku": "G-0", "price": "3"}, {"sku": "NEW", "price": "1"}])
    refused = run("import", str(bad), "--org", "Acme", "--db", str(db))
    assert refused.returncode == 1
    assert "line 2: NEW: name: is required" in refused.stderr
    assert "1 updated" in refused.stdout and "1 failed" in refused.stdout

    dry = run("import", str(good), "--org", "Acme", "--db", str(db), "--dry-run")
    assert dry.returncode == 0 and dry.stdout.startswith("checked")
    assert "1 updated, 4 unchanged" in dry.stdout  # G-0 costs 3 now

    exported = tmp_path / "out.csv"
    done = run("export", str(exported), "--org", "Acme", "--db", str(db))
    assert done.returncode == 0, done.stderr
    rows = exported.read_text().splitlines()
    assert rows[0].startswith("sku,parent_sku,name") and len(rows) == 6
    ndjson = tmp_path / "out.ndjson"
    assert run("export", str(ndjson), "--org", "Acme", "--db", str(db)).returncode == 0
    skus = [json.loads(line)["sku"] for line in ndjson.read_text().splitlines()]
    assert skus == ["G-0", "G-1", "G-2", "G-3", "G-4"]

    create_key(db, "Globex")
    into_other = run("import", str(exported), "--org", "Globex", "--db", str(db))
    assert into_other.returncode == 0 and "5 created" in into_other.stdout, into_other.stderr


@pytest.mark.parametrize("args, message", [
    (["import", "missing.csv", "--org", "Acme"], "argument file: no such file missing.csv"),
    (["import", "feed.txt", "--org", "Acme"], "argument file: feed.txt is not a .csv, .ndjson or .jsonl file"),
    (["import", "feed.csv"], "the following arguments are required: --org"),
    (["export", "x.csv", "--org", "Nobody"], "argument --org: no organization named 'Nobody'"),
    (["import", "feed.csv", "--org", "Acme", "--format", "xml"], "argument --format: invalid choice"),
])
def test_bad_arguments_are_one_line_and_exit_2(tmp_path: pathlib.Path, args: list[str], message: str) -> None:
    db = tmp_path / "pim.db"
    create_key(db, "Acme")
    (tmp_path / "feed.txt").write_text("x")
    (tmp_path / "feed.csv").write_text("sku,name\nA,B\n")
    args = [str(tmp_path / arg) if arg.startswith(("missing", "feed", "x.")) else arg for arg in args]
    message = message.replace("missing.csv", str(tmp_path / "missing.csv")).replace(
        "feed.txt", str(tmp_path / "feed.txt"))
    result = run(*args, "--db", str(db))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) <= 2 and message in lines[-1], result.stderr  # argparse adds a usage line


def test_an_import_job_killed_with_the_server_is_interrupted_and_keeps_its_batches(
        tmp_path: pathlib.Path, servers: list[Server]) -> None:  # noqa: F811
    db = tmp_path / "pim.db"
    key = create_key(db, "Acme")
    port = free_port()
    args = ["--db", str(db), "--port", str(port)]
    server = Server(args)
    servers.append(server)
    server.wait_for(r"^MicroPIM listening on ")
    body = "".join(json.dumps({"sku": f"K-{n}", "name": f"Killed {n}"}) + "\n" for n in range(60_000)).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/imports", data=body, method="POST",
                                     headers={"X-API-KEY": key, "Content-Type": "application/x-ndjson"})
    with urllib.request.urlopen(request, timeout=30) as response:
        job = json.loads(response.read())["data"]
    deadline = time.monotonic() + 30
    while True:
        code, answer, _ = call(port, f"/api/imports/{job['id']}", key)
        if answer["data"]["done_lines"] > 0 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=15)
    restarted = Server(args)
    servers.append(restarted)
    restarted.wait_for(r"^MicroPIM listening on ")
    code, answer, _ = call(port, f"/api/imports/{job['id']}", key)
    after = answer["data"]
    assert after["status"] == "interrupted", after
    assert 0 < after["done_lines"] < 60_000
    code, listed, _ = call(port, "/api/products?limit=1", key)
    assert listed["data"]["pagination"]["total_items"] == after["created"] == after["done_lines"]
