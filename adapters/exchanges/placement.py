"""Placing an order at most once when its answer is lost.

After a timeout, a 5xx or a dropped connection on a placement the order is *in doubt*: the
venue may have executed it, may still execute it (the request can be held up inside the venue),
or never will. It stays in doubt until the venue's acceptance window is over:

- Binance executes a signed request only while its clock is within ``timestamp + recvWindow``
  (checked on arrival and again before the matching engine), so the window ends there, plus
  the size of our measured clock offset and a margin for the order to become visible.
- Mercado Bitcoin publishes no such window; its adapter uses a bound of its own, and MB's
  refusal of a reused ``externalId`` guards a placement made after it.

While in doubt the order is looked up by client order id, with backoff: found, it is the
order; still missing once the venue's clock is past the window, it was never placed and never
will be, and only then may it be placed again (with the same client order id). The adapters
are the single place that applies this rule (`Exchange.create_order`, ``maybe_sent``).

A retry in another process (a Temporal activity's next attempt) reasons only about attempts
that were sent or given up. An attempt still waiting for the venue's budget could otherwise
sign and send later, so a placement waits at most ``PLACEMENT_MAX_WAIT`` for the budget, then
raises `RateLimited` (nothing sent). An order activity's start-to-close timeout must exceed it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from adapters.exchanges.errors import (
    CircuitOpen,
    ClockSkew,
    ExchangeError,
    RateLimited,
    TemporaryError,
)
from domain.market import Order


def outcome_unknown(error: ExchangeError) -> bool:
    """Could the venue have executed the request that failed with `error`? Rate limits, an
    open circuit and timestamp refusals are answered before anything executes."""
    return isinstance(error, TemporaryError) and not isinstance(
        error, RateLimited | CircuitOpen | ClockSkew
    )


async def settle(
    *,
    lookup: Callable[[], Awaitable[Order | None]],
    venue_now: Callable[[], Awaitable[float]],
    deadline: float,
    sleep: Callable[[float], Awaitable[None]],
    first_delay: float = 0.25,
    max_delay: float = 1.0,
) -> Order | None:
    """The order in doubt, or None once it is certain it was never placed.

    `venue_now` reads the venue's clock (seconds) and `deadline` is on that clock. The clock is
    read *before* each lookup, so a miss that follows a reading past the deadline is final."""
    delay = first_delay
    while True:
        now = await venue_now()
        found = await lookup()
        if found is not None:
            return found
        if now > deadline:
            return None
        await sleep(min(delay, deadline - now + first_delay))
        delay = min(delay * 2, max_delay)
