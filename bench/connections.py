"""Connection-limits benchmark: the hostile-input drill of issue 14 (item 2), replayed.

Run from the repository root (each phase starts its own `micropim serve` on a fresh
database in a temporary directory and a free port, and stops it afterwards):

    .venv/bin/python bench/connections.py [--micropim PATH] [--serve-arg=ARG ...]

1. Drill: opens 210 connections, 70 of each kind, and prints how many are still open
   after 5, 15, 30, 60 and 75 s (`--checkpoints`), with the server's CPU seconds and
   log lines so far:
   - slow-header: sends a request line at once, then one header byte every 2 s
     (`--trickle`) and never ends the headers;
   - idle: connects and sends nothing;
   - slow-body: sends a complete `POST /` head with `Content-Length: 100000`, then one
     body byte every 2 s.
   A connection counts as closed once the client sees end-of-file or a reset from the
   server (a response before that, such as a 503, is reported too).
2. Descriptor exhaustion: a server whose RLIMIT_NOFILE is 64 (`--nofile`, set in the
   child before exec) gets 150 idle connections (`--exhaust-connections`), more than it
   has descriptors; over 18 s (`--exhaust-seconds`) the bench prints the server's CPU
   seconds, its log lines and bytes and its open descriptors, then closes every client
   connection and prints how long until `GET /api/openapi.json` answers 200 again.

`--micropim PATH` runs another checkout's `micropim.py` (its own directory is the
import root), which is how the figures before a change are taken from an unchanged
copy: `git archive HEAD | tar -x -C /tmp/base` and `--micropim /tmp/base/micropim.py`.
`--serve-arg` adds an argument to both servers, `--exhaust-serve-arg` to the second
only (for example `--exhaust-serve-arg=--max-connections=100000`, which lifts the
connection cap so that accept itself runs out of descriptors).
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a running process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def open_descriptors(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


class Server:
    """`micropim serve` in a child process, its stdout and stderr in one log file."""

    def __init__(self, micropim: Path, workdir: Path, args: Sequence[str],
                 nofile: int | None = None) -> None:
        self.port = free_port()
        self.log_path = workdir / f"serve-{self.port}.log"
        self._log = open(self.log_path, "wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MICROPIM_")}
        preexec: Callable[[], None] | None = None
        if nofile is not None:
            def preexec() -> None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.process = subprocess.Popen(
            [sys.executable, str(micropim), "serve", "--db", str(workdir / f"db-{self.port}.db"),
             "--port", str(self.port), *args],
            cwd=micropim.parent, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            preexec_fn=preexec,
        )
        deadline = time.monotonic() + 60
        while b"MicroPIM listening on" not in self.log_path.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_size(self) -> tuple[int, int]:
        """(lines, bytes) of the server's log so far."""
        data = self.log_path.read_bytes()
        return data.count(b"\n"), len(data)

    def answers(self, path: str = "/api/openapi.json", timeout: float = 2.0) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout) as response:
                return bool(response.status == 200)
        except (OSError, ValueError):
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@dataclass
class Client:
    """One hostile connection: what it sent at once, what it trickles, what it saw."""

    kind: str
    sock: socket.socket
    trickle: bytes = b""
    next_send: float = 0.0
    sent: int = 0
    closed_at: float | None = None
    received: bytearray = field(default_factory=bytearray)

    def poll(self, now: float, interval: float) -> None:
        """Send the next trickled byte when due; notice a close by the server."""
        if self.closed_at is not None:
            return
        if self.trickle and now >= self.next_send:
            try:
                self.sock.send(self.trickle[self.sent % len(self.trickle):][:1])
                self.sent += 1
            except OSError:
                self._closed(now)
                return
            self.next_send = now + interval
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    self._closed(now)
                    return
                self.received += data
        except BlockingIOError:
            pass
        except OSError:
            self._closed(now)

    def _closed(self, now: float) -> None:
        self.closed_at = now
        self.sock.close()

    @property
    def status(self) -> str | None:
        """The status code of a response the server sent, if any."""
        found = re.match(rb"HTTP/1\.[01] (\d{3})", bytes(self.received))
        return found.group(1).decode() if found else None


def connect(port: int, timeout: float = 2.0) -> socket.socket | None:
    sock = socket.socket()
    sock.settimeout(timeout)
    try:
        sock.connect(("127.0.0.1", port))
    except OSError:
        sock.close()
        return None
    sock.setblocking(False)
    return sock


