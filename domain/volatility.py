"""Daily volatility: measured on real candles, and modelled for the random walk of
`domain.price_paths.RandomWalk`, so the walk can be given the volatility of a real market."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain.market import Candle

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_SECONDS = 86_400


def realised_daily_volatility(candles: Sequence[Candle], horizon_seconds: int = 3600) -> Decimal:
    """The standard deviation of log returns between closes `horizon_seconds` apart, scaled
    to a day (by the square root of time). An hour rather than the data's own interval: one-
    and five-minute returns are inflated by the bid/ask bounce, and daily ones are too few in
    weeks of data. Pairs across a gap in the data are skipped."""
    horizon = timedelta(seconds=horizon_seconds)
    closes = {c.open_time: c.close for c in candles}
    returns = [
        math.log(closes[t + horizon] / close)
        for t, close in closes.items()
        if (t - _EPOCH) % horizon == timedelta(0) and t + horizon in closes
    ]
    if len(returns) < 2:
        raise ValueError("too few returns at that horizon to measure a volatility")
    mean = sum(returns) / len(returns)
    variance = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    return Decimal(f"{math.sqrt(variance * _DAY_SECONDS / horizon_seconds):.6g}")


def walk_levels(step_seconds: int) -> int:
    """Noise levels of a random walk: enough that the slowest one spans about two years."""
    two_years_steps = 2 * 365 * _DAY_SECONDS // step_seconds
    return next(k for k in range(64) if 4**k >= two_years_steps) + 1


def walk_day_variance(step_seconds: int) -> float:
    """Variance of a random walk's summed noise over one day (m steps), averaged over where
    the day starts. Level k interpolates linearly between uniform [-1, 1] nodes (variance
    1/3) 4^k steps apart, with amplitude 2^k; the mean squared increment of such a line over a
    lag of mu node spacings is (1/3) * (4/3 - 2 A(mu)), A being the overlap of two unit hat
    functions mu apart."""

    def overlap(mu: float) -> float:
        if mu <= 1:
            return 2 / 3 - mu**2 + mu**3 / 2
        return (2 - mu) ** 3 / 6 if mu < 2 else 0.0

    m = _DAY_SECONDS / step_seconds
    levels = range(walk_levels(step_seconds))
    return math.fsum(4.0**k * (4 / 3 - 2 * overlap(m / 4**k)) / 3 for k in levels)
