"""One transaction on one paper account (see `adapters.exchanges.paper_store`): the
account's row locked, its state restored into a fresh `MatchingEngine`, caught up with the
price paths, and written back; and the rows the paper tables hold, to and from the engine's
`OrderState` and `Fill`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.models import Base
from adapters.exchanges.paper import PaperMarket
from domain.market import Fill, Order, OrderStatus, OrderType, Side
from domain.matching import AccountState, InvalidRequest, MatchingEngine
from domain.matching_state import OrderState, Wallet

ID_BLOCK = 10**10  # ids of account n: n * ID_BLOCK + 1, + 2, ...
# Core statements on the tables (adapters.db.models_paper): a call is several statements, and
# the ORM's per-statement work was most of its cost.
ACCOUNTS = Base.metadata.tables["paper_accounts"]
BALANCES = Base.metadata.tables["paper_balances"]
ORDERS = Base.metadata.tables["paper_orders"]
FILLS = Base.metadata.tables["paper_fills"]


@dataclass
class AccountUnit:
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
    ) -> AccountUnit:
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
            for b in await session.execute(select(BALANCES).where(BALANCES.c.account_id == row_id))
        }
        orders = [
            order_state(name, o)
            for o in await session.execute(
                select(ORDERS)
                .where(ORDERS.c.account_id == row_id, ORDERS.c.open.is_(True))
                .order_by(ORDERS.c.order_id)
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
                    insert(BALANCES).values(
                        account_id=self.row_id, asset=asset, free=values[0], locked=values[1]
                    )
                )
            elif self.written_wallets[asset] != values:
                await self.session.execute(
                    update(BALANCES)
                    .where(BALANCES.c.account_id == self.row_id, BALANCES.c.asset == asset)
                    .values(free=values[0], locked=values[1])
                )
            self.written_wallets[asset] = values
        for order in state.orders:
            changes = _changes(order)
            if order.order_id not in self.written_orders:
                await self.session.execute(insert(ORDERS).values(**_row(self.row_id, order)))
            elif self.written_orders[order.order_id] != changes:
                await self.session.execute(
                    update(ORDERS)
                    .where(ORDERS.c.order_id == int(order.order_id))
                    .values(**_row(self.row_id, order))
                )
            self.written_orders[order.order_id] = changes
        for fill in state.fills[self.written_fills :]:
            await self.session.execute(
                insert(FILLS).values(
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
            update(ACCOUNTS)
            .where(ACCOUNTS.c.id == self.row_id)
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
        query = select(ORDERS).where(ORDERS.c.account_id == self.row_id, ORDERS.c.symbol == symbol)
        if order_id is not None:
            if not order_id.isdigit():
                return None
            query = query.where(ORDERS.c.order_id == int(order_id))
        if client_order_id is not None:
            query = query.where(ORDERS.c.client_order_id == client_order_id)
        result = await self.session.execute(query.order_by(ORDERS.c.order_id.desc()).limit(1))
        row = result.one_or_none()
        return None if row is None else order_state(self.name, row).snapshot()


async def _lock(session: AsyncSession, name: str) -> tuple[int, datetime, int, int] | None:
    """Lock the account's row (a write: taken at once on SQLite too, whose driver begins the
    transaction only at a write) and read it."""
    result = await session.execute(
        update(ACCOUNTS)
        .where(ACCOUNTS.c.name == name)
        .values(synced_at=ACCOUNTS.c.synced_at)
        .returning(
            ACCOUNTS.c.id,
            ACCOUNTS.c.synced_at,
            ACCOUNTS.c.orders_placed,
            ACCOUNTS.c.trades_made,
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
        dialect.insert(ACCOUNTS)
        .values(name=name, synced_at=now, orders_placed=0, trades_made=0, created_at=now)
        .on_conflict_do_nothing()
        .returning(ACCOUNTS.c.id)
    )
    row_id = created.scalar_one_or_none()
    if row_id is not None and starting:
        await session.execute(
            insert(BALANCES),
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


def order_state(account: str, row: Row[Any]) -> OrderState:
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


def fill_of(row: Row[Any]) -> Fill:
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
