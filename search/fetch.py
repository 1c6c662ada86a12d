"""Fetching an image by URL for a client, without letting the URL reach inside.

A `file_url` is chosen by the API caller, and the server fetches it: without care that
is a way to read the metadata service or an intranet page (SSRF). So:

- only http and https; at most 3 redirects, followed here so that each hop is checked;
- the host is resolved once, by `CheckedResolver`, which refuses the whole host when
  any of its addresses is not public, and hands the connection only the addresses it
  checked, so a second DNS answer cannot differ from the one checked (DNS rebinding);
  numeric forms (`2130706433`, `0x7f.1`, `127.1`, `[::ffff:127.0.0.1]`) resolve to
  the address they mean and are refused like it;
- the body streams in and the fetch stops past the byte cap; the whole fetch has a
  deadline. Every failure is a `BadRequest` naming the field.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import SplitResult, quote, urljoin, urlsplit, urlunsplit

from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.httputil import HTTPInputError
from tornado.ioloop import IOLoop
from tornado.netutil import DefaultExecutorResolver, Resolver
from tornado.simple_httpclient import HTTPTimeoutError, SimpleAsyncHTTPClient

from store.errors import BadRequest

log = logging.getLogger("micropim.fetch")

MAX_REDIRECTS = 3
REDIRECTS = (301, 302, 303, 307, 308)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# 64:ff9b::/96 is NAT64: the IPv4 address sits in the low 32 bits.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, when it stands for one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    packed = address.packed
    if packed[:12] == bytes(12) and packed[12:] not in (bytes(4), bytes(3) + b"\x01"):
        return ipaddress.IPv4Address(packed[12:])  # IPv4-compatible (::a.b.c.d)
    if address in NAT64:
        return ipaddress.IPv4Address(packed[12:])
    return None


def is_public_address(address: IPAddress) -> bool:
    """True when the address is on the public internet: not loopback, private,
    link-local (169.254.169.254, the metadata service), multicast, reserved,
    unspecified, shared (100.64/10), nor an IPv6 wrapper of one of those."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            return is_public_address(inner)
    return not (
        address.is_loopback or address.is_private or address.is_link_local
        or address.is_multicast or address.is_reserved or address.is_unspecified
        or not address.is_global
    )


