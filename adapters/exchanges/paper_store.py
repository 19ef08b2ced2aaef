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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Row, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.models import Base
from adapters.db.models_paper import PaperVenue
from adapters.exchanges.base import Exchange
from adapters.exchanges.errors import InvalidOrder
from adapters.exchanges.paper import PaperMarket, _mapped, build_paper_market
from adapters.exchanges.paper_klines import INTERVALS
from domain.market import (
    Balance,
    Candle,
    Fill,
    MarketRules,
    Order,
    OrderBook,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    Ticker,
    Venue,
)
from domain.matching import (
    AccountState,
    InvalidRequest,
    MatchingEngine,
    MatchingError,
    OrderNotOpen,
    UnknownOrder,
)
from domain.matching_state import OrderState, Wallet

ID_BLOCK = 10**10  # ids of account n: n * ID_BLOCK + 1, + 2, ...
# Core statements on the tables (adapters.db.models_paper): a call is several statements, and
# the ORM's per-statement work was most of its cost.
_ACCOUNTS = Base.metadata.tables["paper_accounts"]
_BALANCES = Base.metadata.tables["paper_balances"]
_ORDERS = Base.metadata.tables["paper_orders"]
_FILLS = Base.metadata.tables["paper_fills"]
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
    ) -> None:
        """`starting_balances`: what a named account holds when first used."""
        self._sessions = sessions
        self._clock = clock or (lambda: datetime.now(UTC))
        self._data_dir = data_dir
        self._starting = dict(starting_balances or {})
        self._market: PaperMarket | None = None
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
    async def account(self, name: str, symbol: str | None = None) -> AsyncIterator[_Unit]:
        """One transaction on the account `name`, locked and caught up (and priced on
        `symbol`, every market if None). The body's changes to `unit.engine` are written back
        on success and on a `MatchingError` (a refusal after the catch-up keeps its fills)."""
        market = await self.market()
        async with self._sessions() as session:
            unit = await _Unit.open(session, market, name, self._starting)
            unit.catch_up(symbol)
            try:
                yield unit
            except MatchingError:
                await unit.save()
                await session.commit()
                raise
            await unit.save()
            await session.commit()


