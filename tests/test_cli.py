"""The command line as scripts use it: real processes, a database in tmp_path, bounded waits."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Iterator

import pytest
from peewee import sqlite3  # the driver the store uses: it knows FTS5 contentless_delete

from store.db import open_database

# Real processes: seconds each. CI runs them; `pytest -m "not slow"` skips them locally.
pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = str(ROOT / "micropim.py")
KEY_LINE = re.compile(r"^mpk_[A-Za-z0-9_-]{40,}$")
WAIT = 30.0  # seconds: the longest any single step may take


def base_env(**extra: str) -> dict[str, str]:
    """This environment without MICROPIM_* settings, plus `extra`; the image model's
    cache stays the test run's (conftest.py), never the user's ~/.cache."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MICROPIM_") or k == "MICROPIM_MODEL_CACHE"}
    env.update(extra)
    return env


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, SCRIPT, *args], cwd=ROOT, env=env or base_env(),
        capture_output=True, text=True, timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_database(db: pathlib.Path) -> pathlib.Path:
    """An empty migrated database, as a first `serve` leaves it (create-key needs one)."""
    open_database(str(db)).close()
    return db


def create_key(db: pathlib.Path, org: str = "Acme") -> str:
    """A key from `micropim create-key`, on a database made first if there is none."""
    if not db.exists():
        new_database(db)
    result = run("create-key", "--org", org, "--db", str(db))
    assert result.returncode == 0, result.stderr
    last = result.stdout.splitlines()[-1]
    assert KEY_LINE.match(last), result.stdout
    return last


class Server:
    """`micropim serve` in a subprocess, its output read by threads so pipes never fill."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None,
                 command: list[str] | None = None) -> None:
        self.process = subprocess.Popen(
            [*(command or [sys.executable, SCRIPT]), "serve", *args], cwd=ROOT, env=env or base_env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        for stream, sink in ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()

    def _pump(self, stream: Any, sink: list[str]) -> None:
        for line in stream:
            sink.append(line.rstrip("\n"))
            if sink is self.stdout:
                self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = WAIT) -> re.Match[str]:
        """The first stdout line matching `pattern`; fails if the server dies or is slow."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line matching {pattern!r}; stdout={self.stdout} "
                                     f"stderr={self.stderr[-20:]}")
            try:
                line = self.lines.get(timeout=min(left, 0.2))
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    raise AssertionError(f"server exited {self.process.returncode}: "
                                         f"{self.stderr[-20:]}") from None
                continue
            found = re.search(pattern, line)
            if found:
                return found

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        return int(self.process.returncode)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    """Every server a test starts is stopped, whatever happens."""
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def serve(servers: list[Server], *args: str, env: dict[str, str] | None = None) -> Server:
    server = Server(list(args), env)
    servers.append(server)
    server.wait_for(r"^MicroPIM listening on ")
    return server


