"""Market data of one simulated symbol: its price path on the market clock, klines in Binance's
16 intervals, a synthetic order book and 24h statistics.

Prices are computed lazily: a market's path is evaluated only when the market is asked for (or
holds orders and the clock moved to a new step of its path), never for the other markets of the
venue. A price pinned by hand holds from the pin to the unpin and shows in klines, statistics
and avgPrice over exactly that time."""

from __future__ import annotations

import bisect
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
    on_grid,
)
from simulators.binance.config import FixedPath, RandomWalkPath, ReplayPath, SymbolConfig
from simulators.calibration import default_volatility

INTERVAL_SECONDS = KLINE_INTERVALS  # 1M: calendar months
RANDOM_WALK_HISTORY = timedelta(days=1000)  # "listed" this long before the simulator started
REPLAY_LEAD = timedelta(days=1)  # replays start this far in the past, so klines have history
_TINY = timedelta(microseconds=1)


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@dataclass
class Kline:
    open_time: datetime
    close_time: datetime
    candle: Candle


@dataclass
class Pin:
    """A price set by hand over [start, end); end None: still pinned."""

    start: datetime
    end: datetime | None
    price: Decimal


@dataclass
class SymbolMarket:
    config: SymbolConfig
    path: PricePath
    listed_at: datetime
    rules: MarketRules = field(init=False)
    evaluations: int = 0  # times the path was computed: what laziness saves, counted
    synced_at: datetime | None = None  # market time the venue last moved to; None: never priced
    _synced_step: int | None = None
    _pins: list[Pin] = field(default_factory=list)  # oldest first, never overlapping

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
            volatility = spec.volatility
            if volatility is None:  # calibrated on the real candles
                volatility = default_volatility(spec.step_seconds)
            walk = RandomWalk(
                seed=spec.seed,
                start_price=spec.start_price,
                started_at=started_at,
                volatility=volatility,
                step_seconds=spec.step_seconds,
            )
            return cls(config, walk, started_at - RANDOM_WALK_HISTORY)
        assert isinstance(spec, ReplayPath)
        rows = read_candles(spec.file)
        replay_start = on_grid(rows, started_at) - REPLAY_LEAD
        replay = CandleReplay(rows, started_at=replay_start, scale=spec.scale)
        return cls(config, replay, replay_start)

    def tick(self, price: Decimal) -> Decimal:
        """Onto the price tick, never below one tick."""
        tick = self.config.tick_size
        steps = (price / tick).to_integral_value(rounding=ROUND_HALF_EVEN)
        return max(steps * tick, tick).quantize(tick)

    # -- the price now, pins and catching up with the clock ---------------------------------

    @property
    def pinned(self) -> Decimal | None:
        last = self._pins[-1] if self._pins else None
        return last.price if last is not None and last.end is None else None

    def pin(self, price: Decimal | None, at: datetime) -> None:
        """Hold `price` from `at` on (None: follow the path again from `at`)."""
        if self._pins and self._pins[-1].end is None:
            if self._pins[-1].start >= at:
                self._pins.pop()  # replaced before it lasted any time
            else:
                self._pins[-1].end = at
        if price is not None:
            self._pins.append(Pin(at, None, price))
        self.synced_at, self._synced_step = at, self.path.step_of(at)

    def price_at(self, market_now: datetime) -> Decimal:
        if (pinned := self.pinned) is not None:
            return pinned
        self.evaluations += 1
        return self.tick(self.path.price_at(market_now))

    def advance(self, market_now: datetime) -> list[Decimal]:
        """The prices the market went through since the venue last moved it, ending with the
        price now: the path's low and high in between (so resting orders it touched fill),
        nothing when the path could not have moved (same step, or pinned)."""
        last, step = self.synced_at, self.path.step_of(market_now)
        if last is not None and (
            market_now <= last
            or self.pinned is not None
            or (step is not None and step == self._synced_step)
        ):
            return []
        self.synced_at, self._synced_step = market_now, step
        if last is None:
            return [self.price_at(market_now)]
        return [*self.range_between(last, market_now), self.price_at(market_now)]

    def next_change(self) -> datetime | None:
        """When the market may next move after its last sync (None: not before a new pin)."""
        if self.synced_at is None or self.pinned is not None:
            return None
        return self.path.next_change(self.synced_at)

    def range_between(self, start: datetime, end: datetime) -> tuple[Decimal, Decimal]:
        """(low, high) the path reached in [start, end), on the tick."""
        self.evaluations += 1
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
        """The market over [opened, until): the path, except where a pin held the price."""
        until = max(until, opened + _TINY)
        parts: list[Candle] = []
        at = opened
        first = max(bisect.bisect_right(self._pins, opened, key=lambda p: p.start) - 1, 0)
        for pin in self._pins[first:]:
            if pin.start >= until:
                break
            start, end = max(pin.start, opened), min(pin.end or until, until)
            if end <= at:
                continue
            if at < start:
                parts.append(self._path_candle(at, start))
            parts.append(
                Candle(
                    open_time=start,
                    open=pin.price,
                    high=pin.price,
                    low=pin.price,
                    close=pin.price,
                    volume=Decimal(0),
                )
            )
            at = end
        if at < until:
            parts.append(self._path_candle(at, until))
        return Candle(
            open_time=opened,
            open=parts[0].open,
            high=max(p.high for p in parts),
            low=min(p.low for p in parts),
            close=parts[-1].close,
            volume=sum((p.volume for p in parts), Decimal(0)),
        )

    def _path_candle(self, start: datetime, end: datetime) -> Candle:
        self.evaluations += 1
        raw = self.path.candle(start, end)
        return Candle(
            open_time=start,
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
