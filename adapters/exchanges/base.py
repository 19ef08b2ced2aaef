"""The exchange port: one async interface that every venue (binance, mercadobitcoin, paper)
implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import ClassVar, Self

from domain.market import (
    AccountPermissions,
    Balance,
    Candle,
    Fill,
    MarketRules,
    Order,
    OrderBook,
    OrderRequest,
    Ticker,
    Venue,
)


class Exchange(ABC):
    """A venue seen through Crypteras' vocabulary. Symbols are ``BASE-QUOTE``; every failure is
    an `adapters.exchanges.errors.ExchangeError`."""

    venue: ClassVar[Venue]
    intervals: ClassVar[tuple[str, ...]]  # candle intervals, in the venue's own names

    @abstractmethod
    async def markets(self) -> list[MarketRules]:
        """Every tradable market with its rules (cached by the adapter)."""

    @abstractmethod
    async def market_rules(self, symbol: str) -> MarketRules: ...

    @abstractmethod
    async def ticker(self, symbol: str) -> Ticker: ...

    @abstractmethod
    async def tickers(self, symbols: Sequence[str] | None = None) -> list[Ticker]:
        """The tickers of `symbols` (None: every market), in as few venue calls as the venue
        allows (one read serving every market, not a call per market). Unknown symbols raise
        `UnknownSymbol`."""

    @abstractmethod
    async def order_book(self, symbol: str, limit: int = 20) -> OrderBook: ...

    @abstractmethod
    async def candles(
        self,
        symbol: str,
        interval: str,
        *,
        limit: int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Candle]:
        """Oldest first. `interval` is one of `intervals`."""

    @abstractmethod
    async def create_order(self, request: OrderRequest, *, maybe_sent: bool = False) -> Order:
        """Quantise to the market rules, refuse locally what the venue would refuse, then place.
        Idempotent on `request.client_order_id`: the one entry point that places orders.

        A placement whose answer is lost is in doubt until the venue can no longer execute it;
        it is looked up, never placed again, until then (`adapters.exchanges.placement`).
        `maybe_sent`: an earlier call with this client order id, on another adapter instance
        (a previous Temporal activity attempt, a restarted worker), may have reached the venue
        unanswered; order activities pass ``activity.info().attempt > 1`` (or True when their
        workflow tried the id before), and retries must come through here again."""

    @abstractmethod
    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order: ...

    @abstractmethod
    async def get_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order: ...

    @abstractmethod
    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders of `symbol`, or of every market with None: one venue call where the
        venue lists them all at once (Binance openOrders without a symbol), not one per
        market."""

    @abstractmethod
    async def recent_orders(self, symbol: str, limit: int = 50) -> list[Order]: ...

    @abstractmethod
    async def balances(self) -> list[Balance]: ...

    @abstractmethod
    async def fills(self, symbol: str, limit: int = 100) -> list[Fill]: ...

    @abstractmethod
    async def fills_since(
        self, symbol: str, from_id: str | None = None, limit: int = 500
    ) -> list[Fill]:
        """Oldest first: up to `limit` fills from the one whose trade id is `from_id`
        (inclusive; None: from the oldest the venue keeps). Resuming from the last fill seen
        returns it again first, so a reader never misses one between two pages."""

    async def permissions(self) -> AccountPermissions:
        """What the key may do; venues that report it (Binance: canWithdraw) override this."""
        await self.balances()  # still proves the key works
        return AccountPermissions()

    async def aclose(self) -> None:  # noqa: B027 - venues without connections need nothing
        """Release connections."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
