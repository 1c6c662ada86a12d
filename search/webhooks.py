"""Delivering change events to webhooks, in the server process, on the event loop.

One worker per enabled webhook reads the events after the last one its receiver
acknowledged (`store.webhooks`), POSTs them one at a time, in order, and waits for a
2xx before the next: the order of one webhook's events is the feed's. A failure (not
2xx, no answer within `TIMEOUT_S`, a refused connection) is retried with exponential
backoff and jitter: try n+1 waits `retry_base * 3**(n-1)` seconds times a random factor
from 1 to 1.5, 8 tries in all (about 4 hours at the default base of 10 s). After the
last the webhook is marked `failing` and the event is tried again at the slowest pace,
until it goes through (the webhook is `active` again) or the webhook has been failing
for `store.webhooks.DISABLE_AFTER` (it is disabled).

Each request carries the Standard Webhooks headers: `webhook-id` (the event id, the same
on every retry), `webhook-timestamp` (Unix seconds) and `webhook-signature`
(`v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the secret).

Attempts and acknowledgements are written in batches (every `FLUSH_S`), not one write
transaction per delivery: a crash loses at most the last batch's acknowledgements, and
those events are delivered again after the restart, with the same `webhook-id`. A
commit wakes the workers of its organization at once (`Database.event_listeners`), so
a delivery starts a few milliseconds after the change.

Webhook URLs follow the media fetch's rules (`search.fetch`): http or https, no
credentials, and a host that resolves to public addresses only, checked at every
connection, unless the server allows private URLs.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import SplitResult, urlsplit

import ssl

from tornado import httputil
from tornado.http1connection import HTTP1Connection, HTTP1ConnectionParameters
from tornado.httputil import HTTPInputError
from tornado.ioloop import IOLoop
from tornado.iostream import IOStream, StreamClosedError
from tornado.tcpclient import TCPClient

from search.fetch import BlockedAddress, CheckedResolver, IPAddress, UnknownHost, check_url, is_public_address
from store import events, webhooks
from store.db import Database
from store.errors import BadRequest
from store.values import utcnow

log = logging.getLogger("micropim.webhooks")

TRIES = 8
TIMEOUT_S = 10.0
FLUSH_S = 0.1
#: Events a worker reads at a time.
BATCH = 100
#: Requests in flight at once, over every webhook.
IN_FLIGHT = 32
#: The longest a worker sleeps without a wake-up before it looks for events again.
IDLE_S = 30.0
#: Deliveries give way to API requests: while one started less than `QUIET_S` ago, a
#: delivery waits, for at most `GIVE_WAY_MAX_S` (so a busy server still delivers, at
#: least one event per webhook in that time, and catches up when the load drops).
QUIET_S = 0.005
GIVE_WAY_MAX_S = 0.05
USER_AGENT = "MicroPIM webhooks"


def sign(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """The `webhook-signature` header of a request (Standard Webhooks, v1)."""
    digest = hmac.new(webhooks.signing_key(secret), f"{message_id}.{timestamp}.".encode() + body,
                      hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def retry_wait(retry_base: float, tries: int) -> float:
    """Seconds to wait after `tries` failed tries (1, 2, …); after the last, the
    slowest pace."""
    step = min(tries, TRIES - 1)
    return retry_base * 3 ** (step - 1) * random.uniform(1.0, 1.5)


@dataclass
class Attempt:
    http_status: int | None
    duration_ms: float
    error: str | None

    @property
    def ok(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300


@dataclass
class _Hook:
    id: int
    org_id: int
    url: str
    types: list[str]
    secret: str
    status: str
    failing_since: str | None
    delivered_id: int
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Future[None] | None = None
    connection: _Kept | None = None  # the receiver's connection, kept alive between events


@dataclass
class _Kept:
    """An open connection to a receiver, for the next request to the same origin."""

    origin: tuple[str, str, int]
    stream: IOStream


class _Answer(httputil.HTTPMessageDelegate):
    """A receiver's answer: its status and whether the connection may carry another
    request; the body is read (to reach the next answer) and dropped."""

    def __init__(self) -> None:
        self.code: int | None = None
        self.keep_alive = False

    def headers_received(self, start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
                         headers: httputil.HTTPHeaders) -> None:
        assert isinstance(start_line, httputil.ResponseStartLine)
        self.code = start_line.code
        self.keep_alive = start_line.version == "HTTP/1.1" and headers.get("Connection", "").lower() != "close"

    def data_received(self, chunk: bytes) -> None:
        pass


class WebhookSender:
    """The application's webhook deliveries; `start()` on the running loop, `stop()`
    before it ends. Until started, webhook writes are plain database writes."""

    def __init__(self, db: Database, *, allow_private: bool = False, retry_base: float = 10.0,
                 allowed: Callable[[IPAddress], bool] = is_public_address) -> None:
        self.db = db
        self.retry_base = retry_base
        self.allowed: Callable[[IPAddress], bool] = (lambda address: True) if allow_private else allowed
        self._hooks: dict[int, _Hook] = {}
        self._attempts: list[tuple[int, int | None, int, str, int | None, float, str | None]] = []
        self._acks: dict[int, int] = {}
        self._loop: IOLoop | None = None
        self._tcp = TCPClient(resolver=CheckedResolver(allowed=self.allowed))
        self._tls = ssl.create_default_context()
        self._flush_lock = asyncio.Lock()
        self._flusher: asyncio.Future[None] | None = None
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)
        self._last_request = 0.0

    # ---- life -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._loop is not None

    async def start(self) -> None:
        """Start delivering: a worker per enabled webhook, from its first undelivered event."""
        if self.running:
            return
        self._loop = IOLoop.current()
        self.db.event_listeners.append(self._heard)
        for row in await self.db.read(webhooks.deliverable):
            self._start_worker(row)
        self._flusher = asyncio.ensure_future(self._flush_every())

    async def stop(self) -> None:
        """Stop the workers and write what they did."""
        if not self.running:
            return
        self.db.event_listeners.remove(self._heard)
        for hook in list(self._hooks.values()):
            await self._stop_worker(hook.id)
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        async with self._flush_lock:
            await self._flush_now()
        self._loop = None

    def request_started(self) -> None:
        """An API request began (called by every handler, on the loop)."""
        self._last_request = time.monotonic()

    async def _give_way(self) -> None:
        """Wait for a moment without requests, or `GIVE_WAY_MAX_S`: on a machine whose
        cores the requests keep busy, a delivery's CPU would slow them (a write storm
        then delivers behind, and catches up after)."""
        deadline = time.monotonic() + GIVE_WAY_MAX_S
        while time.monotonic() - self._last_request < QUIET_S and time.monotonic() < deadline:
            await asyncio.sleep(0.001)

    def _heard(self, org_ids: set[int]) -> None:
        """After a commit, on the thread that committed: wake the organizations' workers."""
        loop = self._loop
        if loop is not None:
            loop.add_callback(self._wake, org_ids)

    def _wake(self, org_ids: set[int]) -> None:
        for hook in self._hooks.values():
            if hook.org_id in org_ids:
                hook.wake.set()

    # ---- changes from the API ---------------------------------------------------------

    async def change(self, webhook_id: int | None, fn: Callable[..., Any], *args: Any) -> Any:
        """Run the write `fn(db, *args)` that changes a webhook, with its worker stopped
        and what it acknowledged written first, then start it again from the database
        (a new URL, secret or cursor holds from the next request on), also when the
        write is refused. `webhook_id` None: a new webhook, found in the answer."""
        if not self.running:
            return await self.db.write(fn, *args)
        changed = webhook_id
        try:
            async with self._flush_lock:
                if webhook_id is not None:
                    await self._stop_worker(webhook_id)
                await self._flush_now()
                result = await self.db.write(fn, *args)
            changed = int(result["id"])
            return result
        finally:  # a refused change (a 400) leaves the webhook delivering as it was
            for row in await self.db.read(webhooks.deliverable) if changed is not None else ():
                if row["id"] == changed:
                    self._start_worker(row)

    def _start_worker(self, row: dict[str, Any]) -> None:
        hook = _Hook(id=row["id"], org_id=row["org_id"], url=row["url"], types=events.types_of(row["events"]),
                     secret=row["secret"], status=row["status"], failing_since=row["failing_since"],
                     delivered_id=row["delivered_id"])
        hook.task = asyncio.ensure_future(self._work(hook))
        self._hooks[hook.id] = hook

    async def _stop_worker(self, webhook_id: int) -> None:
        hook = self._hooks.pop(webhook_id, None)
        if hook is not None and hook.task is not None:
            hook.task.cancel()
            await asyncio.gather(hook.task, return_exceptions=True)
        if hook is not None and hook.connection is not None:
            hook.connection.stream.close()
            hook.connection = None

    async def check_url(self, url: str, field: str = "url") -> str:
        """A webhook URL as it will be requested, or a 400 naming `field`: the media
        fetch's rules, and a host that resolves, to public addresses only (unless
        private URLs are allowed). Checked again at every connection."""
        checked = check_url(url, field)
        parts = urlsplit(checked)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        try:
            await CheckedResolver(allowed=self.allowed).resolve(parts.hostname or "", port)
        except BlockedAddress as exc:
            raise BadRequest(f"{field}: refused: {exc}") from None
        except UnknownHost as exc:
            raise BadRequest(f"{field}: {exc}") from None
        return checked

    # ---- delivering ---------------------------------------------------------------------

    async def _work(self, hook: _Hook) -> None:
        try:
            while True:
                hook.wake.clear()  # before reading: a commit after the read wakes the wait
                batch = await self.db.read(events.events_after, hook.org_id, hook.delivered_id, BATCH, hook.types)
                if not batch:
                    try:
                        await asyncio.wait_for(hook.wake.wait(), IDLE_S)
                    except asyncio.TimeoutError:
                        pass
                    continue
                for event_id, body in batch:
                    if not await self._deliver(hook, event_id, body.encode()):
                        return  # disabled
                    hook.delivered_id = event_id
                    self._acks[hook.id] = event_id
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug or a database that went away: log it, stop this worker
            log.exception("webhook %d: delivery stopped", hook.id)
            self._hooks.pop(hook.id, None)
        finally:
            if hook.connection is not None:
                hook.connection.stream.close()
                hook.connection = None

    async def _deliver(self, hook: _Hook, event_id: int, body: bytes) -> bool:
        """Deliver one event, retrying until it goes through (True) or the webhook is
        disabled for failing too long (False)."""
        tries = 0
        while True:
            tries += 1
            await self._give_way()
            attempt = await self.post(hook.url, hook.secret, str(event_id), body, hook)
            self._note(hook.id, event_id, tries, attempt)
            if attempt.ok:
                if hook.status == "failing":
                    hook.status, hook.failing_since = "active", None
                    await self.db.write(webhooks.set_status, hook.id, "active", None)
                return True
            if tries >= TRIES:
                reason = f"event {event_id}: {tries} tries failed; the last: {_reason(attempt)}"
                if hook.status != "failing":
                    hook.status, hook.failing_since = "failing", utcnow()
                    await self.db.write(webhooks.set_status, hook.id, "failing", reason)
                    log.warning("webhook %d is failing: %s", hook.id, reason)
                elif _since(hook.failing_since) > webhooks.DISABLE_AFTER:
                    await self.db.write(webhooks.set_status, hook.id, "disabled",
                                        f"disabled after failing for {webhooks.DISABLE_AFTER.days} days: {reason}")
                    log.warning("webhook %d is disabled: failing since %s", hook.id, hook.failing_since)
                    self._hooks.pop(hook.id, None)
                    return False
            await asyncio.sleep(retry_wait(self.retry_base, tries))

    async def post(self, url: str, secret: str, message_id: str, body: bytes, hook: _Hook | None = None) -> Attempt:
        """One signed POST; never raises for what the receiver or the network does.
        With `hook`, its connection to the receiver is used and kept for the next."""
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "webhook-id": message_id, "webhook-timestamp": timestamp,
                   "webhook-signature": sign(secret, message_id, timestamp, body)}
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        async with self._in_flight:
            try:
                status = await asyncio.wait_for(self._request(url, headers, body, hook), TIMEOUT_S)
                if not 200 <= status < 300:
                    error = f"HTTP {status}"
            except asyncio.TimeoutError:
                error = f"no answer within {TIMEOUT_S:g} seconds"
            except BlockedAddress as exc:
                error = f"refused: {exc}"
            except UnknownHost as exc:
                error = str(exc)
            except (HTTPInputError, StreamClosedError, OSError, ValueError) as exc:
                error = f"connection failed: {exc or type(exc).__name__}"
        return Attempt(status, (time.perf_counter() - started) * 1000, error)

    async def _request(self, url: str, headers: dict[str, str], body: bytes, hook: _Hook | None) -> int:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        origin = (scheme, parts.hostname or "", parts.port or (443 if scheme == "https" else 80))
        kept = hook.connection if hook is not None else None
        if kept is not None and (kept.origin != origin or kept.stream.closed()):
            kept.stream.close()
            kept = None
        if hook is not None:
            hook.connection = None
        for reused in ((True, False) if kept is not None else (False,)):
            stream = kept.stream if reused and kept is not None else await self._tcp.connect(
                origin[1], origin[2], ssl_options=self._tls if scheme == "https" else None)
            try:
                answer = await self._exchange(stream, parts, headers, body)
            except StreamClosedError:
                stream.close()
                if reused:
                    continue  # the receiver closed the idle connection: once more on a new one
                raise
            except BaseException:  # a timeout's cancellation too: the half-used connection goes
                stream.close()
                raise
            if answer.code is None:
                stream.close()
                raise StreamClosedError()
            if hook is not None and answer.keep_alive and not stream.closed():
                hook.connection = _Kept(origin, stream)
            else:
                stream.close()
            return answer.code
        raise StreamClosedError()  # not reached: the last pass returns or raises

    async def _exchange(self, stream: IOStream, parts: SplitResult, headers: dict[str, str], body: bytes) -> _Answer:
        connection = HTTP1Connection(stream, True, HTTP1ConnectionParameters(
            no_keep_alive=False, max_header_size=64 * 1024, max_body_size=1024 * 1024, decompress=False))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sent = httputil.HTTPHeaders({**headers, "Host": parts.netloc, "User-Agent": USER_AGENT,
                                     "Content-Length": str(len(body))})
        connection.write_headers(httputil.RequestStartLine("POST", target, "HTTP/1.1"), sent, body)
        connection.finish()
        answer = _Answer()
        await connection.read_response(answer)
        return answer

    async def ping(self, webhook_id: int, org_id: int) -> dict[str, Any]:
        """Send a `ping` to the webhook now (not an event: no id in the feed); answers
        the attempt, also kept with its deliveries."""
        row = await self.db.read(webhooks.signing_row, org_id, webhook_id)
        body = json.dumps({"type": events.PING, "webhook_id": webhook_id, "occurred_at": utcnow()},
                          separators=(",", ":")).encode()
        attempt = await self.post(row["url"], row["secret"], "ping_" + secrets.token_hex(8), body)
        when = utcnow()
        await self.db.write(webhooks.record_attempts, [(webhook_id, None, 1, when, attempt.http_status,
                                                        attempt.duration_ms, attempt.error)], {})
        return {"ok": attempt.ok, "http_status": attempt.http_status, "duration_ms": round(attempt.duration_ms, 1),
                "error": attempt.error, "attempted_at": when}

    # ---- writing down what happened -----------------------------------------------------

    def _note(self, webhook_id: int, event_id: int | None, tries: int, attempt: Attempt) -> None:
        self._attempts.append((webhook_id, event_id, tries, utcnow(), attempt.http_status,
                               attempt.duration_ms, attempt.error))

    async def _flush_every(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            async with self._flush_lock:
                await self._flush_now()

    async def _flush_now(self) -> None:
        if not self._attempts and not self._acks:
            return
        attempts, acks = self._attempts, self._acks
        self._attempts, self._acks = [], {}
        try:
            await self.db.write(webhooks.record_attempts, attempts, acks)
        except Exception:  # kept for the next flush; the deliveries themselves went out
            log.exception("writing webhook deliveries failed; retrying")
            self._attempts[:0] = attempts
            for webhook_id, event_id in acks.items():
                self._acks[webhook_id] = max(event_id, self._acks.get(webhook_id, 0))


def _reason(attempt: Attempt) -> str:
    return attempt.error or f"HTTP {attempt.http_status}"


def _since(moment: str | None) -> dt.timedelta:
    if moment is None:
        return dt.timedelta(0)
    then = dt.datetime.strptime(moment, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)
    return dt.datetime.now(dt.timezone.utc) - then
