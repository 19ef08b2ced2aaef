"""Retries and a circuit breaker around venue calls.

Adapters wrap every venue call::

    resilience = Resilience("binance", breaker=breakers["binance"])
    order = await resilience.call(lambda: self._post_order(params))

- **Retries** (``retry=True``): up to `RetryPolicy.attempts` tries, only for errors whose
  `ExchangeError.retryable` is true; exponential backoff (``base_delay * 2**n``, capped at
  `max_delay`) with equal jitter (a random half of the delay). A `RateLimited` with
  `retry_after` waits at least that long; if it asks for more than `max_retry_after`, the error
  is raised at once instead. Non-retryable errors and non-exchange exceptions pass straight up.
- **Inside Temporal activities use** ``retry=False``: one try, so the activity's `RetryPolicy`
  owns retrying (with its own backoff, visible in history) and we never retry twice over.
- **Circuit breaker**, one per venue, shared by every adapter instance of that venue (the worker
  builds one per venue and injects it): after `failure_threshold` consecutive retryable failures
  it opens and every call raises `CircuitOpen` (itself retryable) without touching the venue.
  After `cool_down` seconds one call goes through as a probe (half-open; concurrent calls still
  get `CircuitOpen`): success closes the circuit, a retryable failure opens it again. A
  non-retryable error proves the venue answered, so it counts as success. Only the venue's own
  failures count: a request we could not even encode (`RequestNotSent`, e.g. a caller's key
  with a NUL in it) leaves the breaker as it was, so one user's bad input cannot shut the venue
  for everyone.

Time comes from an injectable `Clock`, so tests run with a fake clock and never sleep.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

import structlog

from adapters.exchanges.errors import CircuitOpen, ExchangeError, RateLimited, RequestNotSent

T = TypeVar("T")

log = structlog.get_logger(__name__)


class Clock(Protocol):
    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    base_delay: float = 0.25  # seconds before the first retry, doubled each time
    max_delay: float = 5.0
    max_retry_after: float = 30.0  # longer Retry-After hints are left to the caller

    def delay(self, retry: int, draw: float) -> float:
        """Wait before retry number `retry` (0-based); `draw` is uniform in [0, 1)."""
        capped = min(self.max_delay, self.base_delay * 2.0**retry)
        return capped / 2 + capped / 2 * draw


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        venue: str,
        *,
        failure_threshold: int = 5,
        cool_down: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        if failure_threshold < 1 or cool_down < 0:
            raise ValueError("failure_threshold must be >= 1 and cool_down >= 0")
        self.venue = venue
        self.failure_threshold = failure_threshold
        self.cool_down = cool_down
        self._clock = clock or SystemClock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        return self._state

    def before_call(self) -> None:
        """Raise `CircuitOpen` unless a call may go to the venue now."""
        if self._state is BreakerState.OPEN:
            if self._clock.monotonic() - self._opened_at < self.cool_down:
                raise CircuitOpen(f"{self.venue}: circuit open", venue=self.venue)
            self._change(BreakerState.HALF_OPEN)
        if self._state is BreakerState.HALF_OPEN:
            if self._probing:
                raise CircuitOpen(f"{self.venue}: probe in flight", venue=self.venue)
            self._probing = True

    def record_success(self) -> None:
        self._failures = 0
        self._probing = False
        if self._state is not BreakerState.CLOSED:
            self._change(BreakerState.CLOSED)

    def record_failure(self) -> None:
        self._failures += 1
        self._probing = False
        if self._state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
            self._opened_at = self._clock.monotonic()
            self._change(BreakerState.OPEN)

    def abandon(self) -> None:
        """The call ended without a verdict (cancelled, a bug): let the next call probe."""
        self._probing = False

    def _change(self, state: BreakerState) -> None:
        log.info("circuit_breaker", venue=self.venue, old=self._state, new=state)
        self._state = state


class Resilience:
    def __init__(
        self,
        venue: str,
        *,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Clock | None = None,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.venue = venue
        self.policy = policy or RetryPolicy()
        self._clock = clock or SystemClock()
        self.breaker = breaker or CircuitBreaker(venue, clock=self._clock)
        self._draw = draw

    async def call(self, fn: Callable[[], Awaitable[T]], *, retry: bool = True) -> T:
        attempts = self.policy.attempts if retry else 1
        for attempt in range(attempts):
            try:
                return await self._once(fn)
            except CircuitOpen:
                raise  # retrying into an open circuit only delays the caller
            except ExchangeError as error:
                delay = self._retry_delay(error, attempt, attempts)
                if delay is None:
                    raise
                log.warning(
                    "exchange_retry",
                    venue=self.venue,
                    error=error.type_name,
                    attempt=attempt + 1,
                    delay=delay,
                )
                await self._clock.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _once(self, fn: Callable[[], Awaitable[T]]) -> T:
        self.breaker.before_call()
        try:
            result = await fn()
        except (RequestNotSent, RateLimited):
            # Never left this process, or refused for our pace (one account's order limit, the
            # budget's wait for a Retry-After): no verdict on the venue, which every user shares.
            self.breaker.abandon()
            raise
        except ExchangeError as error:
            if error.retryable:
                self.breaker.record_failure()
            else:
                self.breaker.record_success()
            raise
        except BaseException:
            self.breaker.abandon()
            raise
        self.breaker.record_success()
        return result

    def _retry_delay(self, error: ExchangeError, attempt: int, attempts: int) -> float | None:
        """Seconds to wait before the next try, or None to give up now."""
        if not error.retryable or attempt + 1 >= attempts:
            return None
        delay = self.policy.delay(attempt, self._draw())
        if isinstance(error, RateLimited) and error.retry_after is not None:
            if error.retry_after > self.policy.max_retry_after:
                return None
            delay = max(delay, error.retry_after)
        return delay
