"""The paper venue with its accounts in the database: paper bots survive restarts and every
worker process trades on one paper market.

Prices stay in process: each process builds the same deterministic price paths from the
venue's epoch (the `paper_venue` row, written by the first process), so every process sees
the same price at the same time. An account's balances, orders and fills are rows
(`adapters.db.models_paper`). Every call on an account is one transaction that:

1. locks the account's row (an UPDATE: PostgreSQL's row lock, SQLite's write lock, both held
   to the commit, so one writer per account at a time whatever the process);
2. restores the account into a fresh `MatchingEngine` (`restore`: its wallets and open
   orders) — the same matching code as the in-memory venue, nothing re-implemented;
3. catches the account up with the prices since its `synced_at`: per market with open orders,
   the path's low and high since then, then the price now, as `PaperMarket.sync` does;
4. applies the call, writes back what changed (`state`) and the new `synced_at`, commits.

The catch-up is exact: the paths are pure functions of time, so the sweep since `synced_at`
is what the in-memory venue would feed an account left alone over that span. It is
idempotent: it and its fills commit together with the new `synced_at`, so a catch-up happens
once per span (a rolled-back one is redone from the same `synced_at`, identically), and a
process whose clock is behind `synced_at` sweeps nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.models_paper import PaperVenue
from adapters.exchanges.base import Exchange
from adapters.exchanges.errors import InvalidOrder
from adapters.exchanges.paper import PaperMarket, _mapped, build_paper_market
from adapters.exchanges.paper_klines import INTERVALS
from adapters.exchanges.paper_unit import FILLS, ORDERS, AccountUnit, fill_of, order_state
from domain.market import (
    Balance,
    Candle,
    Fill,
    MarketRules,
    Order,
    OrderBook,
    OrderRequest,
    OrderStatus,
    Ticker,
    Venue,
)
from domain.matching import MatchingError, OrderNotOpen, UnknownOrder

Clock = Callable[[], datetime]


class DbPaperVenue:
    """One per process: the price paths (built lazily from the stored epoch) and the
    database holding the accounts. `exchange(account)` is that account's `Exchange`."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Clock | None = None,
        data_dir: Path | None = None,
        starting_balances: Mapping[str, Decimal] | None = None,
        market: PaperMarket | None = None,
    ) -> None:
        """`starting_balances`: what a named account holds when first used. `market`: the
        prices to trade on (default: the shipped data and walks, from the stored epoch)."""
        self._sessions = sessions
        self._clock = clock or (lambda: datetime.now(UTC))
        self._data_dir = data_dir
        self._starting = dict(starting_balances or {})
        self._market: PaperMarket | None = market
        self._building = asyncio.Lock()

    def exchange(self, account: str) -> DbPaperExchange:
        return DbPaperExchange(self, account)

    async def market(self) -> PaperMarket:
        """The price paths of this process, from the epoch every process shares."""
        if self._market is not None:
            return self._market
        async with self._building:
            if self._market is None:
                started = await self._epoch()
                self._market = build_paper_market(
                    clock=self._clock, data_dir=self._data_dir, started_at=started
                )
        return self._market

    async def _epoch(self) -> datetime:
        async with self._sessions() as session, session.begin():
            dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
            await session.execute(
                dialect.insert(PaperVenue)
                .values(id=1, started_at=self._clock())
                .on_conflict_do_nothing()
            )
            return (await session.execute(select(PaperVenue.started_at))).scalar_one()

    async def deposit(self, account: str, asset: str, amount: Decimal) -> None:
        """Credit `account`'s free balance (an operator's hand, and the tests')."""
        async with self.account(account) as unit:
            unit.engine.deposit(account, asset, amount)

    @asynccontextmanager
    async def account(self, name: str, symbol: str | None = None) -> AsyncIterator[AccountUnit]:
        """One transaction on the account `name`, locked and caught up (and priced on
        `symbol`, every market if None). The body's changes to `unit.engine` are written back
        on success and on a `MatchingError` (a refusal after the catch-up keeps its fills)."""
        market = await self.market()
        async with self._sessions() as session:
            unit = await AccountUnit.open(session, market, name, self._starting)
            unit.catch_up(symbol)
            try:
                yield unit
            except MatchingError:
                await unit.save()
                await session.commit()
                raise
            await unit.save()
            await session.commit()


