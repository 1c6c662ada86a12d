"""The HTTP server's limits (handlers/server.py, issue 14): timeouts, request-head sizes,
the connection cap and the accept back-off, on real sockets.

Most tests run a `LimitedHTTPServer` with a tiny application on its own event loop in a
thread, with timeouts of a fraction of a second, and talk to it over blocking sockets
from the test's thread. The descriptor tests run `micropim serve` in a subprocess
whose RLIMIT_NOFILE is 64.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pathlib
import resource
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any, Callable, Iterator

import pytest
import tornado.netutil
import tornado.web

from handlers.server import LimitedHTTPServer, ServerLimits, default_max_connections

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = str(ROOT / "micropim.py")
TICKS = os.sysconf("SC_CLK_TCK")


# ---- an in-process server --------------------------------------------------------------

class Hello(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write("hello")

    def post(self) -> None:
        self.write(str(len(self.request.body)))


class Running:
    """A LimitedHTTPServer on 127.0.0.1, on an event loop of its own thread."""

    def __init__(self, limits: ServerLimits) -> None:
        self.limits = limits
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.server: LimitedHTTPServer
        self.port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10), "the server did not start"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            self.server = LimitedHTTPServer(tornado.web.Application([(r"/", Hello)]), self.limits)
            sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
            self.port = sockets[0].getsockname()[1]
            self.server.add_sockets(sockets)

        self.loop.run_until_complete(start())
        self.ready.set()
        self.loop.run_forever()

    def stop(self) -> None:
        async def shut() -> None:
            self.server.stop()
            try:
                await asyncio.wait_for(self.server.close_all_connections(), 5)
            finally:
                for task in asyncio.all_tasks():
                    if task is not asyncio.current_task():
                        task.cancel()

        asyncio.run_coroutine_threadsafe(shut(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)


#: Small timeouts for tests; each test overrides what it is about.
FAST = dict(idle_timeout=1.0, header_timeout=0.5, body_timeout=0.5, linger=0.5, max_connections=50)


@pytest.fixture
def serving() -> Iterator[Callable[..., Running]]:
    """`serving(**limits)` starts a server with FAST overridden by `limits`; every one
    started is stopped after the test."""
    started: list[Running] = []

    def start(**overrides: Any) -> Running:
        started.append(Running(ServerLimits(**{**FAST, **overrides})))
        return started[-1]

    yield start
    for server in started:
        server.stop()


# ---- a raw HTTP/1.1 client -------------------------------------------------------------

def read_response(sock: socket.socket, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    """One response from `sock`: status, headers (lower-case names), body. Reads no byte
    past it, so that the next pipelined response stays for the next call."""
    sock.settimeout(timeout)
    data = b""
    while not data.endswith(b"\r\n\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError(f"closed before a response: {data!r}")
        data += chunk
    lines = data[:-4].decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            raise ConnectionError("closed in the middle of a body")
        body += chunk
    return status, headers, body


def get(sock: socket.socket, extra: str = "") -> tuple[int, dict[str, str], bytes]:
    sock.sendall(f"GET / HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode())
    return read_response(sock)


def closed_after(sock: socket.socket, limit: float) -> float | None:
    """Seconds until the server closes `sock` (end of file or reset), None if it is
    still open after `limit` seconds. Anything the server sends first is skipped."""
    start = time.monotonic()
    while (left := start + limit - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return time.monotonic() - start
        except socket.timeout:
            return None
        except OSError:
            return time.monotonic() - start
    return None


def trickle_until_closed(sock: socket.socket, every: float, limit: float) -> float | None:
    """Send one byte every `every` seconds until the server closes `sock`; the seconds
    that took, or None after `limit`."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        try:
            sock.send(b"a")
        except OSError:
            return time.monotonic() - start
        if closed_after(sock, every) is not None:
            return time.monotonic() - start
    return None


# ---- timeouts --------------------------------------------------------------------------