class CheckedResolver(Resolver):
    """Resolves a host and answers only addresses that pass `allowed`; a host with
    any refused address is refused whole, so a mixed answer cannot slip one through."""

    def initialize(self, allowed: Callable[[IPAddress], bool], base: Resolver | None = None) -> None:  # type: ignore[override]
        self.allowed = allowed
        self.base = base or DefaultExecutorResolver()

    async def resolve(  # type: ignore[override]
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[tuple[int, Any]]:
        try:
            answers = await self.base.resolve(host, port, family)
        except (OSError, UnicodeError) as exc:
            raise UnknownHost(f"cannot resolve host {host!r} ({exc})") from None
        for _family, sockaddr in answers:
            address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
            if not self.allowed(address):
                # The address itself stays in the log: told to the client, it would map
                # internal names to addresses for anyone holding a key.
                log.info("refused to connect (a media fetch or a webhook): host %r resolves to %s", host, address)
                raise BlockedAddress(f"host {host!r} is not a public address")
        return answers


class BlockedAddress(OSError):
    """Raised by `CheckedResolver`: the fetch must not connect there."""


class UnknownHost(OSError):
    """Raised by `CheckedResolver`: the name does not resolve."""


class TooLarge(HTTPInputError):
    """Raised by the fetch's own callbacks past the byte cap, to abort the transfer.

    An HTTPInputError, because Tornado's HTTP/1 connection logs any other exception a
    callback raises as "Uncaught exception" with its traceback, and lets this one pass
    to its caller, which closes the connection and logs one line at INFO: an expected
    refusal is not a crash."""


def check_url(url: str, field: str) -> str:
    """The URL to request, or a 400: http(s), a host, no credentials, no spaces or
    control characters (they could split the request line); a non-ASCII host becomes
    its IDNA form and other non-ASCII text is percent-encoded, as browsers do."""
    if any(ord(ch) <= 32 or ord(ch) == 127 for ch in url):
        raise BadRequest(f"{field}: must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number in range
        if not url.isascii():
            url = _ascii_url(parts)
            parts = urlsplit(url)
    except ValueError as exc:  # UnicodeError (a bad IDNA name) is one too
        raise BadRequest(f"{field}: not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise BadRequest(f"{field}: only http and https URLs can be fetched")
    if not parts.hostname:
        raise BadRequest(f"{field}: the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise BadRequest(f"{field}: URLs with a user name or password are not fetched")
    return url


def _ascii_url(parts: SplitResult) -> str:
    host = (parts.hostname or "").encode("idna").decode("ascii")
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    keep = "/?#[]@!$&'()*+,;=%:~"
    return urlunsplit((parts.scheme, netloc, quote(parts.path, safe=keep),
                       quote(parts.query, safe=keep), quote(parts.fragment, safe=keep)))


async def fetch_image_bytes(
    url: str,
    *,
    field: str,
    max_bytes: int,
    timeout: float,
    allowed: Callable[[IPAddress], bool],
    base_resolver: Resolver | None = None,
) -> bytes:
    """The body at `url`, following at most 3 redirects, each checked; a BadRequest
    naming `field` for anything else (bad scheme, refused address, too large, slow,
    an error status)."""
    resolver = CheckedResolver(allowed=allowed, base=base_resolver)
    client = SimpleAsyncHTTPClient(force_instance=True, resolver=resolver)
    loop = IOLoop.current()
    deadline = loop.time() + timeout  # for the whole fetch, redirects included
    try:
        current = check_url(url, field)
        for _hop in range(MAX_REDIRECTS + 1):
            left = deadline - loop.time()
            if left <= 0:
                raise BadRequest(f"{field}: no complete answer within {timeout:g} seconds")
            code, location, body = await _get(client, current, field, max_bytes, left, timeout)
            if code in REDIRECTS:
                if not location:
                    raise BadRequest(f"{field}: redirect ({code}) without a Location")
                current = check_url(urljoin(current, location), field)
                continue
            if code != 200:
                raise BadRequest(f"{field}: the server answered HTTP {code}")
            return body
        raise BadRequest(f"{field}: more than {MAX_REDIRECTS} redirects")
    finally:
        client.close()


async def _get(
    client: SimpleAsyncHTTPClient, url: str, field: str, max_bytes: int, left: float, timeout: float
) -> tuple[int, str | None, bytes]:
    """One request, with `left` seconds of the fetch's `timeout` to finish in."""
    chunks: list[bytes] = []
    received = 0
    too_large = False

    def over_cap() -> TooLarge:
        # Raising aborts the transfer; tornado reports it as a closed connection,
        # so the flag is what tells this failure from the others.
        nonlocal too_large
        too_large = True
        return TooLarge(f"body past the {max_bytes}-byte cap")

    def collect(chunk: bytes) -> None:
        nonlocal received
        received += len(chunk)
        if received > max_bytes:
            raise over_cap()
        chunks.append(chunk)

    def check_length(line: str) -> None:
        if line.lower().startswith("content-length:"):
            declared = line.split(":", 1)[1].strip()
            if declared.isdigit() and int(declared) > max_bytes:
                raise over_cap()

    request = HTTPRequest(
        url, method="GET", follow_redirects=False, request_timeout=left,
        connect_timeout=left, streaming_callback=collect, header_callback=check_length,
        decompress_response=False, validate_cert=True,
        headers={"Accept": "image/jpeg, image/png, image/webp, image/gif"},
        user_agent="MicroPIM media fetcher",
    )
    try:
        response = await client.fetch(request, raise_error=False)
    except BlockedAddress as exc:
        raise BadRequest(f"{field}: refused: {exc}") from None
    except UnknownHost as exc:
        raise BadRequest(f"{field}: {exc}") from None
    except HTTPTimeoutError:
        raise BadRequest(f"{field}: no complete answer within {timeout:g} seconds") from None
    except (TooLarge, HTTPClientError, HTTPInputError, OSError, ValueError) as exc:
        if too_large:
            raise BadRequest(f"{field}: the file is larger than {max_bytes // (1024 * 1024)} MB") from None
        reason = str(exc) or type(exc).__name__
        raise BadRequest(f"{field}: fetch failed: {reason}") from None
    if response.code in REDIRECTS:
        return response.code, response.headers.get("Location"), b""
    return response.code, None, b"".join(chunks)


@dataclass
class Fetcher:
    """How this application fetches URLs its callers give: within `timeout` seconds,
    to public addresses only unless `allow_private` (tests, intranets); `allowed`
    decides which addresses are public."""

    timeout: float = 15.0
    allow_private: bool = False
    allowed: Callable[[IPAddress], bool] = is_public_address

    async def fetch(self, url: str, *, field: str, max_bytes: int) -> bytes:
        """The body at `url`, or a BadRequest naming `field` (see `fetch_image_bytes`)."""
        return await fetch_image_bytes(
            url, field=field, max_bytes=max_bytes, timeout=self.timeout,
            allowed=(lambda address: True) if self.allow_private else self.allowed,
        )
