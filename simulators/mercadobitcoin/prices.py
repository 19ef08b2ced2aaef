"""Where each simulated market's price comes from, and its candles at MB's 7 resolutions."""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from adapters.market_data import read_candles
from domain.market import Candle
from domain.price_paths import CandleReplay, PricePath, RandomWalk, on_grid
from simulators.calibration import default_volatility
from simulators.mercadobitcoin.config import MarketSpec

# Resolutions with a fixed length; "1M" is calendar months (weeks open on Monday).
RESOLUTIONS: dict[str, int] = {
    "1m": 60,
    "15m": 900,
    "1h": 3600,
    "3h": 10800,
    "1d": 86400,
    "1w": 7 * 86400,
}
MONTH = "1M"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ManualPrices(PricePath):
    """A step function driven by the control API: the price set last holds until the next.
    Before the first price set, the path it replaced (`before`), if any: pinning a moving
    market keeps its history in candles."""

    def __init__(self, price: Decimal, at: datetime, before: PricePath | None = None) -> None:
        self._times = [at]
        self._prices = [price]
        self._before = before

    def set(self, price: Decimal, at: datetime) -> None:
        if at < self._times[-1]:
            raise ValueError("prices are set in time order")
        self._times.append(at)
        self._prices.append(price)

    def price_at(self, t: datetime) -> Decimal:
        if self._before is not None and t < self._times[0]:
            return self._before.price_at(t)
        return self._prices[max(bisect.bisect_right(self._times, t) - 1, 0)]

    def candle(self, start: datetime, end: datetime) -> Candle:
        first = self._times[0]
        if self._before is None or start >= first:
            return super().candle(start, end)
        early = self._before.candle(start, min(end, first))
        if end <= first:
            return early
        late = super().candle(first, end)
        return Candle(
            open_time=start,
            open=early.open,
            high=max(early.high, late.high),
            low=min(early.low, late.low),
            close=late.close,
            volume=early.volume + late.volume,
        )

    def step_of(self, t: datetime) -> int | None:
        return bisect.bisect_right(self._times, t)

    def next_change(self, t: datetime) -> datetime | None:
        first = self._times[0]
        if self._before is None or t >= first:
            return None  # it moves only when set, and whoever sets it moves the market
        change = self._before.next_change(t)
        return first if change is None else min(change, first)

    def _steps(self, start_us: int, end_us: int) -> Iterator[tuple[Decimal, Decimal]]:
        start = _EPOCH + timedelta(microseconds=start_us)
        end = _EPOCH + timedelta(microseconds=end_us)
        yield self.price_at(start), Decimal(0)
        first, last = bisect.bisect_right(self._times, start), bisect.bisect_left(self._times, end)
        for price in self._prices[first:last]:
            yield price, Decimal(0)


def build_source(spec: MarketSpec, started_at: datetime) -> PricePath:
    if spec.path == "fixed":
        return ManualPrices(spec.start_price, started_at)
    if spec.path == "random_walk":
        return RandomWalk(
            seed=spec.seed,
            start_price=spec.start_price,
            started_at=started_at,
            volatility=default_volatility() if spec.volatility is None else spec.volatility,
        )
    if spec.file is None:
        raise ValueError(f"{spec.rules.symbol}: a replay market needs a data file")
    # The simulator's clock applies the speed already: the path runs at 1x simulated time.
    rows = read_candles(spec.file)
    return CandleReplay(rows, started_at=on_grid(rows, started_at), scale=spec.scale)


def candles(path: PricePath, resolution: str, start: datetime, end: datetime) -> list[Candle]:
    """Candles from the one holding `start` up to the one holding `end`, oldest first."""
    if resolution in RESOLUTIONS:
        return path.candles(RESOLUTIONS[resolution], start, end)
    out = []
    opened = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while opened < end:
        following = (opened + timedelta(days=32)).replace(day=1)
        out.append(path.candle(opened, min(following, end)))
        opened = following
    return out
