"""Token buckets per client IP: the pure class with a hand-moved clock, then over HTTP."""

from __future__ import annotations

import math
from typing import Any

import pytest

import micropim
from handlers.ratelimit import RateLimiter, TokenBucket
from search.model import ImageModels
from tests.conftest import FakeClock

READ_LIMIT = 5
WRITE_LIMIT = 2


def drain(bucket: TokenBucket) -> int:
    taken = 0
    while bucket.take():
        taken += 1
        assert taken <= bucket.capacity, "a bucket gave more than its capacity"
    return taken


# ---- TokenBucket -------------------------------------------------------------------------

def test_a_new_bucket_is_full(clock: FakeClock) -> None:
    bucket = TokenBucket(10, clock=clock)
    assert bucket.remaining == 10
    assert bucket.reset_after() == 0
    assert bucket.is_full()


@pytest.mark.parametrize("capacity", [1, 2, 5, 60, 300, 1200])
def test_bursts_up_to_capacity_and_no_further(clock: FakeClock, capacity: int) -> None:
    bucket = TokenBucket(capacity, clock=clock)
    assert drain(bucket) == capacity
    assert bucket.remaining == 0
    assert bucket.take() is False
    assert bucket.take() is False  # refusing does not go into debt or give credit


def test_remaining_counts_down_by_one_per_take(clock: FakeClock) -> None:
    bucket = TokenBucket(4, clock=clock)
    seen = []
    for _ in range(4):
        assert bucket.take()
        seen.append(bucket.remaining)
    assert seen == [3, 2, 1, 0]


def test_refills_capacity_tokens_per_period(clock: FakeClock) -> None:
    bucket = TokenBucket(60, period=60, clock=clock)  # one token a second
    drain(bucket)
    clock.advance(0.5)
    assert bucket.take() is False
    clock.advance(0.5)
    assert bucket.take() is True
    assert bucket.take() is False
    clock.advance(10)
    assert drain(bucket) == 10


def test_refill_is_proportional_to_elapsed_time(clock: FakeClock) -> None:
    bucket = TokenBucket(6, period=60, clock=clock)  # one token per 10 s
    drain(bucket)
    clock.advance(25)
    assert bucket.remaining in (0, 2)  # `remaining` is computed at the last take
    assert drain(bucket) == 2
    clock.advance(4.9)  # the half token left over from 25 s plus 4.9 s is not yet one
    assert bucket.take() is False
    clock.advance(0.2)
    assert bucket.take() is True


def test_refill_never_exceeds_capacity(clock: FakeClock) -> None:
    bucket = TokenBucket(3, clock=clock)
    drain(bucket)
    clock.advance(10_000)
    assert bucket.is_full()
    assert drain(bucket) == 3


def test_a_custom_period(clock: FakeClock) -> None:
    bucket = TokenBucket(2, period=1.0, clock=clock)
    drain(bucket)
    clock.advance(0.5)
    assert bucket.take() is True
    assert bucket.take() is False


def test_retry_after_is_the_wait_for_one_token(clock: FakeClock) -> None:
    bucket = TokenBucket(6, period=60, clock=clock)
    drain(bucket)
    assert bucket.retry_after() == 10
    clock.advance(3)
    bucket.take()  # refused, but brings the bucket up to date
    assert bucket.retry_after() == 7
    clock.advance(6.5)
    bucket.take()
    assert bucket.retry_after() == 1  # 0.5 s, rounded up to a whole second


def test_retry_after_is_at_least_one_second(clock: FakeClock) -> None:
    bucket = TokenBucket(1200, period=60, clock=clock)  # 20 tokens a second
    drain(bucket)
    assert bucket.retry_after() == 1


CAPACITIES = [*range(1, 130), 300, 599, 1200, 7919]


def test_waiting_retry_after_always_suffices_and_is_minimal() -> None:
    """Floating point must not make a client that obeys Retry-After get a second 429."""
    for capacity in CAPACITIES:
        clock = FakeClock()
        bucket = TokenBucket(capacity, clock=clock)
        drain(bucket)
        wait = bucket.retry_after()
        assert wait == max(1, math.ceil(60 / capacity - 1e-9)), capacity
        if wait > 1:
            clock.advance(wait - 1)
            assert bucket.take() is False, f"capacity {capacity}: Retry-After longer than needed"
            clock.advance(1)
        else:
            clock.advance(wait)
        assert bucket.take() is True, f"capacity {capacity}: refused after waiting Retry-After"


