"""The HTTP server's own limits: timeouts, request-head sizes, a connection cap, and an
accept loop that backs off when the process runs out of file descriptors (issue 14).

`LimitedHTTPServer(app, ServerLimits(...), **httpserver_kwargs)` is a
`tornado.httpserver.HTTPServer` that

- closes a connection that has not sent a complete request head within
  `header_timeout` of connecting, whether it sends nothing or trickles a byte every few
  seconds (Tornado alone waits `idle_connection_timeout`, 3600 s when unset, for that);
- closes a kept-alive connection idle for `idle_timeout` (Tornado's
  `idle_connection_timeout`: the next request's head must be complete by then);
- closes a request whose body has not arrived within `body_timeout`, or within the
  time the declared `Content-Length` takes at `body_min_rate` bytes per second when that
  is longer (Tornado's `body_timeout`, set per request);
- answers a request line longer than `max_request_line` with 414 and a request head
  larger than `max_header_bytes` with 431, instead of Tornado's silent close;
- holds at most `max_connections` open connections; one past the cap is answered 503
  with `Retry-After` at once and closed, so connections never pile up until descriptors
  run out (`default_max_connections()` sizes the cap from RLIMIT_NOFILE);
- when `accept()` fails for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS,
  ENOMEM) stops accepting for 10 ms, doubling up to 1 s, and logs one warning per
  episode, where Tornado's accept handler lets the error escape into the event loop,
  which logs a traceback and calls it again at once, for ever (100,000 tracebacks and a
  busy core in 18 s in the drill).

Refusals are expected events: they are logged in one line (the cap and the accept
back-off once per episode), never with a traceback. The responses this module writes
itself (414, 431, 503) carry the API's JSON envelope and `Connection: close`; after
writing one the server shuts its sending side and reads and discards what the client
still sends for up to `linger` seconds, so that the client reads the answer instead of
a reset (closing a socket with unread input sends RST, which can destroy the answer in
flight).

TLS is not handled here (`ssl_options` is refused): MicroPIM is served over plain HTTP,
behind a reverse proxy when it faces the internet.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import json
import logging
import resource
import socket
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Iterable, cast

import tornado.httpserver
import tornado.httputil
import tornado.iostream
from tornado.ioloop import IOLoop

log = logging.getLogger("micropim.server")

#: The end of a request head, as `tornado.http1connection` asks the stream to find it.
HEAD_END = b"\r?\n\r?\n"

#: accept() errors that mean "no resources now": back off, then retry.
RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
#: accept() errors that belong to one pending connection (Linux passes the new socket's
#: network errors up through accept, see accept(2)): skip it and accept the next.
CONNECTION_ERRORS = frozenset(
    getattr(errno, name) for name in (
        "ECONNABORTED", "EPROTO", "ENOPROTOOPT", "EHOSTDOWN", "ENONET", "EHOSTUNREACH",
        "EOPNOTSUPP", "ENETDOWN", "ENETUNREACH", "EPERM",
    ) if hasattr(errno, name)
)
#: Connections accepted per readable event at most, as Tornado's own accept handler.
ACCEPT_BATCH = 128

#: Descriptors kept for the process itself whatever the limit: standard streams,
#: listening sockets, the event loop's selector and wake-up pipe, SQLite's database,
#: WAL and shared-memory files on each thread that queries (event loop, 2 query
#: threads, the writer, a backup), the image model, modules imported on first use and
#: a few media fetches by URL in flight.
RESERVED_DESCRIPTORS = 64
#: The default cap never exceeds this: past a few thousand concurrent connections one
#: process with two query threads answers none of them in useful time, and each open
#: connection costs memory (buffers, Tornado's objects).
MAX_DEFAULT_CONNECTIONS = 4096


def descriptor_limit() -> int:
    """This process's soft limit on open file descriptors (RLIMIT_NOFILE)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 1 << 20 if soft == resource.RLIM_INFINITY else int(soft)