def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(serving: Any) -> None:
    # Well before the idle timeout, which Tornado alone would wait for a first head.
    running = serving(header_timeout=0.5, idle_timeout=5)
    with running.connect() as sock:
        took = closed_after(sock, 6)
    assert took is not None, "still open after 6 s"
    assert 0.4 <= took <= 2.0, took


def test_a_trickled_request_head_is_closed_after_the_header_timeout(serving: Any) -> None:
    running = serving(header_timeout=0.5, idle_timeout=5)
    with running.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\nX-Slow: ")
        took = trickle_until_closed(sock, every=0.1, limit=6)
    assert took is not None, "a head trickled for 6 s is still being read"
    assert 0.4 <= took <= 2.0, took


def test_an_idle_kept_alive_connection_is_closed_after_the_idle_timeout(serving: Any) -> None:
    running = serving(header_timeout=0.3, idle_timeout=1.2)
    with running.connect() as sock:
        assert get(sock)[0] == 200
        done = time.monotonic()
        # The header timeout is for the first request only: past it, still open.
        assert closed_after(sock, 0.6) is None
        took = closed_after(sock, 5)
    assert took is not None, "an idle connection is still open after 5 s"
    assert 1.0 <= time.monotonic() - done <= 3.0


def test_kept_alive_requests_go_on_working_past_the_header_timeout(serving: Any) -> None:
    """Requests on one connection over more than the header timeout, a body and two
    pipelined requests among them."""
    running = serving()
    with running.connect() as sock:
        for _ in range(3):
            status, headers, body = get(sock)
            assert (status, body) == (200, b"hello")
            assert headers.get("connection", "keep-alive").lower() != "close"
            time.sleep(0.25)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nabcde")
        assert read_response(sock)[2] == b"5"
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\nGET / HTTP/1.1\r\nHost: test\r\n\r\n")
        assert read_response(sock)[2] == b"hello"
        assert read_response(sock)[2] == b"hello"
    assert running.server.open_connections <= 1


def test_a_slow_body_is_closed_after_the_body_timeout(serving: Any, caplog: pytest.LogCaptureFixture) -> None:
    running = serving()
    with running.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n")
        took = trickle_until_closed(sock, every=0.1, limit=5)
    assert took is not None, "a body trickled for 5 s is still being read"
    assert 0.4 <= took <= 2.0, took
    assert not [r for r in caplog.records if r.exc_info], "a timeout is no traceback"


def test_a_large_body_gets_as_long_as_its_length_takes_at_the_minimum_rate(serving: Any) -> None:
    """4,000 bytes at 2,000 B/s may take 2 s: sent over about 1 s, past the 0.4 s floor."""
    running = serving(body_timeout=0.4, body_min_rate=2000)
    with running.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 4000\r\n\r\n")
        for _ in range(8):
            time.sleep(0.13)
            sock.sendall(b"x" * 500)
        status, _, body = read_response(sock)
    assert (status, body) == (200, b"4000")


def test_body_deadlines() -> None:
    limits = ServerLimits(body_timeout=60, body_min_rate=64 * 1024)
    assert limits.body_deadline(None) == 60
    assert limits.body_deadline(1_000_000) == 60
    assert limits.body_deadline(20 * 1024 * 1024) == 320


# ---- request-head sizes ----------------------------------------------------------------

def test_oversized_headers_are_answered_431(serving: Any) -> None:
    running = serving(max_header_bytes=4096, max_request_line=1024)
    with running.connect() as sock:
        status, headers, body = get(sock, "X-Big: " + "a" * 5000 + "\r\n")
        assert status == 431
        assert headers["connection"] == "close"
        assert json.loads(body) == {"status": 0, "data": None,
                                    "error": "request headers: larger than 4096 bytes in all"}
        assert closed_after(sock, 3) is not None


def test_a_request_line_too_long_is_answered_414(serving: Any) -> None:
    running = serving(max_header_bytes=4096, max_request_line=1024)
    with running.connect() as sock:
        sock.sendall(b"GET /?q=" + b"a" * 2000 + b" HTTP/1.1\r\nHost: test\r\n\r\n")
        status, _, body = read_response(sock)
    assert status == 414
    assert json.loads(body)["error"] == "request line: longer than 1024 bytes"