def drill(server: Server, per_kind: int, checkpoints: list[float], interval: float) -> None:
    start = time.monotonic()
    cpu0 = cpu_seconds(server.pid)
    clients: list[Client] = []
    for kind, head, trickle in (
        ("slow-header", b"GET / HTTP/1.1\r\nHost: bench\r\nX-Trickle: ", b"abcdefghij"),
        ("idle", b"", b""),
        ("slow-body", b"POST / HTTP/1.1\r\nHost: bench\r\nContent-Type: application/octet-stream\r\n"
                      b"Content-Length: 100000\r\n\r\n", b"0123456789"),
    ):
        for _ in range(per_kind):
            sock = connect(server.port)
            if sock is None:
                print(f"  could not connect a {kind} client")
                continue
            if head:
                sock.send(head)
            clients.append(Client(kind, sock, trickle, time.monotonic() + interval))
    kinds = ("slow-header", "idle", "slow-body")
    print(f"  {len(clients)} connections opened in {time.monotonic() - start:.1f} s")
    print(f"  {'after':>6}  " + "  ".join(f"{k:>11}" for k in kinds) + "  total  server-CPU-s  log-lines")
    for checkpoint in checkpoints:
        while (now := time.monotonic()) < start + checkpoint:
            for client in clients:
                client.poll(now, interval)
            time.sleep(0.05)
        counts = [sum(1 for c in clients if c.kind == k and c.closed_at is None) for k in kinds]
        lines, _ = server.log_size()
        print(f"  {checkpoint:>5.0f}s  " + "  ".join(f"{n:>7}/{per_kind:<3}" for n in counts)
              + f"  {sum(counts):>5}  {cpu_seconds(server.pid) - cpu0:>12.2f}  {lines:>9}")
    statuses: dict[str, int] = {}
    for client in clients:
        key = f"{client.kind}:{client.status or 'none'}"
        statuses[key] = statuses.get(key, 0) + 1
        if client.closed_at is None:
            client.sock.close()
    print("  responses seen (kind:status -> connections): "
          + ", ".join(f"{k} -> {v}" for k, v in sorted(statuses.items())))
    closed = [c.closed_at - start for c in clients if c.closed_at is not None]
    for kind in kinds:
        times = sorted(c.closed_at - start for c in clients if c.kind == kind and c.closed_at is not None)
        if times:
            print(f"  {kind}: closed between {times[0]:.1f} s and {times[-1]:.1f} s")
    if not closed:
        print("  no connection was closed by the server")


def exhaust(server: Server, connections: int, seconds: float) -> None:
    cpu0 = cpu_seconds(server.pid)
    lines0, bytes0 = server.log_size()
    start = time.monotonic()
    socks = [s for s in (connect(server.port, timeout=1.0) for _ in range(connections)) if s is not None]
    print(f"  {len(socks)} of {connections} connections opened in {time.monotonic() - start:.1f} s; "
          f"server holds {open_descriptors(server.pid)} descriptors")
    for mark in (1.0, seconds / 2, seconds):
        while time.monotonic() < start + mark:
            time.sleep(0.05)
        lines, size = server.log_size()
        tracebacks = server.log_path.read_bytes()[bytes0:].count(b"Traceback")
        print(f"  after {mark:>4.1f} s: server CPU {cpu_seconds(server.pid) - cpu0:6.2f} s, "
              f"log +{lines - lines0} lines (+{(size - bytes0) / 1e6:.2f} MB, {tracebacks} tracebacks), "
              f"{open_descriptors(server.pid)} descriptors open")
    answered: dict[str, int] = {}
    for sock in socks:
        try:
            sock.setblocking(False)
            data = sock.recv(200)
            key = data[:12].decode(errors="replace").split(" ")[1] if data.startswith(b"HTTP/") else (
                "closed" if data == b"" else "other")
        except BlockingIOError:
            key = "open, no answer"
        except OSError as exc:
            key = errno.errorcode.get(exc.errno or 0, "error")
        answered[key] = answered.get(key, 0) + 1
        sock.close()
    print("  client connections at the end: " + ", ".join(f"{k}: {v}" for k, v in sorted(answered.items())))
    closed = time.monotonic()
    while not server.answers():
        if time.monotonic() - closed > 30:
            print("  the server did not answer within 30 s of the clients closing")
            break
        time.sleep(0.05)
    else:
        print(f"  answers GET /api/openapi.json again {time.monotonic() - closed:.2f} s after the clients closed")
    cpu_idle = cpu_seconds(server.pid)
    time.sleep(2)
    print(f"  server CPU over the next 2 s: {cpu_seconds(server.pid) - cpu_idle:.2f} s")
    print("  first log lines of this phase:")
    text = server.log_path.read_text(errors="replace").splitlines()[lines0:lines0 + 6]
    for line in text:
        print(f"    {line[:160]}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--micropim", type=Path, default=ROOT / "micropim.py")
    parser.add_argument("--per-kind", type=int, default=70)
    parser.add_argument("--checkpoints", default="5,15,30,60,75")
    parser.add_argument("--trickle", type=float, default=2.0, help="seconds between trickled bytes")
    parser.add_argument("--nofile", type=int, default=64)
    parser.add_argument("--exhaust-connections", type=int, default=150)
    parser.add_argument("--exhaust-seconds", type=float, default=18.0)
    parser.add_argument("--serve-arg", action="append", default=[])
    parser.add_argument("--exhaust-serve-arg", action="append", default=[])
    parser.add_argument("--skip-drill", action="store_true")
    parser.add_argument("--skip-exhaust", action="store_true")
    args = parser.parse_args(argv)
    micropim = args.micropim.resolve()
    workdir = Path(tempfile.mkdtemp(prefix="micropim-bench-connections-"))
    print(f"micropim: {micropim}; load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f}; {os.cpu_count()} cores")
    try:
        if not args.skip_drill:
            server = Server(micropim, workdir, args.serve_arg)
            print(f"1. drill: {args.per_kind} connections of each kind, trickling every {args.trickle} s "
                  f"(server {' '.join(args.serve_arg) or 'with default options'})")
            try:
                drill(server, args.per_kind, [float(x) for x in args.checkpoints.split(",")], args.trickle)
            finally:
                server.stop()
        if not args.skip_exhaust:
            serve_args = [*args.serve_arg, *args.exhaust_serve_arg]
            server = Server(micropim, workdir, serve_args, nofile=args.nofile)
            print(f"2. descriptor exhaustion: RLIMIT_NOFILE {args.nofile}, "
                  f"{args.exhaust_connections} idle connections "
                  f"(server {' '.join(serve_args) or 'with default options'})")
            try:
                exhaust(server, args.exhaust_connections, args.exhaust_seconds)
            finally:
                server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
