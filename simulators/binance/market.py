"""Market data of one simulated symbol: its price path on the market clock, klines in Binance's
16 intervals, a synthetic order book and 24h statistics."""

from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from adapters.market_data import read_candles
from domain.market import Candle, MarketRules
from domain.price_paths import (
    KLINE_INTERVALS,
    CandleReplay,
    FixedPrice,
    PricePath,
    RandomWalk,
    bucket_start,
)
from simulators.binance.config import FixedPath, RandomWalkPath, ReplayPath, SymbolConfig

INTERVAL_SECONDS = KLINE_INTERVALS  # 1M: calendar months
RANDOM_WALK_HISTORY = timedelta(days=1000)  # "listed" this long before the simulator started
REPLAY_LEAD = timedelta(days=1)  # replays start this far in the past, so klines have history


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@dataclass
class Kline:
    open_time: datetime
    close_time: datetime
    candle: Candle


@dataclass
class SymbolMarket:
    config: SymbolConfig
    path: PricePath
    listed_at: datetime
    pinned: Decimal | None = None  # set by hand, overrides the path
    rules: MarketRules = field(init=False)

    def __post_init__(self) -> None:
        c = self.config
        self.rules = MarketRules(
            symbol=c.domain_symbol,
            price_tick=c.tick_size,
            lot_step=c.step_size,
            min_quantity=c.min_qty,
            max_quantity=c.max_qty,
            min_notional=c.min_notional,
            max_notional=c.max_notional,
            min_price=c.min_price,
            max_price=c.max_price,
        )

    @classmethod
    def build(cls, config: SymbolConfig, started_at: datetime) -> SymbolMarket:
        spec = config.path
        if isinstance(spec, FixedPath):
            return cls(config, FixedPrice(spec.price), started_at)
        if isinstance(spec, RandomWalkPath):
            walk = RandomWalk(
                seed=spec.seed,
                start_price=spec.start_price,
                started_at=started_at,
                volatility=spec.volatility,
                step_seconds=spec.step_seconds,
            )
            return cls(config, walk, started_at - RANDOM_WALK_HISTORY)
        assert isinstance(spec, ReplayPath)
        replay_start = started_at - REPLAY_LEAD
        replay = CandleReplay(read_candles(spec.file), started_at=replay_start, scale=spec.scale)
        return cls(config, replay, replay_start)

    def tick(self, price: Decimal) -> Decimal:
        """Onto the price tick, never below one tick."""
        tick = self.config.tick_size
        steps = (price / tick).to_integral_value(rounding=ROUND_HALF_EVEN)
        return max(steps * tick, tick).quantize(tick)

    def price_at(self, market_now: datetime) -> Decimal:
        if self.pinned is not None:
            return self.pinned
        return self.tick(self.path.price_at(market_now))

    def range_between(self, start: datetime, end: datetime) -> tuple[Decimal, Decimal]:
        """(low, high) the path reached in [start, end), on the tick."""
        candle = self.path.candle(start, end)
        return self.tick(candle.low), self.tick(candle.high)

    # -- klines -----------------------------------------------------------------------------

    def klines(
        self,
        interval: str,
        market_now: datetime,
        *,
        start: datetime | None,
        end: datetime | None,
        limit: int,
    ) -> list[Kline]:
        """Binance semantics: with a start, the first `limit` klines opening at or after it;
        otherwise the last `limit` opening at or before `end` (default: now)."""
        last_open = _align(interval, min(end or market_now, market_now))
        if start is not None:
            first = _align(interval, start)
            if first < start:
                first = _next(interval, first)
        else:
            first = last_open
            for _ in range(limit - 1):
                first = _prev(interval, first)
        first = max(first, _align(interval, self.listed_at))
        rows: list[Kline] = []
        opened = first
        while opened <= last_open and len(rows) < limit:
            closes = _next(interval, opened)
            rows.append(Kline(opened, closes, self._candle(opened, min(closes, market_now))))
            opened = closes
        return rows

    def _candle(self, opened: datetime, until: datetime) -> Candle:
        raw = self.path.candle(opened, max(until, opened + timedelta(microseconds=1)))
        return Candle(
            open_time=opened,
            open=self.tick(raw.open),
            high=self.tick(raw.high),
            low=self.tick(raw.low),
            close=self.tick(raw.close),
            volume=raw.volume,
        )

    # -- book and statistics ----------------------------------------------------------------

    def book(
        self, price: Decimal, spread_ticks: int, limit: int, seed: int, second: int
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """Levels one tick apart around the price, quantities a pure function of
        (seed, level, second) so the book changes over time but is reproducible."""
        tick = self.config.tick_size
        step = self.config.step_size
        best_bid = max(price - spread_ticks * tick, tick)
        best_ask = price + spread_ticks * tick

        def quantity(side: str, level: int) -> Decimal:
            digest = hashlib.blake2b(
                f"{seed}:{self.config.name}:{side}:{level}:{second}".encode(), digest_size=4
            ).digest()
            lots = 1 + int.from_bytes(digest, "big") % 5000
            return max(self.config.min_qty, lots * step).quantize(step)

        bids = [
            (best_bid - i * tick, quantity("b", i)) for i in range(limit) if best_bid - i * tick > 0
        ]
        asks = [(best_ask + i * tick, quantity("a", i)) for i in range(limit)]
        return bids, asks

    def day_stats(self, market_now: datetime) -> Candle:
        """The path over the rolling 24 hours up to now."""
        return self._candle(market_now - timedelta(days=1), market_now)


def _align(interval: str, at: datetime) -> datetime:
    if interval == "1M":
        return datetime(at.year, at.month, 1, tzinfo=UTC)
    return bucket_start(at, INTERVAL_SECONDS[interval])


def _next(interval: str, opened: datetime) -> datetime:
    if interval == "1M":
        days = calendar.monthrange(opened.year, opened.month)[1]
        return opened + timedelta(days=days)
    return opened + timedelta(seconds=INTERVAL_SECONDS[interval])


def _prev(interval: str, opened: datetime) -> datetime:
    if interval == "1M":
        return _align("1M", opened - timedelta(days=1))
    return opened - timedelta(seconds=INTERVAL_SECONDS[interval])