def test_a_request_line_too_long_in_a_head_too_large_is_still_414(serving: Any) -> None:
    running = serving(max_header_bytes=4096, max_request_line=1024)
    with running.connect() as sock:
        sock.sendall(b"GET /?q=" + b"a" * 6000)  # no end of line within the head limit
        assert read_response(sock)[0] == 414


def test_heads_at_the_limits_are_served(serving: Any) -> None:
    running = serving(max_header_bytes=4096, max_request_line=1024)
    with running.connect() as sock:
        line = b"GET /?q=" + b"a" * (1024 - len(b"GET /?q= HTTP/1.1")) + b" HTTP/1.1\r\n"
        assert len(line) == 1024 + 2
        head = line + b"Host: test\r\n"
        head += b"X-Fill: " + b"b" * (4096 - len(head) - len(b"X-Fill: \r\n\r\n")) + b"\r\n\r\n"
        assert len(head) == 4096
        sock.sendall(head)
        assert read_response(sock)[:1] == (200,)
        # One byte more is one too many.
        sock.sendall(head[:-4] + b"b\r\n\r\n")
        assert read_response(sock)[0] == 431


def test_a_head_of_megabytes_is_answered_431_not_reset(serving: Any) -> None:
    """The client is still sending when the answer comes: the server reads on until the
    client has sent it all, so the answer is not destroyed by a reset."""
    running = serving(max_header_bytes=4096, max_request_line=1024)
    with running.connect() as sock:
        def send() -> None:
            try:
                sock.sendall(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 3_000_000 + b"\r\n\r\n")
            except OSError:
                pass

        sender = threading.Thread(target=send)
        sender.start()
        status = read_response(sock)[0]
        sender.join(10)
    assert status == 431


# ---- the connection cap ----------------------------------------------------------------

def test_past_the_cap_new_connections_get_503_and_the_others_keep_working(
        serving: Any, caplog: pytest.LogCaptureFixture) -> None:
    running = serving(max_connections=3, header_timeout=5, idle_timeout=5)
    caplog.set_level(logging.INFO, "micropim.server")
    held = [running.connect() for _ in range(3)]
    try:
        for sock in held:
            assert get(sock)[0] == 200
        for _ in range(3):
            started = time.monotonic()
            with running.connect() as extra:
                status, headers, body = read_response(extra)  # without sending anything
                assert closed_after(extra, 3) is not None
            assert time.monotonic() - started < 1.0
            assert status == 503 and headers["retry-after"] == "1"
            assert json.loads(body)["error"] == "the server has too many open connections; retry in a moment"
        for sock in held:
            assert get(sock)[2] == b"hello"
    finally:
        held.pop().close()
    deadline = time.monotonic() + 5
    while running.server.open_connections > 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    with running.connect() as again:
        assert get(again)[2] == b"hello"
    for sock in held:
        sock.close()
    assert running.server.refused == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == ["3 connections open, the limit: new connections are answered 503 until some close"]
    assert not [r for r in caplog.records if r.exc_info]


def test_the_default_cap_follows_the_descriptor_limit() -> None:
    assert default_max_connections(1024) == 826  # 1024 - 64 - 32 - 102
    assert default_max_connections(64) == 16  # a quarter, at least
    assert default_max_connections(4096) == 3591
    assert default_max_connections(1 << 20) == 4096  # at most
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert ServerLimits().connection_cap() == default_max_connections(soft)
    assert ServerLimits(max_connections=7).connection_cap() == 7


def test_limits_that_make_no_sense_are_refused() -> None:
    with pytest.raises(ValueError, match="header_timeout"):
        ServerLimits(header_timeout=0)
    with pytest.raises(ValueError, match="max_request_line"):
        ServerLimits(max_request_line=9000, max_header_bytes=8000)
    with pytest.raises(ValueError, match="max_connections"):
        ServerLimits(max_connections=0)
    with pytest.raises(TypeError, match="idle_connection_timeout"):
        LimitedHTTPServer(tornado.web.Application(), ServerLimits(), idle_connection_timeout=5)