def call(port: int, path: str, key: str | None, method: str = "GET", body: Any = None
         ) -> tuple[int, dict[str, Any], Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if key is not None:
        request.add_header("X-API-KEY", key)
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers


def product_total(port: int, key: str) -> int:
    """Every product of the key's organization, archived ones included."""
    total = 0
    for status in ("", "archived"):
        code, body, _ = call(port, f"/api/products?limit=1&status={status}", key)
        assert code == 200, body
        total += body["data"]["pagination"]["total_items"]
    return total


# ---- create-key -------------------------------------------------------------------------

def test_create_key_prints_the_key_last_and_the_key_works(tmp_path: pathlib.Path, servers: list[Server]) -> None:
    db = new_database(tmp_path / "pim.db")
    result = run("create-key", "--org", "Acme", "--db", str(db))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and KEY_LINE.match(lines[-1]), result.stdout
    assert len(lines) == 1  # the key alone: scripts read stdout
    key = lines[-1]
    assert "Traceback" not in result.stderr
    # Which organization and which database the key is for, on stderr.
    assert result.stderr.splitlines()[-1] == f"API key for organization 'Acme' (id 1, new) in database {db}:"
    again = run("create-key", "--org", "Acme", "--db", str(db))
    assert again.stderr.splitlines()[-1] == f"API key for organization 'Acme' (id 1, existing) in database {db}:"

    second = again.stdout.strip()
    other = create_key(db, "Globex")
    assert len({key, second, other}) == 3

    port = free_port()
    serve(servers, "--db", str(db), "--port", str(port))
    code, body, headers = call(port, "/api/products", key)
    assert code == 200
    assert body == {"status": 1, "error": None, "data": {"products": [], "pagination": {
        "current_page": 1, "total_pages": 0, "total_items": 0, "items_per_page": 20}}}
    assert headers["RateLimit-Limit"] == "1200"  # the documented default

    # Both keys of Acme see the same organization; Globex's key sees another.
    code, body, _ = call(port, "/api/brands", key, "POST", {"name": "Lumen"})
    assert code == 201, body
    assert [b["name"] for b in call(port, "/api/brands", second)[1]["data"]["brands"]] == ["Lumen"]
    assert call(port, "/api/brands", other)[1]["data"]["brands"] == []

    code, body, _ = call(port, "/api/products", key[:-1] + ("A" if key[-1] != "A" else "B"))
    assert (code, body) == (401, {"status": 0, "data": None, "error": "invalid API key"})
    code, body, _ = call(port, "/api/products", None)
    assert code == 401 and body["error"] == "missing API key: send it in the X-API-KEY header"


def test_the_key_is_stored_hashed(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "pim.db"
    key = create_key(db)
    conn = sqlite3.connect(str(db))
    try:
        rows = conn.execute("SELECT * FROM api_key").fetchall()
    finally:
        conn.close()
    stored = " ".join(str(value) for row in rows for value in row)
    assert len(rows) == 1
    assert key not in stored and key[12:] not in stored  # at most the lookup prefix is clear
    assert hashlib.sha256(key.encode()).hexdigest() in stored


# ---- bad arguments --------------------------------------------------------------------------

BAD_ARGUMENTS = [
    (["frobnicate"], {}, "argument COMMAND: invalid choice: 'frobnicate'"),
    (["serve", "--port", "abc"], {}, "argument --port: expected a positive integer, got 'abc'"),
    (["serve", "--port", "70000"], {}, "argument --port: expected a port between 1 and 65535, got '70000'"),
    (["serve", "--port", "-1"], {}, "argument --port: expected a positive integer, got '-1'"),
    (["serve", "--read-limit", "0"], {}, "argument --read-limit: expected a positive integer, got '0'"),
    (["serve", "--write-limit", "1.5"], {}, "argument --write-limit: expected a positive integer, got '1.5'"),
    (["serve", "--bogus"], {}, "unrecognized arguments: --bogus"),
    (["create-key"], {}, "the following arguments are required: --org"),
    (["create-key", "--org", "   "], {}, "argument --org: must not be empty"),
    (["backup"], {}, "the following arguments are required: dest"),
    (["serve"], {"MICROPIM_PORT": "abc"}, "expected a positive integer, got 'abc'"),
    (["serve"], {"MICROPIM_PORT": "99999"}, "expected a port between 1 and 65535, got '99999'"),
    (["serve"], {"MICROPIM_READ_LIMIT": "0"}, "expected a positive integer, got '0'"),
    (["serve"], {"MICROPIM_WRITE_LIMIT": "lots"}, "expected a positive integer, got 'lots'"),
    (["serve"], {"MICROPIM_DEMO": "maybe"}, "MICROPIM_DEMO: expected true or false, got 'maybe'"),
]


@pytest.mark.parametrize("args, env, message", BAD_ARGUMENTS)
def test_bad_arguments_exit_2_with_one_line(
    tmp_path: pathlib.Path, args: list[str], env: dict[str, str], message: str
) -> None:
    db = tmp_path / "never.db"
    result = run(*args, env=base_env(MICROPIM_DB=str(db), **env), timeout=30)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("micropim: error: ") and message in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not db.exists(), "a bad argument must not create the database"


def test_micropim_alone_prints_the_usage_and_the_commands(tmp_path: pathlib.Path) -> None:
    result = run(env=base_env(MICROPIM_DB=str(tmp_path / "never.db")))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("usage: micropim [-h] [--version] COMMAND ...\n"), result.stderr
    for command in ("serve", "create-key", "backup", "reindex"):
        assert re.search(rf"^ +{command}\b", result.stderr, re.M), command
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_version(tmp_path: pathlib.Path) -> None:
    from importlib import metadata

    result = run("--version")
    assert result.returncode == 0
    assert result.stdout == f"micropim {metadata.version('micropim')}\n"


def _missing_database_line(path: pathlib.Path | str) -> str:
    return (f"micropim: error: no database at {path} (point --db at one, or create it:"
            f" micropim serve --db {path})")


@pytest.mark.parametrize("command", [["backup", "copy.db"], ["reindex"], ["create-key", "--org", "Acme"]])
def test_a_missing_database_is_refused_with_a_hint(tmp_path: pathlib.Path, command: list[str]) -> None:
    missing = tmp_path / "missing.db"
    result = run(*command, "--db", str(missing))
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [_missing_database_line(missing)]
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_create_key_without_db_next_to_no_database_creates_nothing(tmp_path: pathlib.Path) -> None:
    # The default ./micropim.db, in a directory without one: no new empty database
    # whose key the running server would then reject.
    result = subprocess.run([sys.executable, SCRIPT, "create-key", "--org", "Acme"], cwd=tmp_path,
                            env=base_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [_missing_database_line("./micropim.db")]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("dest", ["no-such-dir/copy.db", "."])
def test_backup_to_an_unusable_destination_exits_2(tmp_path: pathlib.Path, dest: str) -> None:
    db = tmp_path / "pim.db"
    create_key(db)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run("backup", str(tmp_path / dest), "--db", str(db))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"micropim: error: cannot write backup to {tmp_path / dest}: "), result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no .partial left behind
    assert not (tmp_path.parent / f"{tmp_path.name}.partial").exists()


def test_backup_onto_the_database_itself_is_refused(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "pim.db"
    key = create_key(db)
    result = run("backup", str(db), "--db", str(db))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"micropim: error: cannot back up {db} onto itself"]
    conn = sqlite3.connect(str(db))
    try:
        assert conn.execute("SELECT count(*) FROM api_key").fetchone()[0] == 1
    finally:
        conn.close()
    assert key


def test_a_database_path_that_is_not_a_database_exits_2(tmp_path: pathlib.Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    result = run("create-key", "--org", "Acme", "--db", str(text))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"micropim: error: cannot open database {text}: file is not a database"]
    assert text.read_text() == "not a database\n" * 100


def test_a_port_in_use_is_a_one_line_error_before_any_database(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "pim.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--db", str(db), "--port", str(port), timeout=30)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines == [f"micropim: error: cannot listen on 127.0.0.1:{port}: Address already in use"]
    assert list(tmp_path.iterdir()) == []  # checked before the database is made and migrated


# ---- environment variables -----------------------------------------------------------------------

def test_environment_variables_are_read(tmp_path: pathlib.Path, servers: list[Server]) -> None:
    db = new_database(tmp_path / "from-env.db")
    result = run("create-key", env=base_env(MICROPIM_DB=str(db), MICROPIM_ORG="Env Org"))
    assert result.returncode == 0, result.stderr
    key = result.stdout.splitlines()[-1]
    assert KEY_LINE.match(key)
    assert db.exists()
    assert not (ROOT / "Env Org").exists()

    port = free_port()
    serve(servers, env=base_env(MICROPIM_DB=str(db), MICROPIM_PORT=str(port),
                                MICROPIM_READ_LIMIT="3", MICROPIM_WRITE_LIMIT="2"))
    code, body, headers = call(port, "/api/products", key)
    assert code == 200, body
    assert (headers["RateLimit-Limit"], headers["RateLimit-Remaining"]) == ("3", "2")
    code, _, headers = call(port, "/api/brands", key, "POST", {"name": "X"})
    assert code == 201 and headers["RateLimit-Limit"] == "2"
    call(port, "/api/products", key)
    call(port, "/api/products", key)
    code, body, headers = call(port, "/api/products", key)
    assert code == 429
    assert body == {"status": 0, "data": None,
                    "error": "rate limit exceeded: too many read requests; retry later"}
    assert headers["Retry-After"] == "20"


def test_command_line_options_override_the_environment(tmp_path: pathlib.Path) -> None:
    env_db, flag_db = new_database(tmp_path / "env.db"), new_database(tmp_path / "flag.db")
    result = run("create-key", "--org", "Acme", "--db", str(flag_db),
                 env=base_env(MICROPIM_DB=str(env_db), MICROPIM_ORG="Other"))
    assert result.returncode == 0, result.stderr
    for path, names in ((flag_db, ["Acme"]), (env_db, [])):
        conn = sqlite3.connect(str(path))
        try:
            assert [r[0] for r in conn.execute("SELECT name FROM organization")] == names
        finally:
            conn.close()


# ---- serve --demo ----------------------------------------------------------------------------------

def test_serve_demo_prints_a_key_and_seeds_once(tmp_path: pathlib.Path, servers: list[Server]) -> None:
    db = tmp_path / "demo.db"
    port = free_port()
    first = Server(["--demo", "--db", str(db), "--port", str(port)])
    servers.append(first)
    key = first.wait_for(r"^Demo API key: (mpk_\S+)$", timeout=300).group(1)
    assert KEY_LINE.match(key)
    total = product_total(port, key)
    assert 200 <= total < 1000, total  # "a few hundred"
    code, body, _ = call(port, "/api/brands?limit=100", key)
    assert code == 200 and body["data"]["pagination"]["total_items"] >= 3
    code, body, _ = call(port, "/api/products?limit=100&status=active", key)
    assert body["data"]["products"][0]["brand"] is not None
    assert body["data"]["products"][0]["vat_rate"]["rate"] == "21.0000"
    assert all(product["images"] for product in body["data"]["products"])
    assert first.stop() == 0

    second = Server(["--demo", "--db", str(db), "--port", str(port)])
    servers.append(second)
    new_key = second.wait_for(r"^Demo API key: (mpk_\S+)$", timeout=120).group(1)
    assert new_key != key
    assert "Demo catalog already present." in second.stdout
    assert product_total(port, new_key) == total
    assert call(port, "/api/products", key)[0] == 401  # replaced by the new one
    code, body, _ = call(port, "/api/brands?limit=100", new_key)
    assert body["data"]["pagination"]["total_items"] == len({b["name"] for b in body["data"]["brands"]})


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (from /proc); zombies count as gone."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = pathlib.Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if state != "Z":
            children.setdefault(int(parent), []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="the demo draws in this process on one core")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_server_stopped_during_the_demo_photos_leaves_no_worker_behind(
    tmp_path: pathlib.Path, servers: list[Server], sig: signal.Signals
) -> None:
    # SIGTERM (systemctl stop, docker stop) stops the seed as Ctrl-C does, which shuts
    # the workers down; after SIGKILL nothing runs in the server, and the workers see
    # that they were orphaned and end themselves.
    db = tmp_path / "demo.db"
    env = base_env(MICROPIM_DEMO_COUNT="100")  # 134 photos: drawn by worker processes
    server = Server(["--demo", "--db", str(db), "--port", str(free_port())], env)
    servers.append(server)
    server.wait_for(r"^  images: ", timeout=120)  # the workers are drawing
    workers = descendants(server.process.pid)
    assert len(workers) >= 2, workers  # drawing workers (and multiprocessing's tracker)
    began = time.monotonic()
    server.process.send_signal(sig)
    assert server.process.wait(timeout=15) == (128 + sig if sig == signal.SIGTERM else -sig)
    assert time.monotonic() - began < 10
    deadline = time.monotonic() + 5
    while [pid for pid in workers if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)], workers
    if sig == signal.SIGTERM:
        assert "Interrupted: the next `serve --demo` finishes the demo catalog." in server.stdout
        assert not [line for line in server.stderr if "Traceback" in line], server.stderr


def test_the_installed_micropim_script_seeds_the_demo(tmp_path: pathlib.Path, servers: list[Server]) -> None:
    # What the README's first command runs: the console script, whose spawned drawing
    # workers re-import it. MICROPIM_DEMO_COUNT (tests only) keeps it small, yet large
    # enough for worker processes (demo.POOL_MIN photos).
    script = pathlib.Path(sys.executable).parent / "micropim"
    assert script.exists(), script
    port = free_port()
    env = base_env(MICROPIM_DEMO_COUNT="40")  # 69 photos
    server = Server(["--demo", "--db", str(tmp_path / "demo.db"), "--port", str(port)], env, [str(script)])
    servers.append(server)
    key = server.wait_for(r"^Demo API key: (mpk_\S+)$", timeout=120).group(1)
    assert "Photos: drawing, embedding and storing 69 images…" in server.stdout
    assert product_total(port, key) == 40 + 8
    code, body, _ = call(port, "/api/products?limit=100", key)
    assert code == 200 and all(product["images"] for product in body["data"]["products"])
    assert server.stop() == 0
    assert not [line for line in server.stderr if "Traceback" in line], server.stderr


def test_serve_stops_cleanly_on_sigterm(tmp_path: pathlib.Path, servers: list[Server]) -> None:
    port = free_port()
    server = serve(servers, "--db", str(tmp_path / "pim.db"), "--port", str(port))
    assert server.stop() == 0
    assert not [line for line in server.stderr if "Traceback" in line]
    # A new database's migrations are one summary line, not a line each.
    migrations = [line for line in server.stderr if "migration" in line]
    assert len(migrations) == 1 and re.search(r"applied \d+ migrations \(1, 2, .*\) in [\d.]+ s$",
                                               migrations[0]), server.stderr


# ---- backup --------------------------------------------------------------------------------------

def test_backup_under_continuous_writes_holds_every_acknowledged_product(
    tmp_path: pathlib.Path, servers: list[Server]
) -> None:
    db, dest = tmp_path / "live.db", tmp_path / "copy.db"
    key = create_key(db)
    port = free_port()
    serve(servers, "--db", str(db), "--port", str(port), "--write-limit", "1000000")

    acknowledged: list[str] = []  # SKUs whose 201 came back: committed
    errors: list[Any] = []
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            sku = f"SKU-{n:06d}"
            try:
                code, body, _ = call(port, "/api/products", key, "POST",
                                     {"name": f"Product {n}", "sku": sku, "stock": n % 7})
            except Exception as exc:  # a broken connection is a test failure, reported below
                errors.append(repr(exc))
                return
            if code != 201:
                errors.append((code, body))
                return
            acknowledged.append(sku)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + WAIT
        while len(acknowledged) < 50 and time.monotonic() < deadline and not errors:
            time.sleep(0.02)
        assert len(acknowledged) >= 50, errors
        committed_before = set(acknowledged)  # all acknowledged before the backup starts
        result = run("backup", str(dest), "--db", str(db))
        during = len(acknowledged)
        deadline = time.monotonic() + WAIT
        while len(acknowledged) < during + 20 and time.monotonic() < deadline and not errors:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(timeout=WAIT)
    assert not thread.is_alive()
    assert not errors, errors
    assert result.returncode == 0, result.stderr
    size = re.fullmatch(rf"backed up {re.escape(str(db))} to {re.escape(str(dest))} \((\d+\.\d) MB\)\n",
                        result.stdout)
    assert size is not None, result.stdout
    assert float(size.group(1)) == round(dest.stat().st_size / 1_000_000, 1)  # MB, not pages
    assert len(acknowledged) > len(committed_before), "the writer must have kept writing"

    conn = sqlite3.connect(str(dest))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        journal_mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        in_copy = {row[0] for row in conn.execute("SELECT sku FROM product")}
        stock_ok = conn.execute(
            "SELECT count(*) FROM product p WHERE p.stock != (SELECT coalesce(sum(quantity), 0)"
            " FROM stock_level s WHERE s.product_id = p.id)").fetchone()[0]
        fts_rows = conn.execute(
            "SELECT count(*) FROM product_fts WHERE product_fts MATCH 'sku : SKU*'").fetchone()[0]
    finally:
        conn.close()
    missing = committed_before - in_copy
    assert not missing, f"{len(missing)} acknowledged products missing from the backup"
    # A snapshot: nothing the server never acknowledged, except possibly one in flight.
    assert len(in_copy - set(acknowledged)) <= 1
    assert stock_ok == 0  # product rows and their stock levels come from one moment
    assert fts_rows == len(in_copy)
    assert journal_mode == "delete"  # a single self-contained file, no -wal needed
    assert not (tmp_path / "copy.db.partial").exists()
    assert not (tmp_path / "copy.db-wal").exists()

    # The copy is a working database: a server starts on it and sees the products.
    backup_port = free_port()
    serve(servers, "--db", str(dest), "--port", str(backup_port))
    assert product_total(backup_port, key) == len(in_copy)


def test_backup_replaces_an_existing_destination(tmp_path: pathlib.Path) -> None:
    db, dest = tmp_path / "pim.db", tmp_path / "copy.db"
    create_key(db, "First")
    dest.write_bytes(b"old contents")
    result = run("backup", str(dest), "--db", str(db))
    assert result.returncode == 0, result.stderr
    conn = sqlite3.connect(str(dest))
    try:
        assert [r[0] for r in conn.execute("SELECT name FROM organization")] == ["First"]
    finally:
        conn.close()


def test_a_bad_serve_flag_in_the_environment_does_not_break_other_commands(tmp_path: pathlib.Path) -> None:
    env = base_env(MICROPIM_DEMO="maybe", MICROPIM_TRUST_PROXY="sometimes")
    result = run("create-key", "--org", "Acme", "--db", str(new_database(tmp_path / "k.db")), env=env)
    assert result.returncode == 0, result.stderr
    assert KEY_LINE.match(result.stdout.splitlines()[-1])


# ---- the image model's cache ---------------------------------------------------------------------

def test_reindex_and_serve_keep_the_model_in_the_user_cache(tmp_path: pathlib.Path, servers: list[Server]) -> None:
    # Not beside whatever database a command is pointed at: one cache per user.
    data, home = tmp_path / "data", tmp_path / "xdg"
    data.mkdir()
    db = new_database(data / "pim.db")
    env = {k: v for k, v in base_env(XDG_CACHE_HOME=str(home)).items() if k != "MICROPIM_MODEL_CACHE"}
    result = run("reindex", "--db", str(db), env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    built = sorted(p.name for p in (home / "micropim").iterdir())
    assert [name for name in built if name.endswith(".onnx")], built
    assert sorted(p.name for p in data.iterdir() if "onnx" in p.name) == []

    chosen = tmp_path / "chosen"
    result = run("reindex", "--db", str(db), "--model-cache", str(chosen), env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in chosen.iterdir()) == built
    from_env = tmp_path / "from-env"
    result = run("reindex", "--db", str(db), env={**env, "MICROPIM_MODEL_CACHE": str(from_env)}, timeout=180)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in from_env.iterdir()) == built

    # serve builds it where it is told, on first use (a demo seed embeds its photos).
    served = tmp_path / "served"
    port = free_port()
    server = Server(["--demo", "--db", str(data / "demo.db"), "--port", str(port), "--model-cache", str(served)],
                    {**env, "MICROPIM_DEMO_COUNT": "2"})
    servers.append(server)
    server.wait_for(r"^Demo API key: ", timeout=120)
    assert sorted(p.name for p in served.iterdir()) == built
    assert sorted(p.name for p in data.iterdir() if "onnx" in p.name) == []