@dataclass
class _Unit:
    """An account loaded for one transaction: the engine holding it, and what was written."""

    session: AsyncSession
    market: PaperMarket
    name: str
    row_id: int
    synced_at: datetime
    engine: MatchingEngine
    now: datetime
    written_orders: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    written_wallets: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    written_fills: int = 0

    @classmethod
    async def open(
        cls,
        session: AsyncSession,
        market: PaperMarket,
        name: str,
        starting: Mapping[str, Decimal],
    ) -> _Unit:
        now = market.clock()
        row = await _lock(session, name)
        if row is None:
            await _create(session, name, now, starting if name else {})
            row = await _lock(session, name)
            assert row is not None
        row_id, synced_at, orders_placed, trades_made = row
        shared = market.engine
        engine = MatchingEngine(
            shared.markets.values(),
            fees=shared.fees,
            slippage=shared.slippage,
            partial_fill_ratio=shared.partial_fill_ratio,
        )
        unit = cls(session, market, name, row_id, synced_at, engine, now)
        wallets = {
            b.asset: Wallet(free=b.free, locked=b.locked)
            for b in await session.execute(
                select(_BALANCES).where(_BALANCES.c.account_id == row_id)
            )
        }
        orders = [
            _state(name, o)
            for o in await session.execute(
                select(_ORDERS)
                .where(_ORDERS.c.account_id == row_id, _ORDERS.c.open.is_(True))
                .order_by(_ORDERS.c.order_id)
            )
        ]
        base = row_id * ID_BLOCK
        engine.restore(
            name,
            AccountState(wallets, orders, [], base + orders_placed, base + trades_made),
        )
        unit.written_wallets = {a: (w.free, w.locked) for a, w in wallets.items()}
        unit.written_orders = {o.order_id: _changes(o) for o in orders}
        return unit

    def catch_up(self, symbol: str | None) -> None:
        """Resting orders meet the prices since `synced_at`, then every market (or `symbol`'s)
        is priced at now."""
        now, since = self.now, self.synced_at
        swept = {o.symbol for o in self.engine.state(self.name).orders if not o.status.is_final}
        priced = set(self.engine.markets) if symbol is None else {symbol}
        for name in sorted(swept | priced):
            path = self.market.path(name)
            if name in swept and since < now:
                span = path.candle(since, now)
                self.engine.set_price(name, span.low, now)
                self.engine.set_price(name, span.high, now)
            self.engine.set_price(name, path.price_at(now), now)
        self.synced_at = max(since, now)

    async def save(self) -> None:
        """Write what changed since the last save: wallets, orders, new fills, the account."""
        state = self.engine.state(self.name)
        for asset, wallet in state.wallets.items():
            values = (wallet.free, wallet.locked)
            if asset not in self.written_wallets:
                await self.session.execute(
                    insert(_BALANCES).values(
                        account_id=self.row_id, asset=asset, free=values[0], locked=values[1]
                    )
                )
            elif self.written_wallets[asset] != values:
                await self.session.execute(
                    update(_BALANCES)
                    .where(_BALANCES.c.account_id == self.row_id, _BALANCES.c.asset == asset)
                    .values(free=values[0], locked=values[1])
                )
            self.written_wallets[asset] = values
        for order in state.orders:
            changes = _changes(order)
            if order.order_id not in self.written_orders:
                await self.session.execute(insert(_ORDERS).values(**_row(self.row_id, order)))
            elif self.written_orders[order.order_id] != changes:
                await self.session.execute(
                    update(_ORDERS)
                    .where(_ORDERS.c.order_id == int(order.order_id))
                    .values(**_row(self.row_id, order))
                )
            self.written_orders[order.order_id] = changes
        for fill in state.fills[self.written_fills :]:
            await self.session.execute(
                insert(_FILLS).values(
                    trade_id=int(fill.trade_id),
                    account_id=self.row_id,
                    order_id=int(fill.order_id),
                    symbol=fill.symbol,
                    side=fill.side.value,
                    price=fill.price,
                    quantity=fill.quantity,
                    fee=fill.fee,
                    fee_asset=fill.fee_asset,
                    maker=fill.trade_id in self.engine.maker_trades,
                    at=fill.at,
                )
            )
        self.written_fills = len(state.fills)
        base = self.row_id * ID_BLOCK
        await self.session.execute(
            update(_ACCOUNTS)
            .where(_ACCOUNTS.c.id == self.row_id)
            .values(
                synced_at=self.synced_at,
                orders_placed=state.next_order - base,
                trades_made=state.next_trade - base,
            )
        )

    async def find(
        self, symbol: str, order_id: str | None, client_order_id: str | None
    ) -> Order | None:
        """The newest matching order as stored (call after `save`)."""
        if order_id is None and client_order_id is None:
            raise InvalidRequest("give order_id or client_order_id")
        query = select(_ORDERS).where(
            _ORDERS.c.account_id == self.row_id, _ORDERS.c.symbol == symbol
        )
        if order_id is not None:
            if not order_id.isdigit():
                return None
            query = query.where(_ORDERS.c.order_id == int(order_id))
        if client_order_id is not None:
            query = query.where(_ORDERS.c.client_order_id == client_order_id)
        result = await self.session.execute(query.order_by(_ORDERS.c.order_id.desc()).limit(1))
        row = result.one_or_none()
        return None if row is None else _state(self.name, row).snapshot()


async def _lock(session: AsyncSession, name: str) -> tuple[int, datetime, int, int] | None:
    """Lock the account's row (a write: taken at once on SQLite too, whose driver begins the
    transaction only at a write) and read it."""
    result = await session.execute(
        update(_ACCOUNTS)
        .where(_ACCOUNTS.c.name == name)
        .values(synced_at=_ACCOUNTS.c.synced_at)
        .returning(
            _ACCOUNTS.c.id,
            _ACCOUNTS.c.synced_at,
            _ACCOUNTS.c.orders_placed,
            _ACCOUNTS.c.trades_made,
        )
    )
    row = result.one_or_none()
    return None if row is None else (row[0], row[1], row[2], row[3])