# ---- descriptors: micropim serve with RLIMIT_NOFILE 64 ---------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Serve:
    """`micropim serve` with a descriptor limit of `nofile`; its log in a file."""

    def __init__(self, tmp_path: pathlib.Path, *args: str, nofile: int = 64,
                 env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log = tmp_path / "serve.log"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("MICROPIM_")}
        environment.update(env or {})

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, SCRIPT, "serve", "--db", str(tmp_path / "pim.db"),
                 "--port", str(self.port), *args],
                cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT, preexec_fn=limit)
        deadline = time.monotonic() + 30
        while b"MicroPIM listening on" not in self.log.read_bytes():
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.05)

    def cpu(self) -> float:
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/openapi.json", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def serve(tmp_path: pathlib.Path) -> Iterator[Any]:
    started: list[Serve] = []

    def start(*args: str, **kw: Any) -> Serve:
        started.append(Serve(tmp_path, *args, **kw))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def open_idle(port: int, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.socket()
        sock.settimeout(2)
        try:
            sock.connect(("127.0.0.1", port))
        except OSError:
            sock.close()
            break
        socks.append(sock)
    return socks


def test_out_of_descriptors_the_server_pauses_accepting_instead_of_spinning(serve: Any) -> None:
    """The cap lifted above what 64 descriptors allow, so that accept() fails EMFILE."""
    server = serve("--max-connections", "1000")
    before = len(server.lines())
    socks = open_idle(server.port, 120)  # the server takes ~50, the rest wait in the backlog
    try:
        assert len(socks) == 120
        time.sleep(0.5)
        cpu = server.cpu()
        time.sleep(2.0)
        assert server.cpu() - cpu < 0.3, "the server spins while out of descriptors"
        lines = server.lines()[before:]
        assert not [line for line in lines if "Traceback" in line], lines[:20]
        failing = [line for line in lines if "Too many open files" in line]
        assert len(failing) == 1, lines[:20]
        assert "cannot accept connections: Too many open files" in failing[0]
        assert len(lines) <= 5, lines
    finally:
        for sock in socks:
            sock.close()
    deadline = time.monotonic() + 5
    while not server.answers():
        assert time.monotonic() < deadline, "not serving again 5 s after the clients left"
        time.sleep(0.05)
    assert any("accepting connections again after" in line for line in server.lines()[before:])


def test_the_default_cap_answers_503_before_descriptors_run_out(serve: Any) -> None:
    """With 64 descriptors the cap is 16: past it, connections are answered at once,
    60 arriving together included (one accept batch), and descriptors never run out."""
    server = serve()
    assert "accepting at most 16 connections (file-descriptor limit 64)" in "\n".join(server.lines())
    socks = open_idle(server.port, 16)
    extra = open_idle(server.port, 60)
    try:
        assert len(extra) == 60
        assert [read_response(sock)[0] for sock in extra] == [503] * 60
        assert not [line for line in server.lines() if "Traceback" in line or "Too many open" in line]
    finally:
        for sock in socks + extra:
            sock.close()
    deadline = time.monotonic() + 5
    while not server.answers():
        assert time.monotonic() < deadline, "not serving again after the clients left"
        time.sleep(0.05)


def test_max_connections_is_read_from_the_environment(serve: Any) -> None:
    server = serve(env={"MICROPIM_MAX_CONNECTIONS": "2"}, nofile=1024)
    socks = open_idle(server.port, 2)
    try:
        time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as extra:
            assert read_response(extra)[0] == 503
    finally:
        for sock in socks:
            sock.close()


def test_a_bad_max_connections_is_a_one_line_error() -> None:
    result = subprocess.run([sys.executable, SCRIPT, "serve", "--max-connections", "0"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "micropim: error: argument --max-connections: expected a positive integer, got '0'"]
