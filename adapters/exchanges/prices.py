"""Prices the dashboard values positions at, read from the venues' public market data and
shared by every user: the last price of a market (cached for `ttl`; when the venue cannot be
read, the last one known, flagged stale), a market's opening prices of past hours or days
(the buy-and-hold comparison; a candle's open never changes once it opened, so each is kept)
and its newest candles (the web app's charts: one read every few seconds, however many charts
poll it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from adapters.exchanges.errors import ExchangeError
from adapters.exchanges.factory import ExchangeFactory
from adapters.exchanges.shared_reads import SharedReads
from domain.market import Candle, Venue

PRICE_TTL_SECONDS = 30.0
CANDLES_TTL_SECONDS = 5.0
_HISTORY_KEPT = 10_000  # past prices remembered (one per market, interval and candle asked)
STEPS = {"1h": timedelta(hours=1), "1d": timedelta(days=1)}

Market = tuple[Venue, str]  # (venue, BASE-QUOTE)


@dataclass(frozen=True)
class Quote:
    price: Decimal
    at: datetime  # when the venue was read
    stale: bool  # the venue could not be read now: the last price known


class MarketPrices:
    def __init__(
        self,
        factory: ExchangeFactory,
        *,
        ttl: float = PRICE_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._factory = factory
        self._ttl = ttl
        self._clock = clock
        self._last: dict[Market, tuple[float, Quote]] = {}
        self._past: dict[tuple[Market, str, datetime], Decimal] = {}
        self._locks = {venue: asyncio.Lock() for venue in Venue}
        self._candles: SharedReads[tuple[Market, str, int], list[Candle]] = SharedReads(
            CANDLES_TTL_SECONDS, clock
        )

    async def candles(self, market: Market, interval: str, limit: int) -> list[Candle]:
        """The market's newest `limit` candles, oldest first (the last may still be open).
        Raises the venue's ExchangeError."""

        async def read() -> list[Candle]:
            venue, symbol = market
            async with self._factory.connect(venue) as exchange:
                return await exchange.candles(symbol, interval, limit=limit)

        return await self._candles.get((market, interval, limit), read)

    async def last(self, markets: set[Market]) -> dict[Market, Quote]:
        """The last price of each market: fresh within the TTL, else read (one call per
        venue); a market neither readable nor known is left out."""
        by_venue: dict[Venue, list[str]] = {}
        for venue, symbol in markets:
            by_venue.setdefault(venue, []).append(symbol)
        await asyncio.gather(
            *(self._refresh(venue, symbols) for venue, symbols in by_venue.items())
        )
        return {m: self._last[m][1] for m in markets if m in self._last}

    async def _refresh(self, venue: Venue, symbols: list[str]) -> None:
        # One read of a venue at a time: concurrent requests share it; a slow venue holds up
        # only the requests that need its prices.
        async with self._locks[venue]:
            now = self._clock()
            due = [
                symbol
                for symbol in symbols
                if (venue, symbol) not in self._last
                or now - self._last[(venue, symbol)][0] >= self._ttl
            ]
            if due:
                await self._read(venue, due, now)

    async def _read(self, venue: Venue, symbols: list[str], now: float) -> None:
        exchange = self._factory.connect(venue)
        try:
            tickers = await exchange.tickers(sorted(symbols))
        except ExchangeError:
            for symbol in symbols:  # what was known, marked stale, until the next TTL
                cached = self._last.get((venue, symbol))
                if cached is not None:
                    quote = cached[1]
                    self._last[(venue, symbol)] = (now, Quote(quote.price, quote.at, True))
            return
        finally:
            await exchange.aclose()
        for ticker in tickers:
            if ticker.last > 0:
                self._last[(venue, ticker.symbol)] = (now, Quote(ticker.last, ticker.at, False))

    async def at_hour(self, market: Market, at: datetime) -> Decimal | None:
        """The market's opening price in the hour `at` falls in; None when the venue has no
        candle for it (the market did not trade yet) or cannot be read."""
        hour = at.replace(minute=0, second=0, microsecond=0)
        return (await self.opens(market, "1h", [hour])).get(hour)

    async def opens(
        self, market: Market, interval: str, starts: list[datetime]
    ) -> dict[datetime, Decimal]:
        """The opening price of the `interval` ("1h" or "1d") candle opening at each of
        `starts`, those not remembered read in one request; a candle the venue has not (the
        market did not trade) or cannot give now is left out, and asked again next time."""
        missing = sorted(s for s in starts if (market, interval, s) not in self._past)
        if missing:
            venue, symbol = market
            step = STEPS[interval]
            exchange = self._factory.connect(venue)
            try:
                candles = await exchange.candles(
                    symbol,
                    interval,
                    start=missing[0],
                    end=missing[-1] + step,
                    limit=int((missing[-1] - missing[0]) / step) + 1,
                )
            except ExchangeError:
                candles = []
            finally:
                await exchange.aclose()
            asked = set(missing)
            for candle in candles:
                if candle.open_time in asked:
                    if len(self._past) >= _HISTORY_KEPT:
                        self._past.pop(next(iter(self._past)))
                    self._past[(market, interval, candle.open_time)] = candle.open
        return {s: p for s in starts if (p := self._past.get((market, interval, s))) is not None}
