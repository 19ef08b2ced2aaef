"""The paper venue with its accounts in the database: accounts survive a restart (a new
factory), two worker processes (two venues, each with its own engine and pool) share one paper
market without overdrawing or doubling orders, resting orders fill as the price path moves
whoever reads next, and the venue passes the conformance checks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.engine import create_engine, session_factory
from adapters.db.models import Base
from adapters.db.models_paper import PaperFill, PaperOrder
from adapters.exchanges.errors import InsufficientBalance
from adapters.exchanges.factory import PAPER_STARTING_BALANCES, ExchangeFactory
from adapters.exchanges.paper_store import DbPaperExchange, DbPaperVenue
from adapters.market_data import OHLCV_DIR
from adapters.settings import Environment, Settings
from domain.market import Order, OrderRequest, OrderStatus, OrderType, Side, Venue
from domain.matching import Fees
from domain.price_paths import FixedPrice
from tests.exchanges import conformance
from tests.exchanges.conftest import T0, PaperClock

pytestmark = pytest.mark.database

D = Decimal
Workers = Callable[[], DbPaperVenue]


@pytest.fixture
async def workers(
    db: AsyncSession, database_url: str, paper_clock: PaperClock
) -> AsyncIterator[Workers]:
    """Venues that stand for worker processes: each its own engine (pool) and price paths,
    one clock (one wall clock on one machine)."""
    engines = []

    def worker() -> DbPaperVenue:
        engine = create_engine(database_url)
        engines.append(engine)
        return DbPaperVenue(session_factory(engine), clock=paper_clock, data_dir=OHLCV_DIR)

    yield worker
    for engine in engines:
        await engine.dispose()


@dataclass
class DbPaperControl:
    """`tests.exchanges.conformance.VenueControl` for the database-backed paper venue."""

    venue: DbPaperVenue
    exchange: DbPaperExchange
    clock: PaperClock
    symbol: str
    fees: Fees
    slippage: Decimal

    async def fund(self, asset: str, amount: Decimal) -> None:
        await self.venue.deposit(self.exchange.account, asset, amount)

    async def set_price(self, symbol: str, price: Decimal) -> None:
        self.clock.advance(timedelta(seconds=1))
        await self.exchange.balances()  # caught up with the old path, as PaperMarket.set_path
        (await self.venue.market()).set_path(symbol, FixedPrice(price))


@pytest.mark.parametrize("symbol", ["BTC-BRL", "TRX-BTC"])
@pytest.mark.parametrize(
    "check", conformance.CHECKS + conformance.ORDER_TYPE_CHECKS, ids=conformance.check_id
)
async def test_the_stored_paper_venue_conforms(
    check: conformance.Check, symbol: str, workers: Workers, paper_clock: PaperClock
) -> None:
    venue = workers()
    exchange = venue.exchange(f"conformance-{symbol}")
    engine = (await venue.market()).engine
    control = DbPaperControl(
        venue, exchange, paper_clock, symbol, fees=engine.fees, slippage=engine.slippage
    )
    await check(exchange, control)


def _limit_buy(client_order_id: str, quantity: Decimal, price: Decimal) -> OrderRequest:
    return OrderRequest(
        client_order_id=client_order_id,
        symbol="BTC-BRL",
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=quantity,
        price=price,
    )


async def test_accounts_survive_a_restart(
    db: AsyncSession, sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    settings = Settings(_env_file=None, environment=Environment.TEST, database_url=database_url)
    before = ExchangeFactory(settings, sessions=sessions)
    alice = before.connect(Venue.PAPER, account="alice")
    assert {b.asset: b.free for b in await alice.balances()} == PAPER_STARTING_BALANCES
    bought = await alice.create_order(
        OrderRequest(
            client_order_id="buy",
            symbol="BTC-BRL",
            side=Side.BUY,
            type=OrderType.MARKET,
            quote_quantity=D(1000),
        )
    )
    last = (await alice.ticker("BTC-BRL")).last
    resting = await alice.create_order(_limit_buy("rest", D("0.01"), (last / 2).quantize(D(1))))
    balances, fills = await alice.balances(), await alice.fills("BTC-BRL")
    await alice.aclose()
    await before.aclose()

    after = ExchangeFactory(settings, sessions=sessions)  # the worker restarted
    again = after.connect(Venue.PAPER, account="alice")
    assert await again.balances() == balances
    assert await again.open_orders() == [resting]
    assert await again.recent_orders("BTC-BRL") == [bought, resting]
    assert await again.fills("BTC-BRL") == fills and len(fills) == 1
    # The retried placement finds the order placed before the restart.
    assert await again.create_order(_limit_buy("rest", D("0.01"), D(1000))) == resting
    assert await again.balances() == balances
    await after.aclose()


async def test_two_workers_placing_at_once_never_overdraw_nor_double(
    workers: Workers, db: AsyncSession
) -> None:
    first, second = workers(), workers()
    for venue in (first, second):
        (await venue.market()).set_path("BTC-BRL", FixedPrice(D(300_000)))
    price, quantity = D(250_000), D("0.001")  # rests: 250 BRL locked per order
    await first.deposit("shared", "BRL", price * quantity * 10)
    ids = [f"order-{n}" for n in range(16)]

    async def place(venue: DbPaperVenue, client_order_id: str) -> Order | None:
        try:
            return await venue.exchange("shared").create_order(
                _limit_buy(client_order_id, quantity, price)
            )
        except InsufficientBalance:
            return None

    # Both workers send every order (a retry landing on the other worker), all at once.
    results = await asyncio.gather(
        *(place(venue, i) for i in ids for venue in (first, second)),
    )
    by_id: dict[str, set[str | None]] = {}
    for client_order_id, order in zip([i for i in ids for _ in (1, 2)], results, strict=True):
        by_id.setdefault(client_order_id, set()).add(order.order_id if order else None)
    assert all(len(outcomes) == 1 for outcomes in by_id.values()), by_id  # same answer twice
    placed = {next(iter(o)) for o in by_id.values()} - {None}
    assert len(placed) == 10
    count = await db.scalar(select(func.count()).select_from(PaperOrder))
    assert count == 10
    for venue in (first, second):
        exchange = venue.exchange("shared")
        assert {o.order_id for o in await exchange.open_orders()} == placed
        [brl] = await exchange.balances()
        assert (brl.free, brl.locked) == (D(0), price * quantity * 10)


async def test_a_resting_order_fills_when_the_path_moves_and_any_worker_sees_it(
    workers: Workers, paper_clock: PaperClock, db: AsyncSession
) -> None:
    placing, reading = workers(), workers()
    alice = placing.exchange("alice")
    last = (await alice.ticker("TRX-BTC")).last
    assert (await reading.exchange("alice").ticker("TRX-BTC")).last == last  # one market
    path = (await placing.market()).path("TRX-BTC")
    later = path.candles(3600, T0 + timedelta(hours=1), T0 + timedelta(1))
    dip = next(c for c in later if c.low < last)
    await placing.deposit("alice", "BTC", D(1))
    order = await alice.create_order(
        OrderRequest(
            client_order_id="dip",
            symbol="TRX-BTC",
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=D(1000),
            price=dip.low,
        )
    )
    assert order.status is OrderStatus.NEW
    paper_clock.now = dip.open_time + timedelta(hours=1)
    seen = await reading.exchange("alice").get_order("TRX-BTC", client_order_id="dip")
    assert seen.status is OrderStatus.FILLED and seen.average_price == dip.low
    assert seen.fees == {"TRX": D(1000) * D("0.001")}  # a maker's fee
    # Caught up once: reading again, from either worker, makes no second fill.
    for venue in (placing, reading, placing):
        assert await venue.exchange("alice").get_order("TRX-BTC", order_id=order.order_id) == seen
        assert len(await venue.exchange("alice").fills("TRX-BTC")) == 1
    assert await db.scalar(select(func.count()).select_from(PaperFill)) == 1
    balances = {b.asset: b for b in await alice.balances()}
    assert balances["TRX"].free == D(1000) - D(1)
    assert balances["BTC"].free == D(1) - D(1000) * dip.low and balances["BTC"].locked == 0


async def test_the_migration_matches_the_models(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Autogenerate finds nothing to change in the paper tables of the migrated database."""
    ours = {"paper_venue", "paper_accounts", "paper_balances", "paper_orders", "paper_fills"}

    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with sessions() as session:
        found = await (await session.connection()).run_sync(diff)
    touched = [change for change in found if ours & set(_tables(change))]
    assert touched == []