def lingering_budget(max_lingering: int, nofile: int | None = None) -> int:
    """Refused connections that may linger at once: `max_lingering`, and never more
    than an eighth of the descriptor limit `nofile` (default: this process's)."""
    limit = descriptor_limit() if nofile is None else nofile
    return min(max_lingering, max(1, limit // 8))


def default_max_connections(nofile: int | None = None, max_lingering: int = 32) -> int:
    """The connection cap for a descriptor limit of `nofile` (default: this process's).

    Each connection holds one descriptor. Kept aside: `RESERVED_DESCRIPTORS` for the
    process's own files, the lingering budget for refused connections being closed
    (`lingering_budget`: 32, or an eighth of a small limit), and a tenth of the limit
    for what requests open while they run (a static file being sent, a media fetch,
    SQLite temporary files); never more than `MAX_DEFAULT_CONNECTIONS`, never less than
    a quarter of the limit (a limit below about 200 leaves the reserve short, and the
    accept back-off covers what is then left):

        min(4096, max(nofile // 4, nofile - 64 - min(32, nofile // 8) - nofile // 10))

    1024 (a common soft limit) gives 826, 4096 gives 3591, 64 gives 16.
    """
    limit = descriptor_limit() if nofile is None else nofile
    fitting = limit - RESERVED_DESCRIPTORS - lingering_budget(max_lingering, limit) - limit // 10
    return max(1, min(MAX_DEFAULT_CONNECTIONS, max(limit // 4, fitting)))


@dataclass(frozen=True)
class ServerLimits:
    """How long and how large a client may be, and how many may be connected at once.

    The defaults are for production; tests pass fractions of a second.
    """

    #: Seconds a kept-alive connection may wait for its next request's head to
    #: complete. Longer than the header timeout, because keeping a connection open
    #: between a client's requests (a shop plugin syncing, the web UI) saves a connect
    #: per request; 60 s so that a reverse proxy's upstream keep-alive (nginx: 60 s)
    #: is not outlived by much, and an idle client costs one descriptor for a minute.
    idle_timeout: float = 60.0
    #: Seconds from connecting until the first request's head is complete. A client
    #: sends its head in one go right after connecting (1-2 kB: one round trip even on
    #: a poor mobile link); 10 s leaves room for a slow link and a browser's
    #: preconnected socket (Chromium drops an unused one after 10 s by itself, and
    #: retries on a preconnected socket that the server closed).
    header_timeout: float = 10.0
    #: Seconds any request body may take: a 1 MB JSON body at 17 kB/s. Larger declared
    #: bodies get longer, see `body_min_rate`.
    body_timeout: float = 60.0
    #: Bytes per second a body with a `Content-Length` must average: a body gets
    #: max(body_timeout, Content-Length / body_min_rate) seconds. 64 KiB/s (about
    #: 0.5 Mbit/s, a poor mobile uplink) lets a 20 MB image upload take 320 s, where a
    #: flat 60 s would need 2.8 Mbit/s. Chunked bodies get `body_timeout`.
    body_min_rate: float = 64 * 1024
    #: Longest request line, in bytes (414 past it). 8 KiB, as Apache and nginx:
    #: MicroPIM's longest URLs, list filters, are a few hundred bytes.
    max_request_line: int = 8 * 1024
    #: Largest request head (request line and headers), in bytes (431 past it).
    #: 16 KiB, as Node.js: several times what a browser sends with a full set of
    #: cookies, small enough that thousands of heads in progress stay in memory.
    max_header_bytes: int = 16 * 1024
    #: Open connections at most; None sizes it from the descriptor limit
    #: (`default_max_connections`).
    max_connections: int | None = None
    #: The 503's `Retry-After`, in seconds.
    retry_after: int = 1
    #: Seconds to keep reading (and discarding) after writing a refusal, at most.
    linger: float = 2.0
    #: Refused connections lingering at once at most (and never more than an eighth of
    #: the descriptor limit); past it, refusals close at once.
    max_lingering: int = 32
    #: First pause, in seconds, when accept runs out of descriptors; it doubles on each
    #: failed retry up to `accept_backoff_max`.
    accept_backoff: float = 0.01
    accept_backoff_max: float = 1.0

    def __post_init__(self) -> None:
        for name in ("idle_timeout", "header_timeout", "body_timeout", "body_min_rate",
                     "linger", "accept_backoff", "accept_backoff_max"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        for name in ("max_request_line", "max_header_bytes", "retry_after"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.max_request_line > self.max_header_bytes:
            raise ValueError("max_request_line must not exceed max_header_bytes")
        if self.max_connections is not None and self.max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {self.max_connections!r}")
        if self.max_lingering < 0:
            raise ValueError(f"max_lingering must not be negative, got {self.max_lingering!r}")

    def connection_cap(self) -> int:
        """`max_connections`, or the default for this process's descriptor limit."""
        if self.max_connections is not None:
            return self.max_connections
        return default_max_connections(max_lingering=self.max_lingering)

    def body_deadline(self, content_length: int | None) -> float:
        """Seconds the body of a request declaring `content_length` bytes may take."""
        if content_length is None:
            return self.body_timeout
        return max(self.body_timeout, content_length / self.body_min_rate)


def refusal(status: int, reason: str, message: str, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """A complete HTTP/1.1 response with the API's error envelope, closing the connection."""
    body = json.dumps({"status": 0, "data": None, "error": message}).encode()
    lines = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json; charset=UTF-8",
             f"Content-Length: {len(body)}", "Connection: close", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class LimitedHTTPServer(tornado.httpserver.HTTPServer):
    """An `HTTPServer` with the limits of `ServerLimits` (see the module's docstring).

    Construct it as an `HTTPServer`, with the limits second:
    `LimitedHTTPServer(app, ServerLimits(), xheaders=True, max_body_size=...)`. The
    timeouts and the head size belong to `limits`, so `idle_connection_timeout`,
    `body_timeout` and `max_header_size` are refused, and so is `ssl_options`.

    `open_connections`, `refused` (503s written), `head_refused` (414s and 431s) and
    `accept_pauses` (times accept backed off) are there to be read by tests and
    operators.
    """

    limits: ServerLimits
    max_connections: int

    def initialize(  # type: ignore[override]
        self,
        request_callback: Any,
        limits: ServerLimits | None = None,
        **kwargs: Any,
    ) -> None:
        owned = {"idle_connection_timeout", "body_timeout", "max_header_size", "ssl_options"}
        given = sorted(owned & {k for k, v in kwargs.items() if v is not None})
        if given:
            raise TypeError(f"LimitedHTTPServer: {', '.join(given)} not accepted (set ServerLimits instead; "
                            "TLS belongs to a reverse proxy)")
        self.limits = limits or ServerLimits()
        super().initialize(
            request_callback,
            idle_connection_timeout=self.limits.idle_timeout,
            body_timeout=self.limits.body_timeout,
            # Never reached (see _GuardedStream): a backstop in case Tornado reads the
            # head some other way.
            max_header_size=self.limits.max_header_bytes + 4,
            **kwargs,
        )
        self.max_connections = self.limits.connection_cap()
        self.open_connections = 0
        self.refused = 0
        self.head_refused = 0
        self.accept_pauses = 0
        self._lingering = 0
        self._max_lingering = lingering_budget(self.limits.max_lingering)
        self._stopped = False
        # A head of more than max_header_bytes is found without reading further: the
        # pattern matches the end of a head, or else the position just past the limit.
        self._head_pattern = HEAD_END + rb"|(?<=[\s\S]{%d})" % (self.limits.max_header_bytes + 1)
        self._busy_response = refusal(
            503, "Service Unavailable",
            "the server has too many open connections; retry in a moment",
            [("Retry-After", str(self.limits.retry_after))],
        )
        self._cap_episode: tuple[float, int] | None = None  # (since, refused before)
        self._accept_episode: tuple[float, int] | None = None  # (since, retries)
        self._backoff = self.limits.accept_backoff
        self._resume_timers: dict[int, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Future[None]] = set()

    # ---- accepting -------------------------------------------------------------------

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        """Listen on `sockets` with this server's accept handler instead of Tornado's.

        `TCPServer.add_sockets` registers `netutil.add_accept_handler`; its handler is
        swapped for ours on the same sockets, so that `stop()` still unregisters and
        closes them.
        """
        sockets = list(sockets)
        super().add_sockets(sockets)
        io_loop = IOLoop.current()
        for sock in sockets:
            io_loop.remove_handler(sock)
            io_loop.add_handler(sock, functools.partial(self._accept_ready, sock), IOLoop.READ)
        limit = descriptor_limit()
        log.info("accepting at most %d connections (file-descriptor limit %d)", self.max_connections, limit)
        fitting = limit - RESERVED_DESCRIPTORS - self._max_lingering
        if self.max_connections > fitting:
            log.warning("%d connections leave fewer than %d of the %d file descriptors to the process "
                        "itself: accept may run out of descriptors (it then pauses); raise the limit "
                        "(ulimit -n) or lower --max-connections", self.max_connections,
                        RESERVED_DESCRIPTORS + self._max_lingering, limit)

    def stop(self) -> None:
        self._stopped = True
        for timer in self._resume_timers.values():
            timer.cancel()
        self._resume_timers.clear()
        super().stop()

    def _accept_ready(self, sock: socket.socket, _fd: Any, _events: int) -> None:
        """Accept what is waiting on `sock`; on a resource error, pause (never raise:
        an exception here would be logged by the event loop and the handler called
        again at once)."""
        for _ in range(ACCEPT_BATCH):
            if self._stopped:
                return
            try:
                connection, address = sock.accept()
            except BlockingIOError:
                self._accepting_again()
                return
            except OSError as exc:
                if exc.errno in CONNECTION_ERRORS:
                    continue
                self._pause_accepting(sock, exc)
                return
            self._accepting_again()
            try:
                self._admit(connection, address)
            except Exception:  # a bug of ours: log it, drop this connection, go on accepting
                log.exception("could not take a new connection from %s", address)
                connection.close()

    def _pause_accepting(self, sock: socket.socket, exc: OSError) -> None:
        """Stop watching `sock` for a while (the backlog keeps the waiting clients)."""
        IOLoop.current().remove_handler(sock)
        delay = self._backoff
        self._backoff = min(self._backoff * 2, self.limits.accept_backoff_max)
        self.accept_pauses += 1
        if self._accept_episode is None:
            self._accept_episode = (time.monotonic(), 0)
            if exc.errno in RESOURCE_ERRORS:
                log.warning("cannot accept connections: %s (%d open connections, file-descriptor limit %d); "
                            "retrying in %g s, backing off up to %g s", exc.strerror,
                            self.open_connections, descriptor_limit(), delay, self.limits.accept_backoff_max)
            else:  # not expected: say what it was, once per episode
                log.error("cannot accept connections: %r; retrying in %g s, backing off up to %g s",
                          exc, delay, self.limits.accept_backoff_max)
        else:
            since, retries = self._accept_episode
            self._accept_episode = (since, retries + 1)
        fd = sock.fileno()
        self._resume_timers[fd] = asyncio.get_running_loop().call_later(
            delay, self._resume_accepting, sock, fd)

    def _resume_accepting(self, sock: socket.socket, fd: int) -> None:
        self._resume_timers.pop(fd, None)
        if self._stopped or sock.fileno() == -1:
            return
        IOLoop.current().add_handler(sock, functools.partial(self._accept_ready, sock), IOLoop.READ)
        # Try at once: if the waiting clients have gone, nothing would call the handler,
        # and this ends the episode.
        self._accept_ready(sock, fd, IOLoop.READ)

    def _accepting_again(self) -> None:
        """An accept went through (or found nothing waiting): end a back-off episode."""
        if self._accept_episode is not None:
            since, retries = self._accept_episode
            self._accept_episode = None
            self._backoff = self.limits.accept_backoff
            log.info("accepting connections again after %.1f s (%d retries)",
                        time.monotonic() - since, retries)

    def _admit(self, connection: socket.socket, address: Any) -> None:
        """Serve `connection`, or refuse it when the cap is reached."""
        if self.open_connections >= self.max_connections:
            self._refuse(connection)
            return
        stream = tornado.iostream.IOStream(
            connection, max_buffer_size=self.max_buffer_size, read_chunk_size=self.read_chunk_size)
        self.handle_stream(stream, address)

    def _refuse(self, connection: socket.socket) -> None:
        self.refused += 1
        if self._cap_episode is None:
            self._cap_episode = (time.monotonic(), self.refused - 1)
            log.warning("%d connections open, the limit: new connections are answered 503 until some close",
                        self.open_connections)
        if self._lingering >= self._max_lingering:
            try:
                connection.setblocking(False)
                connection.send(self._busy_response)
            except OSError:
                pass
            connection.close()
            return
        self._answer_and_close(tornado.iostream.IOStream(connection), self._busy_response)

    # ---- connections ---------------------------------------------------------------

    def handle_stream(self, stream: tornado.iostream.IOStream, address: tuple[Any, ...]) -> None:
        self.open_connections += 1
        guarded = _GuardedStream(stream, self)
        super().handle_stream(cast(tornado.iostream.IOStream, guarded), address)

    def on_close(self, server_conn: object) -> None:
        super().on_close(server_conn)
        self.open_connections -= 1
        stream = getattr(server_conn, "stream", None)
        if isinstance(stream, _GuardedStream):
            stream.cancel_header_timer()
        if self._cap_episode is not None and self.open_connections <= self.max_connections * 9 // 10:
            since, refused_before = self._cap_episode
            self._cap_episode = None
            log.info("below the connection limit again: %d connections answered 503 in %.1f s",
                        self.refused - refused_before, time.monotonic() - since)

    def start_request(
        self, server_conn: object, request_conn: tornado.httputil.HTTPConnection
    ) -> tornado.httputil.HTTPMessageDelegate:
        delegate = super().start_request(server_conn, request_conn)
        stream = getattr(server_conn, "stream", None)
        guard = stream if isinstance(stream, _GuardedStream) else None
        return _BodyDeadline(delegate, request_conn, self.limits, guard)

    # ---- refusals ------------------------------------------------------------------

    def refuse_head(self, stream: tornado.iostream.IOStream, head: bytes) -> bool:
        """Answer 414 or 431 on `stream` if `head` (as read by _GuardedStream) breaks a
        limit, and close it; False when the head is within the limits."""
        limits = self.limits
        complete = head.endswith(b"\n\n") or head.endswith(b"\n\r\n")
        start = len(head) - len(head.lstrip(b"\r\n"))  # empty lines before a request are ignored
        end = head.find(b"\n", start)
        line = (len(head) if end < 0 else end) - start
        if end > 0 and head[end - 1:end] == b"\r":
            line -= 1
        if line > limits.max_request_line:
            response = refusal(414, "URI Too Long",
                               f"request line: longer than {limits.max_request_line} bytes")
        elif not complete or len(head) > limits.max_header_bytes:
            response = refusal(431, "Request Header Fields Too Large",
                               f"request headers: larger than {limits.max_header_bytes} bytes in all")
        else:
            return False
        self.head_refused += 1
        log.info("%s from %s", response.split(b"\r\n", 1)[0][9:].decode(), _peer(stream))
        self._answer_and_close(stream, response)
        return True

    def _answer_and_close(self, stream: tornado.iostream.IOStream, response: bytes) -> None:
        """Write `response`, shut the sending side, read and drop what the client still
        sends until it closes or `linger` passes, then close. Past the lingering budget,
        close as soon as the response is written. The budget is taken here, not in the
        task: one accept batch refuses up to 128 connections before any task runs."""
        lingering = self._lingering < self._max_lingering
        if lingering:
            self._lingering += 1
        task = asyncio.ensure_future(self._write_and_linger(stream, response, lingering))
        self._tasks.add(task)  # the loop holds tasks weakly
        task.add_done_callback(self._tasks.discard)

    async def _write_and_linger(self, stream: tornado.iostream.IOStream, response: bytes,
                                lingering: bool) -> None:
        deadline = asyncio.get_running_loop().call_later(self.limits.linger, stream.close)
        try:
            await stream.write(response)
            if lingering and stream.socket is not None:
                stream.socket.shutdown(socket.SHUT_WR)
                while True:
                    await stream.read_bytes(65536, partial=True)
        except (tornado.iostream.StreamClosedError, OSError):
            pass
        finally:
            deadline.cancel()
            stream.close()
            if lingering:
                self._lingering -= 1


def _peer(stream: tornado.iostream.IOStream) -> str:
    try:
        return str(stream.socket.getpeername()[0])
    except (OSError, AttributeError, IndexError, TypeError):
        return "a closed connection"


class _GuardedStream:
    """The connection's `IOStream` as Tornado's HTTP/1 code sees it: everything passes
    through, except reading a request head.

    - The first head must be complete within `header_timeout` of connecting, or the
      stream is closed (a timer, cancelled when the head is read).
    - A head is read with a pattern that also stops just past `max_header_bytes`, so
      an oversized head is noticed while the connection is still open and can be
      answered (Tornado's `max_bytes` closes the stream itself, silently). A head that
      breaks a limit is answered 414 or 431 by the server, and Tornado's read sees a
      closed stream, which ends the connection quietly.
    """

    def __init__(self, stream: tornado.iostream.IOStream, server: LimitedHTTPServer) -> None:
        self._stream = stream
        self._server = server
        self._header_timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            server.limits.header_timeout, self._header_timed_out)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        self._stream.close()

    def read_until_regex(self, regex: bytes, max_bytes: int | None = None) -> Awaitable[bytes]:
        if regex != HEAD_END:
            return self._stream.read_until_regex(regex, max_bytes)
        limit = self._server.limits.max_header_bytes + 4  # the pattern stops before this
        inner = self._stream.read_until_regex(self._server._head_pattern, max_bytes=limit)
        outer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        def head_read(done: asyncio.Future[bytes]) -> None:
            self.cancel_header_timer()
            if outer.done():
                return
            if done.cancelled():
                outer.cancel()
                return
            error = done.exception()
            if error is not None:
                outer.set_exception(error)
                return
            head = done.result()
            if self._server.refuse_head(self._stream, head):
                outer.set_exception(tornado.iostream.StreamClosedError())
            else:
                outer.set_result(head)

        cast("asyncio.Future[bytes]", inner).add_done_callback(head_read)
        return outer


class _BodyDeadline(tornado.httputil.HTTPMessageDelegate):
    """Passes a request through to its delegate, giving its body as long as its
    declared length takes at `body_min_rate` (`ServerLimits.body_deadline`).

    It also stops the connection's header timer once the head is parsed: the guard
    does so when it reads the head, but should Tornado one day read heads another way,
    the timer must still never cut a request short (an upload, a slow answer)."""

    def __init__(self, delegate: tornado.httputil.HTTPMessageDelegate,
                 connection: tornado.httputil.HTTPConnection, limits: ServerLimits,
                 guard: _GuardedStream | None = None) -> None:
        self._delegate = delegate
        self._connection = connection
        self._limits = limits
        self._guard = guard

    def headers_received(
        self,
        start_line: tornado.httputil.RequestStartLine | tornado.httputil.ResponseStartLine,
        headers: tornado.httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        if self._guard is not None:
            self._guard.cancel_header_timer()
        declared = headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self._limits.body_timeout * self._limits.body_min_rate:
            set_timeout = getattr(self._connection, "set_body_timeout", None)
            if set_timeout is not None:
                set_timeout(self._limits.body_deadline(int(declared)))
        return self._delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return self._delegate.data_received(chunk)

    def finish(self) -> None:
        self._delegate.finish()

    def on_connection_close(self) -> None:
        self._delegate.on_connection_close()
