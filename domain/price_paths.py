"""Price paths that drive the simulated venues: real candles replayed, or a seeded random walk.

A path is a deterministic function of time (no clock, no randomness outside the seed), piecewise
constant between steps; candles of any interval are aggregated from the same steps, so a limit
order at a candle's high or low is one the path really reached. Times must be timezone-aware.
Candle buckets are aligned to the Unix epoch (weekly ones to Monday, as Binance does).
"""

from __future__ import annotations

import hashlib
import math
from abc import ABC, abstractmethod
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from fractions import Fraction
from functools import cached_property, lru_cache
from itertools import pairwise
from typing import NamedTuple

from domain.market import Candle
from domain.volatility import walk_day_variance, walk_levels

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000
_WEEK_US = 7 * 86_400 * _US
_MONDAY_US = 4 * 86_400 * _US  # 1970-01-01 was a Thursday
_CONTEXT = Context(
    prec=28, rounding=ROUND_HALF_EVEN
)  # fixed, so results never depend on the caller's
_VOLUME_STEP = Decimal("0.00000001")
_NOISE_UNIT = 1_000_000


def _us(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1)


def _at(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


# Candle intervals by their Binance names, in seconds; "1M" (0) is a calendar month and is
# aggregated by calendar, not by a fixed length.
KLINE_INTERVALS: dict[str, int] = {
    "1s": 1,
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "8h": 28800,
    "12h": 43200,
    "1d": 86400,
    "3d": 259200,
    "1w": 604800,
    "1M": 0,
}


class PricePath(ABC):
    @abstractmethod
    def price_at(self, t: datetime) -> Decimal: ...

    def step_of(self, t: datetime) -> int | None:
        """The index of the constant piece holding `t`: two times with the same index have the
        same price and nothing happens between them. None when the path cannot tell cheaply
        (the caller then treats every time as a new piece)."""
        return None

    def next_change(self, t: datetime) -> datetime | None:
        """The first time after `t` at which the price may differ from the price at `t` (None:
        never). This default, a microsecond later, means "at any time"."""
        return t + timedelta(microseconds=1)

    @abstractmethod
    def _steps(self, start_us: int, end_us: int) -> Iterator[tuple[Decimal, Decimal]]:
        """(price, volume) of the steps covering [start_us, end_us), in order."""

    def candles(self, interval_seconds: int, start: datetime, end: datetime) -> list[Candle]:
        """Candles whose open time falls in [start aligned down to the interval, end); the last
        one only aggregates the path up to `end` (a candle still forming)."""
        size = timedelta(seconds=interval_seconds)
        opened = bucket_start(start, interval_seconds)
        candles = []
        while opened < end:
            candles.append(self.candle(opened, min(opened + size, end)))
            opened += size
        return candles

    def candle(self, start: datetime, end: datetime) -> Candle:
        """One candle aggregating the path over [start, end), whatever its length."""
        start_us, end_us = _us(start), _us(end)
        if end_us <= start_us:
            raise ValueError("a candle needs end after start")
        with localcontext(_CONTEXT):
            steps = list(self._steps(start_us, end_us))
            prices = [price for price, _ in steps]
            volume = sum((v for _, v in steps), Decimal(0))
            return Candle(
                open_time=start,
                open=prices[0],
                high=max(prices),
                low=min(prices),
                close=prices[-1],
                volume=volume.quantize(_VOLUME_STEP),
            )


def bucket_start(t: datetime, interval_seconds: int) -> datetime:
    """Open time of the `interval_seconds` candle holding `t` (epoch-aligned, weeks on Monday)."""
    if interval_seconds <= 0:
        raise ValueError("interval_seconds must be positive")
    size = interval_seconds * _US
    offset = _MONDAY_US if size % _WEEK_US == 0 else 0
    return _at((_us(t) - offset) // size * size + offset)


class FixedPrice(PricePath):
    """A market that stands still, with no volume: for tests and for pinning a price by hand."""

    def __init__(self, price: Decimal) -> None:
        if price <= 0:
            raise ValueError("price must be positive")
        self.price = price

    def price_at(self, t: datetime) -> Decimal:
        return self.price

    def step_of(self, t: datetime) -> int | None:
        return 0

    def next_change(self, t: datetime) -> datetime | None:
        return None

    def _steps(self, start_us: int, end_us: int) -> Iterator[tuple[Decimal, Decimal]]:
        yield self.price, Decimal(0)


def on_grid(rows: Sequence[Candle], at: datetime) -> datetime:
    """`at` floored to the candles' own interval (a minute candle's to the whole minute): a
    replay started there has each recorded candle open where a venue's candle of that interval
    does, so the venue serves the recorded candles themselves, not blends of two."""
    length = _interval(sorted(_us(c.open_time) for c in rows))
    return _at(_us(at) // length * length)


def _interval(opens: Sequence[int]) -> int:
    """The data's own interval (µs): the smallest spacing of its sorted opens; larger ones are
    gaps."""
    return min(b - a for a, b in pairwise(opens))


class CandleReplay(PricePath):
    """Real candles replayed `speed` times faster than the wall clock, the first candle opening
    at `started_at`. Each candle is walked open -> low -> high -> close (open -> high -> low ->
    close when it fell), a quarter of its time and volume each. Before the first candle the path
    holds the first open, in gaps and after the last candle the previous close.

    With `looping` the replay never ends and never jumps: after the last candle it plays the
    data backwards (a mirror image: each candle walked in reverse, close first) to the first
    open, then forwards again, and so on; the same mirroring runs back in time before
    `started_at`. The path is then periodic (period twice `duration`) and, at both turn points,
    the price simply carries on from where it was."""

    _BLOCK = 64  # candles per block of the range index that aggregates long candles quickly

    def __init__(
        self,
        rows: Sequence[Candle],
        *,
        speed: float = 1.0,
        started_at: datetime,
        scale: Decimal = Decimal(1),
        looping: bool = False,
    ) -> None:
        if len(rows) < 2:
            raise ValueError("a replay needs at least two candles")
        if speed <= 0 or scale <= 0:
            raise ValueError("speed and scale must be positive")
        ordered = sorted(rows, key=lambda c: c.open_time)
        self._opens = [_us(c.open_time) for c in ordered]
        self._length = _interval(self._opens)
        self._quarter = self._length // 4
        self._span = self._opens[-1] + self._length - self._opens[0]  # one lap, in path time
        with localcontext(_CONTEXT):
            self._walks = [candle_walk(c, scale) for c in ordered]
            self._volumes = [c.volume / 4 for c in ordered]
        self._started_us = _us(started_at)
        self._speed = Fraction(speed)  # exact, so the time mapping is deterministic
        self._looping = looping
        # Candles on one grid of their own length (minute candles at whole minutes): the price
        # is then constant on each quarter of that grid, played forwards or mirrored.
        self._on_grid = self._length % 4 == 0 and all(
            (o - self._opens[0]) % self._length == 0 for o in self._opens
        )

    @property
    def looping(self) -> bool:
        return self._looping

    @property
    def duration(self) -> timedelta:
        """Wall time from `started_at` until the last candle closes (when looping: until the
        first turn; the data is back at its first open after twice that)."""
        return timedelta(microseconds=int(self._span / self._speed))

    def price_at(self, t: datetime) -> Decimal:
        path_us = self._path_us(_us(t))
        return next(self._played(path_us, path_us + 1))[0]

    def candle(self, start: datetime, end: datetime) -> Candle:
        """As `PricePath.candle`, but runs of whole candles are aggregated from an index, so a
        month of a looping replay costs about as much as an hour."""
        start_us, end_us = _us(start), _us(end)
        if end_us <= start_us:
            raise ValueError("a candle needs end after start")
        first = self._path_us(start_us)
        last = max(self._path_us(end_us), first + 1)
        with localcontext(_CONTEXT):
            parts = []
            for a, b, backward in self._segments(first, last):
                part = self._summary(a, b)
                parts.append(part._replace(open=part.close, close=part.open) if backward else part)
            total = _combine(parts)
            return Candle(
                open_time=start,
                open=total.open,
                high=total.high,
                low=total.low,
                close=total.close,
                volume=total.volume.quantize(_VOLUME_STEP),
            )

    def step_of(self, t: datetime) -> int | None:
        if not self._on_grid:
            return None
        return (self._path_us(_us(t)) - self._opens[0]) // self._quarter

    def next_change(self, t: datetime) -> datetime | None:
        step = self.step_of(t)
        if step is None:
            return super().next_change(t)
        # The first wall time whose path time reaches the next quarter of the grid.
        wall = math.ceil(Fraction((step + 1) * self._quarter) / self._speed)
        return _at(self._started_us + wall)

    def _path_us(self, wall_us: int) -> int:
        return self._opens[0] + int((wall_us - self._started_us) * self._speed // 1)

    def _steps(self, start_us: int, end_us: int) -> Iterator[tuple[Decimal, Decimal]]:
        start, end = self._path_us(start_us), self._path_us(end_us)
        return self._played(start, max(end, start + 1))

    def _segments(self, start: int, end: int) -> Iterator[tuple[int, int, bool]]:
        """[start, end) of the played path as pieces [a, b) of the data's own time, each with
        whether it is played backwards; a piece never crosses a turn point."""
        if not self._looping:
            yield start, end, False
            return
        origin, span = self._opens[0], self._span
        while start < end:
            lap, into = divmod(start - origin, span)
            length = min(end - start, span - into)
            if lap % 2:  # mirrored: played time into.. is data time span - into backwards
                yield origin + span - into - length, origin + span - into, True
            else:
                yield origin + into, origin + into + length, False
            start += length

    def _played(self, start: int, end: int) -> Iterator[tuple[Decimal, Decimal]]:
        for a, b, backward in self._segments(start, end):
            if backward:
                yield from reversed(list(self._path_steps(a, b)))
            else:
                yield from self._path_steps(a, b)

    def _path_steps(self, start: int, end: int) -> Iterator[tuple[Decimal, Decimal]]:
        i = bisect_right(self._opens, start) - 1
        at = start
        while at < end:
            if i < 0:  # before the first candle
                yield self._walks[0][0], Decimal(0)
                at, i = min(end, self._opens[0]), 0
                continue
            opened = self._opens[i]
            if at >= opened + self._length:  # a gap, or past the last candle
                following = self._opens[i + 1] if i + 1 < len(self._opens) else end
                if following > at:
                    yield self._walks[i][3], Decimal(0)
                at, i = max(at, min(end, following)), i + 1
                continue
            quarter = (at - opened) // self._quarter
            stop = min(end, opened + (quarter + 1) * self._quarter)
            share = Decimal(stop - at) / self._quarter
            yield self._walks[i][quarter], self._volumes[i] * share
            at = stop

    def _summary(self, start: int, end: int) -> _Summary:
        """The data played forwards over [start, end): the whole candles inside from the index,
        the partial ones (and gaps) at either edge step by step."""
        i = bisect_left(self._opens, start)  # the first candle opening in the range
        j = bisect_right(self._opens, end - self._length)  # after the last one closing in it
        if j <= i:
            return _summarise(self._path_steps(start, end))
        parts = []
        if start < self._opens[i]:
            parts.append(_summarise(self._path_steps(start, self._opens[i])))
        highs, lows, volumes = self._index
        # Gaps between whole candles hold a close, which is inside its candle's range.
        parts.append(
            _Summary(
                open=self._walks[i][0],
                high=max(self._candidates(highs, i, j)),
                low=min(self._candidates(lows, i, j)),
                close=self._walks[j - 1][3],
                volume=volumes[j] - volumes[i],
            )
        )
        closed = self._opens[j - 1] + self._length
        if closed < end:
            parts.append(_summarise(self._path_steps(closed, end)))
        return _combine(parts)

    @cached_property
    def _index(self) -> tuple[list[list[Decimal]], list[list[Decimal]], list[Decimal]]:
        """Per candle and per block of `_BLOCK` candles, the high and the low; and the running
        total of volume. Built on first use (it is only needed for long candles)."""
        with localcontext(_CONTEXT):
            highs = [max(w) for w in self._walks]
            lows = [min(w) for w in self._walks]
            volumes = [Decimal(0)]
            for quarter in self._volumes:
                volumes.append(volumes[-1] + quarter * 4)
        size = self._BLOCK
        blocks = range(0, len(highs) - size + 1, size)
        high_blocks = [max(highs[b : b + size]) for b in blocks]
        low_blocks = [min(lows[b : b + size]) for b in blocks]
        return [highs, high_blocks], [lows, low_blocks], volumes

    def _candidates(self, levels: list[list[Decimal]], i: int, j: int) -> list[Decimal]:
        """The candidates for the max (or min) over candles [i, j): whole blocks and the
        candles at either edge, at most about two blocks' worth plus one per block."""
        single, blocks = levels
        size = self._BLOCK
        first, last = -(-i // size), j // size
        if first >= last:
            return single[i:j]
        return single[i : first * size] + blocks[first:last] + single[last * size : j]


class _Summary(NamedTuple):
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


def _summarise(steps: Iterable[tuple[Decimal, Decimal]]) -> _Summary:
    prices, volumes = zip(*steps, strict=True)
    return _Summary(prices[0], max(prices), min(prices), prices[-1], sum(volumes, Decimal(0)))


def _combine(parts: Sequence[_Summary]) -> _Summary:
    return _Summary(
        open=parts[0].open,
        high=max(p.high for p in parts),
        low=min(p.low for p in parts),
        close=parts[-1].close,
        volume=sum((p.volume for p in parts), Decimal(0)),
    )


def candle_walk(
    candle: Candle, scale: Decimal = Decimal(1)
) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """The prices a candle is walked through, a quarter of its time each: open, low, high,
    close (open, high, low, close when it fell)."""
    o, h, low, c = (p * scale for p in (candle.open, candle.high, candle.low, candle.close))
    return (o, low, h, c) if c >= o else (o, h, low, c)


class RandomWalk(PricePath):
    """A seeded synthetic market: the log price is a sum of noise at scales of 4^k steps with
    amplitude ``volatility * 2^k`` (up to about two years), which moves like a random walk with
    per-step scale `volatility` (over m steps about ``volatility * sqrt(m)``) yet can be
    evaluated at any time, past or future, in constant time. Prices keep 10 significant digits;
    `start_price` is the price at `started_at`. Candles longer than 32 steps are aggregated
    from 32 samples, so their high and low are close to, not exactly, the path's extremes."""

    _SAMPLES = 32
    _SIGNIFICANT = 10

    def __init__(
        self,
        *,
        seed: int,
        start_price: Decimal,
        started_at: datetime,
        volatility: Decimal,
        step_seconds: int = 1,
        volume_per_step: Decimal = Decimal(1),
    ) -> None:
        if start_price <= 0 or volatility < 0 or step_seconds <= 0 or volume_per_step < 0:
            raise ValueError("start_price and step_seconds must be positive, the rest not negative")
        self._seed = seed
        self._start_price = start_price
        self._started_us = _us(started_at)
        self._volatility = volatility
        self._step_us = step_seconds * _US
        self._volume_per_step = volume_per_step
        self._levels = walk_levels(step_seconds)
        self._top_span = 4 ** (self._levels - 1)
        self._scale = Decimal(self._top_span * _NOISE_UNIT)

    @cached_property
    def _origin(self) -> int:
        """The noise at `started_at`; computed on first use, so building a walk costs nothing."""
        return self._noise_sum(0)

    @classmethod
    def step_volatility(cls, daily: Decimal, step_seconds: int = 1) -> Decimal:
        """The `volatility` whose walk moves `daily` (the standard deviation of the log
        return over a day) a day on average: the inverse of `daily_volatility`."""
        return Decimal(f"{float(daily) / math.sqrt(walk_day_variance(step_seconds)):.6g}")

    @classmethod
    def daily_volatility(cls, volatility: Decimal, step_seconds: int = 1) -> Decimal:
        """The expected standard deviation of the daily log return of a walk with per-step
        `volatility`, from the noise model (see `walk_day_variance`)."""
        return Decimal(f"{float(volatility) * math.sqrt(walk_day_variance(step_seconds)):.6g}")

    def price_at(self, t: datetime) -> Decimal:
        with localcontext(_CONTEXT):
            return self._price((_us(t) - self._started_us) // self._step_us)

    def step_of(self, t: datetime) -> int | None:
        return (_us(t) - self._started_us) // self._step_us

    def next_change(self, t: datetime) -> datetime | None:
        step = (_us(t) - self._started_us) // self._step_us
        return _at(self._started_us + (step + 1) * self._step_us)

    def _price(self, step: int) -> Decimal:
        noise = Decimal(self._noise_sum(step) - self._origin) / self._scale
        price = self._start_price * (self._volatility * noise).exp()
        exponent = min(price.adjusted() - self._SIGNIFICANT + 1, 0)
        return price.quantize(Decimal(1).scaleb(exponent))

    def _noise_sum(self, step: int) -> int:
        """The summed noise as an integer over `_scale` (integers keep this fast and exact)."""
        total = 0
        for level in range(self._levels):
            span = 4**level
            node, into = divmod(step, span)
            a, b = _noise(self._seed, level, node), _noise(self._seed, level, node + 1)
            total += (a * span + (b - a) * into) * 2**level * (self._top_span // span)
        return total

    def _steps(self, start_us: int, end_us: int) -> Iterator[tuple[Decimal, Decimal]]:
        first = (start_us - self._started_us) // self._step_us
        last = (end_us - 1 - self._started_us) // self._step_us
        count = last - first + 1
        volume = self._volume_per_step * Decimal(end_us - start_us) / self._step_us
        if count <= self._SAMPLES:
            picked = list(range(first, last + 1))
        else:  # evenly spaced, both ends included
            picked = [first + i * (count - 1) // (self._SAMPLES - 1) for i in range(self._SAMPLES)]
        for step in picked:
            yield self._price(step), volume / len(picked)


@lru_cache(maxsize=1 << 16)
def _noise(seed: int, level: int, node: int) -> int:
    """Uniform in [-1, 1] in millionths, a pure function of its arguments."""
    digest = hashlib.blake2b(f"{seed}:{level}:{node}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % (2 * _NOISE_UNIT + 1) - _NOISE_UNIT
