"""A flooding source is held to its rate; others are not affected; the table stays bounded."""

from tianyan.gb28181.ratelimit import RateLimiter


def test_burst_then_rate() -> None:
    limiter = RateLimiter(rate_per_s=10, burst=20)
    allowed = [limiter.allow("a", 0.0) for _ in range(30)]
    assert allowed.count(True) == 20
    assert sum(limiter.allow("a", 1.0) for _ in range(30)) == 10  # one second refills ten tokens
    assert limiter.allow("b", 1.0)  # another source is unaffected
    assert limiter.refused == 30


def test_memory_is_bounded_under_a_spoofed_flood() -> None:
    limiter = RateLimiter(rate_per_s=1, burst=1, max_sources=1000)
    for n in range(10_000):
        limiter.allow(("10.0.0.1", n), n * 0.001)
    assert len(limiter) == 1000