@pytest.mark.parametrize("steps", [2, 3, 7, 10])
def test_retry_after_suffices_when_the_wait_is_spent_in_refused_requests(steps: int) -> None:
    """A client retrying early is refused each time, then served at Retry-After."""
    for capacity in CAPACITIES:
        clock = FakeClock()
        bucket = TokenBucket(capacity, clock=clock)
        drain(bucket)
        wait = bucket.retry_after()
        start = clock.now
        for step in range(1, steps):
            clock.now = start + wait * step / steps
            if clock.now - start < 60 / capacity - 1e-6:
                assert bucket.take() is False, capacity
        clock.now = start + wait
        assert bucket.take() is True, f"capacity {capacity}: refused after waiting Retry-After"


@pytest.mark.parametrize("capacity", [1, 3, 7, 60, 299, 1200])
def test_waiting_reset_after_fills_the_bucket(capacity: int) -> None:
    clock = FakeClock()
    bucket = TokenBucket(capacity, clock=clock)
    for taken in range(1, capacity + 1):
        assert bucket.take()
        if taken in (1, capacity):
            assert bucket.reset_after() == math.ceil(taken * 60 / capacity - 1e-9)
    clock.advance(bucket.reset_after())
    assert bucket.is_full()
    assert drain(bucket) == capacity


def test_reset_after_counts_from_a_partly_refilled_bucket(clock: FakeClock) -> None:
    bucket = TokenBucket(6, period=60, clock=clock)
    drain(bucket)
    assert bucket.reset_after() == 60
    clock.advance(15)
    bucket.take()  # takes the 1.5th token: 0.5 left
    assert bucket.reset_after() == 55


def test_the_clock_is_only_read_through_the_injected_function() -> None:
    calls = []

    def clock() -> float:
        calls.append(1)
        return 50.0

    bucket = TokenBucket(2, clock=clock)
    bucket.take()
    assert calls, "the bucket must use the injected clock"


# ---- RateLimiter -------------------------------------------------------------------------

def test_limiter_has_separate_read_and_write_buckets(clock: FakeClock) -> None:
    limiter = RateLimiter(5, 2, clock)
    read, write = limiter.bucket("10.0.0.1", False), limiter.bucket("10.0.0.1", True)
    assert (read.capacity, write.capacity) == (5, 2)
    assert drain(write) == 2
    assert limiter.bucket("10.0.0.1", True).take() is False
    assert limiter.bucket("10.0.0.1", False).take() is True  # reads still allowed


def test_limiter_keeps_one_bucket_per_ip(clock: FakeClock) -> None:
    limiter = RateLimiter(3, 1, clock)
    assert limiter.bucket("10.0.0.1", False) is limiter.bucket("10.0.0.1", False)
    drain(limiter.bucket("10.0.0.1", False))
    drain(limiter.bucket("10.0.0.1", True))
    assert limiter.bucket("10.0.0.2", False).take() is True
    assert limiter.bucket("10.0.0.2", True).take() is True
    assert limiter.bucket("2001:db8::1", False).remaining == 3
    assert limiter.bucket("10.0.0.1", False).take() is False


def test_limiter_buckets_use_the_limiters_clock(clock: FakeClock) -> None:
    limiter = RateLimiter(60, 60, clock)
    drain(limiter.bucket("10.0.0.1", True))
    clock.advance(1)
    assert limiter.bucket("10.0.0.1", True).take() is True


def test_limiter_forgets_only_idle_clients_when_full(clock: FakeClock) -> None:
    limiter = RateLimiter(3, 1, clock)
    limiter.MAX_CLIENTS = 4
    drain(limiter.bucket("busy", True))
    for n in range(3):
        limiter.bucket(f"idle-{n}", False)
    limiter.bucket("newcomer", False)  # over the cap: idle (full) buckets are dropped
    assert ("idle-0", False) not in limiter.buckets
    # The client that spent its tokens is not given a fresh bucket by the eviction.
    assert limiter.bucket("busy", True).take() is False


# ---- over HTTP ---------------------------------------------------------------------------

@pytest.fixture
def settings(db_path: str, clock: FakeClock, image_models: ImageModels) -> micropim.Settings:
    return micropim.Settings(database=db_path, read_limit=READ_LIMIT, write_limit=WRITE_LIMIT, clock=clock,
                             public_url="http://pim.test", image_models=image_models)