def _tables(change: Any) -> list[str]:
    """Table names an autogenerate change (a tuple, or a list of them) touches."""
    if isinstance(change, list):
        return [name for item in change for name in _tables(item)]
    names: list[Any] = []
    for part in change:
        table = getattr(part, "table", None)
        names += [getattr(part, "name", None), getattr(table, "name", None)]
        names += [part] if isinstance(part, str) else []
    return [name for name in names if isinstance(name, str)]


async def test_a_refused_call_keeps_the_fills_its_catch_up_made(
    workers: Workers, paper_clock: PaperClock, db: AsyncSession
) -> None:
    venue = workers()
    alice = venue.exchange("alice")
    (await venue.market()).set_path("BTC-BRL", FixedPrice(D(300_000)))
    await venue.deposit("alice", "BRL", D(3000))
    resting = await alice.create_order(_limit_buy("low", D("0.01"), D(290_000)))
    paper_clock.advance(timedelta(minutes=1))
    (await venue.market()).set_path("BTC-BRL", FixedPrice(D(280_000)))
    crossed_at = paper_clock.now
    with pytest.raises(InsufficientBalance):  # 100 BRL left: the catch-up fills, then refuses
        await alice.create_order(_limit_buy("too-big", D("0.01"), D(280_000)))
    paper_clock.advance(timedelta(minutes=1))
    [fill] = await workers().exchange("alice").fills("BTC-BRL")
    assert (fill.order_id, fill.price, fill.at) == (resting.order_id, D(290_000), crossed_at)
    assert await db.scalar(select(func.count()).select_from(PaperOrder)) == 1
