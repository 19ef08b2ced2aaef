"""The venues' own market lists, cached: what users may pick when they open a context."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from adapters.exchanges.binance import BinanceExchange
from adapters.exchanges.errors import ExchangeError
from adapters.exchanges.factory import ExchangeFactory
from adapters.exchanges.mercado_bitcoin import MercadoBitcoinExchange
from adapters.exchanges.paper import PaperExchange
from domain.market import MarketRules, Venue

CATALOGUE_TTL_SECONDS = 3600.0

# Candle intervals in each venue's own names.
TIMEFRAMES: dict[Venue, tuple[str, ...]] = {
    Venue.BINANCE: BinanceExchange.intervals,
    Venue.MERCADO_BITCOIN: MercadoBitcoinExchange.intervals,
    Venue.PAPER: PaperExchange.intervals,
}


class CatalogueUnavailable(Exception):
    """The venue could not be asked and nothing is cached yet."""


class MarketCatalogue:
    def __init__(
        self,
        factory: ExchangeFactory,
        *,
        ttl: float = CATALOGUE_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._factory = factory
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[Venue, tuple[float, list[MarketRules]]] = {}
        self._locks = {venue: asyncio.Lock() for venue in Venue}

    @staticmethod
    def timeframes(venue: Venue) -> tuple[str, ...]:
        return TIMEFRAMES[venue]

    async def markets(self, venue: Venue) -> list[MarketRules]:
        """Fresh within the TTL; a stale list beats none when the venue is down."""
        async with self._locks[venue]:
            cached = self._cache.get(venue)
            if cached and self._clock() - cached[0] < self._ttl:
                return cached[1]
            exchange = self._factory.connect(venue)
            try:
                markets = sorted(await exchange.markets(), key=lambda m: m.symbol)
            except ExchangeError as exc:
                if cached:
                    return cached[1]
                raise CatalogueUnavailable(f"{venue.value}: {exc.message}") from None
            finally:
                await exchange.aclose()
            self._cache[venue] = (self._clock(), markets)
            return markets