def rate_headers(response: Any) -> tuple[str, str, str]:
    return (response.headers["RateLimit-Limit"], response.headers["RateLimit-Remaining"],
            response.headers["RateLimit-Reset"])


async def test_writes_run_out_before_reads(api: Any, clock: FakeClock) -> None:
    first = await api.post("/api/brands", {"name": "One"})
    assert first.code == 201
    assert rate_headers(first) == ("2", "1", "30")  # 2 per minute: one token per 30 s
    second = await api.post("/api/brands", {"name": "Two"})
    assert second.code == 201
    assert rate_headers(second) == ("2", "0", "60")

    refused = await api.post("/api/brands", {"name": "Three"})
    assert refused.code == 429
    assert refused.body == {"status": 0, "data": None,
                            "error": "rate limit exceeded: too many write requests; retry later"}
    assert refused.headers["Retry-After"] == "30"
    assert rate_headers(refused) == ("2", "0", "60")
    for method in ("PUT", "PATCH", "DELETE"):
        assert (await api.call(method, "/api/brands/1", {} if method != "DELETE" else None)).code == 429

    listed = await api.get("/api/brands")  # reads have their own bucket
    assert listed.code == 200
    assert rate_headers(listed) == ("5", "4", "12")
    assert [b["name"] for b in listed.data["brands"]] == ["One", "Two"]  # "Three" not written


async def test_reads_run_out_too(api: Any) -> None:
    for n in range(READ_LIMIT):
        response = await api.get("/api/channels")
        assert response.code == 200
        assert response.headers["RateLimit-Remaining"] == str(READ_LIMIT - n - 1)
    refused = await api.get("/api/channels")
    assert refused.code == 429
    assert refused.body == {"status": 0, "data": None,
                            "error": "rate limit exceeded: too many read requests; retry later"}
    assert refused.headers["Retry-After"] == "12"  # 5 per minute: one per 12 s
    assert (await api.post("/api/brands", {"name": "Writes still work"})).code == 201


async def test_advancing_the_clock_refills(api: Any, clock: FakeClock) -> None:
    for _ in range(WRITE_LIMIT):
        await api.post("/api/warehouses", {"name": f"W{clock.now}", "code": f"W{int(clock.now)}"})
        clock.advance(0.001)
    refused = await api.post("/api/brands", {"name": "Later"})
    assert refused.code == 429
    wait = int(refused.headers["Retry-After"])
    clock.advance(wait - 1)
    assert (await api.post("/api/brands", {"name": "Later"})).code == 429
    clock.advance(1)
    allowed = await api.post("/api/brands", {"name": "Later"})
    assert allowed.code == 201
    assert allowed.data["name"] == "Later"
    assert (await api.post("/api/brands", {"name": "Again"})).code == 429
    clock.advance(60)
    assert (await api.post("/api/brands", {"name": "Again"})).code == 201
    assert (await api.post("/api/brands", {"name": "Again 2"})).code == 201


async def test_the_limit_applies_before_the_key_check(api: Any, anon: Any) -> None:
    """Unauthenticated requests spend tokens too, so keys cannot be guessed at full speed."""
    for _ in range(READ_LIMIT):
        assert (await anon.get("/api/products", key="mpk_guess")).code == 401
    refused = await api.get("/api/products")
    assert refused.code == 429
    assert refused.error == "rate limit exceeded: too many read requests; retry later"


async def test_unknown_paths_spend_read_tokens(api: Any) -> None:
    for _ in range(READ_LIMIT):
        assert (await api.get("/api/nothing-here")).code == 404
    assert (await api.get("/api/nothing-here")).code == 429


async def test_forwarded_for_is_ignored_without_trust_proxy(api: Any) -> None:
    for n in range(WRITE_LIMIT):
        response = await api.post("/api/brands", {"name": f"B{n}"},
                                  headers={"X-Forwarded-For": f"203.0.113.{n}"})
        assert response.code == 201
    spoofed = await api.post("/api/brands", {"name": "Spoofed"},
                             headers={"X-Forwarded-For": "198.51.100.7", "X-Real-Ip": "198.51.100.8"})
    assert spoofed.code == 429


async def test_every_client_shares_nothing_with_another_ip(api: Any, app: Any) -> None:
    limiter: RateLimiter = app.rate_limiter
    drain(limiter.bucket("192.0.2.1", True))
    drain(limiter.bucket("192.0.2.1", False))
    assert (await api.post("/api/brands", {"name": "Mine"})).code == 201
    assert (await api.get("/api/brands")).code == 200