class DbPaperExchange(Exchange):
    """One paper account of a `DbPaperVenue`: market data as the in-memory venue gives it,
    account calls each one transaction (see the module's docstring)."""

    venue: ClassVar[Venue] = Venue.PAPER
    intervals: ClassVar[tuple[str, ...]] = tuple(INTERVALS)

    def __init__(self, venue: DbPaperVenue, account: str) -> None:
        self._venue = venue
        self.account = account

    async def _public(self) -> Exchange:
        """The in-memory venue's market data (no account state is read there)."""
        return (await self._venue.market()).exchange(self.account)

    async def markets(self) -> list[MarketRules]:
        return await (await self._public()).markets()

    async def market_rules(self, symbol: str) -> MarketRules:
        return await (await self._public()).market_rules(symbol)

    async def ticker(self, symbol: str) -> Ticker:
        return await (await self._public()).ticker(symbol)

    async def tickers(self, symbols: Sequence[str] | None = None) -> list[Ticker]:
        return await (await self._public()).tickers(symbols)

    async def order_book(self, symbol: str, limit: int = 20) -> OrderBook:
        return await (await self._public()).order_book(symbol, limit)

    async def candles(
        self,
        symbol: str,
        interval: str,
        *,
        limit: int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Candle]:
        public = await self._public()
        return await public.candles(symbol, interval, limit=limit, start=start, end=end)

    async def _known(self, symbol: str) -> str:
        market = await self._venue.market()
        with _mapped():
            return market.engine.key(symbol)

    async def create_order(self, request: OrderRequest, *, maybe_sent: bool = False) -> Order:
        # Every outcome is known when the transaction ends, so `maybe_sent` changes nothing.
        symbol = await self._known(request.symbol)
        public = (await self._venue.market()).exchange(self.account)
        quantised = public._quantised(request)
        with _mapped():
            async with self._venue.account(self.account, symbol) as unit:
                await unit.save()  # the catch-up first: an existing order as it is now
                existing = await unit.find(symbol, None, request.client_order_id)
                if existing is not None:
                    return existing
                return unit.engine.place(self.account, quantised, unit.now)

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        symbol = await self._known(symbol)
        with _mapped():
            async with self._venue.account(self.account, symbol) as unit:
                await unit.save()
                order = await unit.find(symbol, order_id, client_order_id)
                if order is None:
                    raise UnknownOrder(f"no order {order_id or client_order_id} on {symbol}")
                if order.status is OrderStatus.CANCELED:
                    return order  # canceled already: the cancel is done
                if order.status.is_final:
                    raise OrderNotOpen(f"order {order.order_id} is {order.status}")
                return unit.engine.cancel(
                    self.account, symbol, order_id=order.order_id, at=unit.now
                )

    async def get_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        symbol = await self._known(symbol)
        with _mapped():
            async with self._venue.account(self.account, symbol) as unit:
                await unit.save()
                order = await unit.find(symbol, order_id, client_order_id)
        if order is None:
            with _mapped():
                raise UnknownOrder(f"no order {order_id or client_order_id} on {symbol}")
        return order

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        symbol = await self._known(symbol) if symbol else None
        async with self._venue.account(self.account, symbol) as unit:
            return unit.engine.open_orders(self.account, symbol)

    async def recent_orders(self, symbol: str, limit: int = 50) -> list[Order]:
        """The newest `limit` orders, oldest first."""
        symbol = await self._known(symbol)
        async with self._venue.account(self.account, symbol) as unit:
            await unit.save()
            rows = await unit.session.execute(
                select(ORDERS)
                .where(ORDERS.c.account_id == unit.row_id, ORDERS.c.symbol == symbol)
                .order_by(ORDERS.c.order_id.desc())
                .limit(limit)
            )
            return [order_state(self.account, row).snapshot() for row in reversed(rows.all())]

    async def balances(self) -> list[Balance]:
        async with self._venue.account(self.account) as unit:
            return unit.engine.balances(self.account)

    async def fills(self, symbol: str, limit: int = 100) -> list[Fill]:
        """The newest `limit` fills, oldest first."""
        symbol = await self._known(symbol)
        async with self._venue.account(self.account, symbol) as unit:
            await unit.save()
            rows = await unit.session.execute(
                select(FILLS)
                .where(FILLS.c.account_id == unit.row_id, FILLS.c.symbol == symbol)
                .order_by(FILLS.c.trade_id.desc())
                .limit(limit)
            )
            return [fill_of(row) for row in reversed(rows.all())]

    async def fills_since(
        self, symbol: str, from_id: str | None = None, limit: int = 500
    ) -> list[Fill]:
        """Oldest first from trade id `from_id` (inclusive); ids are sequential per account."""
        if (from_id is not None and not from_id.isdigit()) or limit < 1:
            raise InvalidOrder("from_id is a trade id and limit positive", venue=self.venue)
        symbol = await self._known(symbol)
        async with self._venue.account(self.account, symbol) as unit:
            await unit.save()
            rows = await unit.session.execute(
                select(FILLS)
                .where(
                    FILLS.c.account_id == unit.row_id,
                    FILLS.c.symbol == symbol,
                    FILLS.c.trade_id >= int(from_id or 0),
                )
                .order_by(FILLS.c.trade_id)
                .limit(limit)
            )
            return [fill_of(row) for row in rows]
