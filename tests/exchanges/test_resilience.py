"""Retries and the circuit breaker, on a fake clock: nothing here sleeps for real."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from adapters.exchanges.errors import (
    CircuitOpen,
    ExchangeError,
    InsufficientBalance,
    RateLimited,
    TemporaryError,
)
from adapters.exchanges.resilience import (
    BreakerState,
    CircuitBreaker,
    Resilience,
    RetryPolicy,
)


@dataclass
class FakeClock:
    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Venue:
    """Answers the scripted outcomes in order: exceptions are raised, the rest returned."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    async def __call__(self) -> object:
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def resilience(clock: FakeClock, *, threshold: int = 5, draw: float = 1.0) -> Resilience:
    breaker = CircuitBreaker("binance", failure_threshold=threshold, cool_down=30, clock=clock)
    return Resilience(
        "binance",
        policy=RetryPolicy(attempts=3, base_delay=0.5, max_delay=0.8, max_retry_after=10),
        breaker=breaker,
        clock=clock,
        draw=lambda: draw,
    )


async def test_retryable_errors_are_retried_with_bounded_exponential_backoff() -> None:
    clock = FakeClock()
    venue = Venue(TemporaryError("502"), TemporaryError("timeout"), "ok")
    assert await resilience(clock).call(venue) == "ok"
    assert venue.calls == 3
    assert clock.slept == [0.5, 0.8]  # 0.5, then 1.0 capped at max_delay


async def test_jitter_keeps_at_least_half_the_delay() -> None:
    clock = FakeClock()
    await resilience(clock, draw=0.0).call(Venue(TemporaryError("x"), "ok"))
    assert clock.slept == [0.25]


async def test_gives_up_after_three_tries_with_the_last_error() -> None:
    clock = FakeClock()
    venue = Venue(TemporaryError("a"), TemporaryError("b"), TemporaryError("c"), "never")
    with pytest.raises(TemporaryError, match="c"):
        await resilience(clock).call(venue)
    assert venue.calls == 3 and len(clock.slept) == 2


@pytest.mark.parametrize("error", [InsufficientBalance("no money"), ExchangeError("plain")])
async def test_non_retryable_errors_are_raised_at_once(error: ExchangeError) -> None:
    clock = FakeClock()
    venue = Venue(error, "never")
    with pytest.raises(type(error)):
        await resilience(clock).call(venue)
    assert venue.calls == 1 and clock.slept == []


async def test_other_exceptions_are_not_retried() -> None:
    venue = Venue(KeyError("bug"), "never")
    with pytest.raises(KeyError):
        await resilience(FakeClock()).call(venue)
    assert venue.calls == 1


async def test_retry_false_tries_once_for_temporal_activities() -> None:
    clock = FakeClock()
    venue = Venue(TemporaryError("502"), "never")
    with pytest.raises(TemporaryError):
        await resilience(clock).call(venue, retry=False)
    assert venue.calls == 1 and clock.slept == []


async def test_rate_limit_waits_retry_after_and_gives_up_on_long_ones() -> None:
    clock = FakeClock()
    assert await resilience(clock).call(Venue(RateLimited("429", retry_after=7), "ok")) == "ok"
    assert clock.slept == [7]
    venue = Venue(RateLimited("418", retry_after=120), "never")
    with pytest.raises(RateLimited):
        await resilience(clock).call(venue)
    assert venue.calls == 1


async def test_breaker_opens_after_consecutive_failures_and_fails_fast() -> None:
    clock = FakeClock()
    guarded = resilience(clock, threshold=2)
    with pytest.raises(TemporaryError):
        await guarded.call(Venue(TemporaryError("1"), TemporaryError("2"), "never"))
    assert guarded.breaker.state is BreakerState.OPEN
    venue = Venue("never")
    with pytest.raises(CircuitOpen):
        await guarded.call(venue)
    assert venue.calls == 0


async def test_breaker_counts_only_consecutive_failures() -> None:
    clock = FakeClock()
    guarded = resilience(clock, threshold=2)
    await guarded.call(Venue(TemporaryError("1"), "ok"))
    with pytest.raises(InsufficientBalance):  # the venue answered: not a failure
        await guarded.call(Venue(InsufficientBalance("no")), retry=False)
    await guarded.call(Venue(TemporaryError("1"), "ok"))
    assert guarded.breaker.state is BreakerState.CLOSED


async def test_breaker_half_opens_after_cool_down_and_closes_on_success() -> None:
    clock = FakeClock()
    guarded = resilience(clock, threshold=1)
    with pytest.raises(TemporaryError):
        await guarded.call(Venue(TemporaryError("down")), retry=False)
    clock.now += 29
    with pytest.raises(CircuitOpen):
        await guarded.call(Venue("never"))
    clock.now += 1
    assert await guarded.call(Venue("back")) == "back"
    assert guarded.breaker.state is BreakerState.CLOSED


async def test_failed_probe_reopens_for_another_cool_down() -> None:
    clock = FakeClock()
    guarded = resilience(clock, threshold=3)
    for _ in range(3):
        with pytest.raises(TemporaryError):
            await guarded.call(Venue(TemporaryError("down")), retry=False)
    clock.now += 30
    probe = Venue(TemporaryError("still down"), "never")
    with pytest.raises(TemporaryError):
        await guarded.call(probe)  # the probe is one call, not three
    assert probe.calls == 1 and guarded.breaker.state is BreakerState.OPEN
    clock.now += 10
    with pytest.raises(CircuitOpen):
        await guarded.call(Venue("never"))


def test_only_one_probe_at_a_time_while_half_open() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("mb", failure_threshold=1, cool_down=5, clock=clock)
    breaker.before_call()
    breaker.record_failure()
    clock.now += 5
    breaker.before_call()  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    breaker.abandon()  # the probe was cancelled: the next call may probe
    breaker.before_call()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