async def _create(
    session: AsyncSession, name: str, now: datetime, starting: Mapping[str, Decimal]
) -> None:
    """The account with its starting balances, unless another process just created it."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    created = await session.execute(
        dialect.insert(_ACCOUNTS)
        .values(name=name, synced_at=now, orders_placed=0, trades_made=0, created_at=now)
        .on_conflict_do_nothing()
        .returning(_ACCOUNTS.c.id)
    )
    row_id = created.scalar_one_or_none()
    if row_id is not None and starting:
        await session.execute(
            insert(_BALANCES),
            [
                {"account_id": row_id, "asset": a, "free": amount, "locked": Decimal(0)}
                for a, amount in starting.items()
            ],
        )


def _changes(order: OrderState) -> tuple[Any, ...]:
    return (
        order.status,
        order.filled,
        order.quote,
        order.locked,
        dict(order.fees),
        order.working_since,
        order.updated_at,
    )


def _row(account_id: int, order: OrderState) -> dict[str, Any]:
    return {
        "order_id": int(order.order_id),
        "account_id": account_id,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "status": order.status.value,
        "open": not order.status.is_final,
        "quantity": order.quantity,
        "price": order.price,
        "stop_price": order.stop_price,
        "lock_price": order.lock_price,
        "filled": order.filled,
        "quote": order.quote,
        "locked": order.locked,
        "fees": {asset: str(fee) for asset, fee in order.fees.items()},
        "working_since": order.working_since,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
    }


def _state(account: str, row: Row[Any]) -> OrderState:
    return OrderState(
        account=account,
        order_id=str(row.order_id),
        client_order_id=row.client_order_id,
        symbol=row.symbol,
        side=Side(row.side),
        type=OrderType(row.type),
        quantity=row.quantity,
        price=row.price,
        lock_price=row.lock_price,
        created_at=row.created_at,
        stop_price=row.stop_price,
        working_since=row.working_since,
        status=OrderStatus(row.status),
        filled=row.filled,
        quote=row.quote,
        fees={asset: Decimal(fee) for asset, fee in row.fees.items()},
        locked=row.locked,
        updated_at=row.updated_at,
    )


def _fill(row: Row[Any]) -> Fill:
    return Fill(
        trade_id=str(row.trade_id),
        order_id=str(row.order_id),
        symbol=row.symbol,
        side=Side(row.side),
        price=row.price,
        quantity=row.quantity,
        fee=row.fee,
        fee_asset=row.fee_asset,
        at=row.at,
    )


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
                select(_ORDERS)
                .where(_ORDERS.c.account_id == unit.row_id, _ORDERS.c.symbol == symbol)
                .order_by(_ORDERS.c.order_id.desc())
                .limit(limit)
            )
            return [_state(self.account, row).snapshot() for row in reversed(rows.all())]

    async def balances(self) -> list[Balance]:
        async with self._venue.account(self.account) as unit:
            return unit.engine.balances(self.account)

    async def fills(self, symbol: str, limit: int = 100) -> list[Fill]:
        """The newest `limit` fills, oldest first."""
        symbol = await self._known(symbol)
        async with self._venue.account(self.account, symbol) as unit:
            await unit.save()
            rows = await unit.session.execute(
                select(_FILLS)
                .where(_FILLS.c.account_id == unit.row_id, _FILLS.c.symbol == symbol)
                .order_by(_FILLS.c.trade_id.desc())
                .limit(limit)
            )
            return [_fill(row) for row in reversed(rows.all())]

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
                select(_FILLS)
                .where(
                    _FILLS.c.account_id == unit.row_id,
                    _FILLS.c.symbol == symbol,
                    _FILLS.c.trade_id >= int(from_id or 0),
                )
                .order_by(_FILLS.c.trade_id)
                .limit(limit)
            )
            return [_fill(row) for row in rows]
