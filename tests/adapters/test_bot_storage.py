"""The bot engine's storage on the real test database (PostgreSQL, or SQLite with
TEST_DATABASE=sqlite): every write repeated changes nothing, order reports only move forward,
reads see only their owner's rows, pages are stable, amounts come back exact."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.bots import BotStore, OrderFilter, order_status
from adapters.db.models import Base, TradingContext, User
from adapters.db.models_bots import BotFillRecord, BotKind, BotOrderRecord, BotRecord, BotStatus
from domain.bots.funds import BotFunds
from domain.bots.orders import Strategy, client_order_id
from domain.bots.risk import Action, RiskDecision, RiskState
from domain.market import Fill, Order, OrderRequest, OrderStatus, OrderType, Side

pytestmark = pytest.mark.database

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
S = OrderStatus


async def _user(db: AsyncSession, coin: str = "BTC") -> tuple[uuid.UUID, uuid.UUID]:
    user = User(email=f"{uuid.uuid4().hex[:10]}@example.com", name="Ana", password_hash="x")
    db.add(user)
    await db.flush()
    context = TradingContext(user_id=user.id, coin=coin, fiat="BRL", exchange="paper")
    db.add(context)
    await db.flush()
    return user.id, context.id


async def _bot(
    store: BotStore, user_id: uuid.UUID, context_id: uuid.UUID, at: datetime = T0
) -> BotRecord:
    return await store.create_bot(
        user_id=user_id,
        context_id=context_id,
        kind=BotKind.SMART,
        name="dip buyer",
        config={"symbol": "BTC-BRL", "order_amount": Decimal("50.00"), "mode": "CONTINUOUS"},
        funds=BotFunds.allocate("BTC-BRL", Decimal("1000")),
        risk=RiskState(),
        at=at,
    )


def _request(cid: str, **fields: Any) -> OrderRequest:
    base: dict[str, Any] = {
        "client_order_id": cid,
        "symbol": "BTC-BRL",
        "side": Side.BUY,
        "type": OrderType.LIMIT,
        "quantity": Decimal("0.001"),
        "price": Decimal("350000.00"),
    }
    return OrderRequest(**{**base, **fields})


def _report(cid: str, status: OrderStatus, filled: str, *, minute: int = 1) -> Order:
    quantity = Decimal(filled)
    return Order(
        order_id="777",
        client_order_id=cid,
        symbol="BTC-BRL",
        side=Side.BUY,
        type=OrderType.LIMIT,
        status=status,
        quantity=Decimal("0.001"),
        price=Decimal("350000"),
        filled_quantity=quantity,
        average_price=Decimal("350000") if quantity else None,
        quote_quantity=quantity * 350000,
        fees={"BTC": quantity / 1000, "BNB": Decimal("0.00000001")} if quantity else {},
        created_at=T0,
        updated_at=T0 + timedelta(minutes=minute),
    )


def _fill(trade_id: str, quantity: str = "0.0005") -> Fill:
    return Fill(
        trade_id=trade_id,
        order_id="777",
        symbol="BTC-BRL",
        side=Side.BUY,
        price=Decimal("350000"),
        quantity=Decimal(quantity),
        fee=Decimal("0.00000050"),
        fee_asset="BTC",
        at=T0 + timedelta(seconds=int(trade_id)),
    )


def _columns(row: Any) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


async def _count(db: AsyncSession, model: type[Base]) -> int:
    return int(await db.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
async def setup(db: AsyncSession) -> tuple[BotStore, uuid.UUID, uuid.UUID, BotRecord]:
    store = BotStore(db)
    user_id, context_id = await _user(db)
    bot = await _bot(store, user_id, context_id)
    await db.commit()
    return store, user_id, context_id, bot


async def test_an_order_intent_is_recorded_once_with_its_creation_context(
    db: AsyncSession, setup: tuple[BotStore, uuid.UUID, uuid.UUID, BotRecord]
) -> None:
    store, user_id, context_id, bot = setup
    cid = client_order_id(f"bot:{bot.id}", 1)
    why = {"source": "interval", "bid": Decimal("349990.5"), "ask": Decimal("350010"),
           "spread_percent": Decimal("0.0057"), "indicators": {}}  # fmt: skip
    assert await store.record_order_intent(
        bot.id, _request(cid), venue="paper", strategy=Strategy.SMART, creation_context=why, at=T0
    )
    await db.commit()
    first = _columns((await store.list_orders(user_id)).orders[0])
    # The same intent again, even with another context and time: nothing changes.
    assert not await store.record_order_intent(
        bot.id, _request(cid), venue="paper", strategy=Strategy.MANUAL,
        creation_context={"source": "retry"}, at=T0 + timedelta(hours=1),
    )  # fmt: skip
    await db.commit()
    assert await _count(db, BotOrderRecord) == 1
    assert _columns((await store.list_orders(user_id)).orders[0]) == first
    assert first["status"] == "NEW" and first["exchange_order_id"] is None
    assert first["user_id"] == user_id and first["context_id"] == context_id
    assert first["creation_context"] == {"source": "interval", "bid": "349990.5",
        "ask": "350010", "spread_percent": "0.0057", "indicators": {}}  # fmt: skip
    assert (first["strategy"], first["side"], first["type"]) == ("smart", "buy", "limit")
    assert first["quantity"] == Decimal("0.001") and first["quote_order_quantity"] is None


async def test_an_intent_of_an_unknown_bot_or_another_bots_id_is_refused(
    db: AsyncSession, setup: tuple[BotStore, uuid.UUID, uuid.UUID, BotRecord]
) -> None:
    store, user_id, context_id, bot = setup
    other = await _bot(store, user_id, context_id)
    cid = client_order_id(f"bot:{bot.id}", 1)
    kwargs: dict[str, Any] = {"venue": "paper", "strategy": Strategy.SMART,
                              "creation_context": {}, "at": T0}  # fmt: skip
    await store.record_order_intent(bot.id, _request(cid), **kwargs)
    with pytest.raises(ValueError, match="another bot"):
        await store.record_order_intent(other.id, _request(cid), **kwargs)
    with pytest.raises(LookupError):
        await store.record_order_intent(uuid.uuid4(), _request("cx-x"), **kwargs)


# Reports in arrival order -> the stored (status, filled quantity) after all of them.
REPORTS = [
    ([(S.NEW, "0")], ("NEW", "0")),
    ([(S.PARTIALLY_FILLED, "0.0004"), (S.NEW, "0")], ("PARTIALLY_FILLED", "0.0004")),
    ([(S.FILLED, "0.001"), (S.PARTIALLY_FILLED, "0.0004"), (S.NEW, "0")], ("FILLED", "0.001")),
    ([(S.CANCELED, "0.0004"), (S.FILLED, "0.001")], ("CANCELED", "0.001")),  # late fill counts
    ([(S.FILLED, "0.001"), (S.CANCELED, "0.0004")], ("FILLED", "0.001")),
    ([(S.EXPIRED, "0"), (S.NEW, "0"), (S.REJECTED, "0")], ("EXPIRED", "0")),
    ([(S.PARTIALLY_FILLED, "0.0002"), (S.PARTIALLY_FILLED, "0.0006")],
     ("PARTIALLY_FILLED", "0.0006")),
]  # fmt: skip


@pytest.mark.parametrize(("reports", "expected"), REPORTS)
async def test_order_reports_only_move_forward(
    db: AsyncSession,
    setup: tuple[BotStore, uuid.UUID, uuid.UUID, BotRecord],
    reports: list[tuple[OrderStatus, str]],
    expected: tuple[str, str],
) -> None:
    store, user_id, _, bot = setup
    cid = client_order_id(f"bot:{bot.id}", 1)
    await store.record_order_intent(
        bot.id, _request(cid), venue="paper", strategy=Strategy.SMART, creation_context={}, at=T0
    )
    for minute, (status, filled) in enumerate(reports, start=1):
        await store.record_order_state(_report(cid, status, filled, minute=minute))
        await db.commit()
    order = (await store.list_orders(user_id)).orders[0]
    assert (order.status, order.filled_quantity) == (expected[0], Decimal(expected[1]))
    assert order.exchange_order_id == "777"
    best = max(reports, key=lambda report: Decimal(report[1]))
    winner = _report(cid, *best)
    assert order.fees == {asset: format(fee, "f") for asset, fee in winner.fees.items()}
    assert order.quote_quantity == winner.quote_quantity
    # Every report again, in any order: nothing moves, not even updated_at.
    before = _columns(order)
    for status, filled in [*reports, *reversed(reports)]:
        assert not await store.record_order_state(_report(cid, status, filled, minute=99))
    await db.commit()
    assert _columns(await store.get_order(user_id, order.id)) == before
    assert order_status(order.status).is_final == order_status(expected[0]).is_final


async def test_a_report_of_an_order_never_intended_is_refused(
    setup: tuple[BotStore, uuid.UUID, uuid.UUID, BotRecord],
) -> None:
    store = setup[0]
    with pytest.raises(LookupError):
        await store.record_order_state(_report("cx-unknown", S.NEW, "0"))
    with pytest.raises(LookupError):
        await store.record_fills("cx-unknown", [_fill("1")])


async def test_a_market_buy_sized_by_quote_learns_its_quantity(
    db: AsyncSession, setup: tuple[BotStore, uuid.UUID, uuid.UUID, BotRecord]
) -> None:
    store, user_id, _, bot = setup
    cid = client_order_id(f"bot:{bot.id}", 2)
    request = _request(cid, type=OrderType.MARKET, quantity=None, price=None,
                       quote_quantity=Decimal("50"))  # fmt: skip
    await store.record_order_intent(
        bot.id, request, venue="paper", strategy=Strategy.SMART, creation_context={}, at=T0
    )
    bought = _report(cid, S.FILLED, "0.00014285").model_copy(
        update={"quantity": Decimal("0.00014285"), "type": OrderType.MARKET}
    )
    assert await store.record_order_state(bought)
    await db.commit()
    order = (await store.list_orders(user_id)).orders[0]
    assert (order.quantity, order.quote_order_quantity) == (Decimal("0.00014285"), Decimal(50))


async def test_fills_are_stored_once_per_venue_trade(
    db: AsyncSession, setup: tuple[BotStore, uuid.UUID, uuid.UUID, BotRecord]
) -> None:
    store, user_id, _, bot = setup
    cid = client_order_id(f"bot:{bot.id}", 1)
    await store.record_order_intent(
        bot.id, _request(cid), venue="paper", strategy=Strategy.SMART, creation_context={}, at=T0
    )
    assert await store.record_fills(cid, [_fill("1"), _fill("2")]) == 2
    await db.commit()
    stored = [_columns(fill) for fill in await store.order_fills(user_id, cid)]
    # The stream and a REST sync report the same trades, and one more.
    assert await store.record_fills(cid, [_fill("2"), _fill("1"), _fill("3")]) == 1
    assert await store.record_fills(cid, [_fill("3")]) == 0
    assert await store.record_fills(cid, []) == 0
    await db.commit()
    fills = await store.order_fills(user_id, cid)
    assert [fill.trade_id for fill in fills] == ["1", "2", "3"]
    assert [_columns(fill) for fill in fills[:2]] == stored
    assert (fills[0].fee, fills[0].fee_asset, fills[0].bot_id) == (
        Decimal("0.0000005"), "BTC", bot.id)  # fmt: skip


async def test_a_bot_projection_from_an_older_sequence_never_overwrites_a_newer(
    db: AsyncSession, setup: tuple[BotStore, uuid.UUID, uuid.UUID, BotRecord]
) -> None:
    store, user_id, _, bot = setup
    funds = BotFunds.allocate("BTC-BRL", Decimal("1000"))

    async def project(sequence: int, status: BotStatus, free: str) -> bool:
        written = await store.project_bot(
            bot.id, sequence, status=status,
            pause_reason="circuit breaker: 5 losses" if status is BotStatus.PAUSED else None,
            funds=funds.model_copy(update={"free": Decimal(free)}),
            risk=RiskState(consecutive_losses=sequence),
            last_decision=RiskDecision(action=Action.HOLD, detail=f"tick {sequence}"),
            at=T0 + timedelta(minutes=sequence),
        )  # fmt: skip
        await db.commit()
        return written

    assert await project(1, BotStatus.RUNNING, "950")
    assert await project(3, BotStatus.PAUSED, "900")
    newest = _columns(await store.get_bot(user_id, bot.id))
    assert not await project(2, BotStatus.RUNNING, "925")  # a late retry
    assert not await project(3, BotStatus.PAUSED, "900")  # a repeat
    assert _columns(await store.get_bot(user_id, bot.id)) == newest
    assert (newest["sequence"], newest["status"]) == (3, "paused")
    assert newest["pause_reason"] == "circuit breaker: 5 losses"
    assert newest["funds"]["free"] == "900" and "orders" not in newest["funds"]
    assert BotFunds.model_validate(newest["funds"]).free == Decimal(900)
    assert RiskState.model_validate(newest["risk"]).consecutive_losses == 3
    assert newest["last_decision"]["detail"] == "tick 3"
    assert not await store.project_bot(
        uuid.uuid4(), 9, status=BotStatus.RUNNING, pause_reason=None, funds=funds,
        risk=RiskState(), last_decision=None, at=T0,
    )  # fmt: skip


async def test_reads_are_scoped_to_the_owner(
    db: AsyncSession, setup: tuple[BotStore, uuid.UUID, uuid.UUID, BotRecord]
) -> None:
    store, user_id, _, bot = setup
    intruder, intruder_context = await _user(db)
    await _bot(store, intruder, intruder_context)
    cid = client_order_id(f"bot:{bot.id}", 1)
    await store.record_order_intent(
        bot.id, _request(cid), venue="paper", strategy=Strategy.SMART, creation_context={}, at=T0
    )
    await store.record_fills(cid, [_fill("1")])
    await db.commit()
    order = (await store.list_orders(user_id)).orders[0]
    assert [b.id for b in await store.list_bots(user_id)] == [bot.id]
    assert bot.id not in [b.id for b in await store.list_bots(intruder)]
    assert await store.get_bot(intruder, bot.id) is None
    assert await store.get_order(intruder, order.id) is None
    assert await store.order_fills(intruder, cid) == []
    assert (await store.list_orders(intruder)).orders == []
    assert (await store.list_orders(intruder, OrderFilter(bot_id=bot.id))).orders == []
    assert not await store.delete_bot(intruder, bot.id, T0)
    assert (await store.get_order(user_id, order.id)) is not None


async def test_order_filters_and_pages_newest_first(
    db: AsyncSession, setup: tuple[BotStore, uuid.UUID, uuid.UUID, BotRecord]
) -> None:
    store, user_id, context_id, bot = setup
    _, eth_context = await _user(db, coin="ETH")  # another user's id space is not ours
    eth = TradingContext(user_id=user_id, coin="ETH", fiat="BRL", exchange="paper")
    db.add(eth)
    await db.flush()
    eth_bot = await store.create_bot(
        user_id=user_id, context_id=eth.id, kind=BotKind.DCA, name="eth", config={},
        funds=BotFunds.allocate("ETH-BRL", Decimal(100)), risk=RiskState(), at=T0,
    )  # fmt: skip
    made: list[tuple[str, uuid.UUID, Strategy, Side, datetime]] = []
    for n in range(9):
        owner = bot if n % 3 else eth_bot
        strategy = Strategy.MANUAL if n % 4 == 0 else Strategy(str(owner.kind))
        side = Side.SELL if n % 2 else Side.BUY
        at = T0 + timedelta(minutes=n // 2)  # pairs share a moment: the id breaks the tie
        cid = client_order_id(f"bot:{owner.id}", n)
        symbol = "BTC-BRL" if owner is bot else "ETH-BRL"
        await store.record_order_intent(
            owner.id, _request(cid, symbol=symbol, side=side), venue="paper",
            strategy=strategy, creation_context={"n": n}, at=at,
        )  # fmt: skip
        made.append((cid, owner.id, strategy, side, at))
    await store.record_order_state(_report(made[4][0], S.FILLED, "0.001"))
    await db.commit()

    everything = (await store.list_orders(user_id, limit=50)).orders
    assert len(everything) == 9
    keys = [(order.created_at, order.id) for order in everything]
    assert keys == sorted(keys, reverse=True)

    def expect(keep: Any) -> list[str]:
        return [o.client_order_id for o in everything if keep(o)]

    async def listed(where: OrderFilter) -> list[str]:
        return [o.client_order_id for o in (await store.list_orders(user_id, where)).orders]

    assert await listed(OrderFilter(bot_id=bot.id)) == expect(lambda o: o.bot_id == bot.id)
    assert await listed(OrderFilter(context_id=eth.id)) == expect(lambda o: o.bot_id == eth_bot.id)
    assert await listed(OrderFilter(context_id=context_id, strategy=Strategy.MANUAL)) == expect(
        lambda o: o.context_id == context_id and o.strategy == "manual"
    )
    assert await listed(OrderFilter(strategy=Strategy.DCA)) == expect(lambda o: o.strategy == "dca")
    assert await listed(OrderFilter(side=Side.SELL)) == expect(lambda o: o.side == "sell")
    assert await listed(OrderFilter(status=S.FILLED)) == [made[4][0]]
    since, until = T0 + timedelta(minutes=1), T0 + timedelta(minutes=3)
    in_period = expect(lambda o: since <= o.created_at < until)
    assert len(in_period) == 4
    assert await listed(OrderFilter(since=since, until=until)) == in_period
    assert await listed(OrderFilter(context_id=eth_context)) == []

    # Pages of 2 walk the same list; an order recorded meanwhile shifts nothing.
    walked: list[str] = []
    page = await store.list_orders(user_id, limit=2)
    while True:
        walked += [o.client_order_id for o in page.orders]
        if page.next_cursor is None:
            break
        if len(walked) == 4:
            await store.record_order_intent(
                bot.id, _request(client_order_id(f"bot:{bot.id}", 99)), venue="paper",
                strategy=Strategy.SMART, creation_context={}, at=T0 + timedelta(hours=1),
            )  # fmt: skip
            await db.commit()
        page = await store.list_orders(user_id, limit=2, cursor=page.next_cursor)
    assert walked == [o.client_order_id for o in everything]
    with pytest.raises(ValueError):
        await store.list_orders(user_id, cursor="not-a-cursor")


AMOUNTS = ["0.00000001", "123456789.12345678", "0.000000000000000001", "350000",
           "99999999999999999999.999999999999999999"]  # fmt: skip


@pytest.mark.parametrize("amount", AMOUNTS)
async def test_amounts_come_back_exact(
    sessions: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    setup: tuple[BotStore, uuid.UUID, uuid.UUID, BotRecord],
    amount: str,
) -> None:
    store, user_id, _, bot = setup
    value = Decimal(amount)
    cid = client_order_id(f"bot:{bot.id}", 1)
    await store.record_order_intent(
        bot.id, _request(cid, quantity=value, price=value), venue="paper",
        strategy=Strategy.SMART, creation_context={"bid": value}, at=T0,
    )  # fmt: skip
    fill = _fill("1").model_copy(update={"price": value, "quantity": value, "fee": value})
    await store.record_fills(cid, [fill])
    await db.commit()
    async with sessions() as fresh:  # nothing cached: what the database holds
        reader = BotStore(fresh)
        order = (await reader.list_orders(user_id)).orders[0]
        stored = (await reader.order_fills(user_id, cid))[0]
    for read in (order.quantity, order.price, stored.price, stored.quantity, stored.fee):
        # The same digits and exponent: no padding from NUMERIC(38, 18), no float.
        assert read is not None and read.as_tuple() == value.as_tuple()
        assert format(read, "f") == amount
    assert order.creation_context == {"bid": amount}


@pytest.mark.parametrize("amount", ["0.0000000000000000001", "100000000000000000000"])
async def test_an_amount_the_column_cannot_hold_is_refused_not_rounded(
    db: AsyncSession, setup: tuple[BotStore, uuid.UUID, uuid.UUID, BotRecord], amount: str
) -> None:
    store, _, _, bot = setup
    request = _request(client_order_id(f"bot:{bot.id}", 1), quantity=Decimal(amount))
    with pytest.raises(StatementError, match="does not fit"):
        await store.record_order_intent(
            bot.id, request, venue="paper", strategy=Strategy.SMART, creation_context={}, at=T0
        )


async def test_a_deleted_bot_leaves_the_lists_and_keeps_its_orders(
    db: AsyncSession, setup: tuple[BotStore, uuid.UUID, uuid.UUID, BotRecord]
) -> None:
    store, user_id, _, bot = setup
    cid = client_order_id(f"bot:{bot.id}", 1)
    await store.record_order_intent(
        bot.id, _request(cid), venue="paper", strategy=Strategy.SMART, creation_context={}, at=T0
    )
    await store.record_fills(cid, [_fill("1")])
    assert not await store.delete_bot(user_id, bot.id, T0)  # running: stop it first
    await store.project_bot(
        bot.id, 1, status=BotStatus.STOPPED, pause_reason=None,
        funds=BotFunds.allocate("BTC-BRL", Decimal(1000)), risk=RiskState(),
        last_decision=None, at=T0,
    )  # fmt: skip
    assert await store.count_bots(user_id) == 1
    assert await store.delete_bot(user_id, bot.id, T0 + timedelta(days=1))
    assert not await store.delete_bot(user_id, bot.id, T0 + timedelta(days=2))  # once
    await db.commit()
    assert await store.list_bots(user_id) == []
    assert await store.count_bots(user_id) == 0
    assert await store.get_bot(user_id, bot.id) is None
    kept = await store.get_bot(user_id, bot.id, include_deleted=True)
    assert kept is not None and kept.deleted_at == T0 + timedelta(days=1)
    orders = (await store.list_orders(user_id, OrderFilter(bot_id=bot.id))).orders
    assert [o.client_order_id for o in orders] == [cid]
    assert [f.trade_id for f in await store.order_fills(user_id, cid)] == ["1"]
    assert await _count(db, BotFillRecord) == 1


async def test_the_migration_matches_the_models(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Autogenerate finds nothing to add for these tables on the migrated test database."""
    ours = {"bots", "bot_orders", "bot_fills", "bot_trades", "reports"}

    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with sessions() as session:
        connection = await session.connection()
        found = await connection.run_sync(diff)
    assert [change for change in found if ours & set(_tables(change))] == []


def _tables(change: Any) -> list[str]:
    """Table names an autogenerate change (a tuple, or a list of them) touches."""
    if isinstance(change, list):
        return [name for item in change for name in _tables(item)]
    names = []
    for part in change:
        table = getattr(part, "table", None)
        names += [getattr(part, "name", None), getattr(table, "name", None)]
        names += [part] if isinstance(part, str) else []
    return [name for name in names if isinstance(name, str)]


async def test_concurrent_reports_of_one_order_end_at_the_furthest(
    sessions: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    setup: tuple[BotStore, uuid.UUID, uuid.UUID, BotRecord],
) -> None:
    """The user stream, a REST sync and retried activities report at once, each in its own
    transaction: none of them overwrites a further report it did not see."""
    store, user_id, _, bot = setup
    reports = [(S.PARTIALLY_FILLED, "0.0002"), (S.FILLED, "0.001"),
               (S.PARTIALLY_FILLED, "0.0006"), (S.NEW, "0")]  # fmt: skip

    async def report(cid: str, status: OrderStatus, filled: str) -> None:
        async with sessions() as session:
            await BotStore(session).record_order_state(_report(cid, status, filled))
            await session.commit()

    for n in range(5):
        cid = client_order_id(f"bot:{bot.id}", n)
        await store.record_order_intent(
            bot.id, _request(cid), venue="paper", strategy=Strategy.SMART, creation_context={},
            at=T0,
        )  # fmt: skip
        await db.commit()
        turn = reports[n % 4 :] + reports[: n % 4]
        await asyncio.gather(*(report(cid, status, filled) for status, filled in turn))
    for order in (await store.list_orders(user_id)).orders:
        assert (order.status, order.filled_quantity) == ("FILLED", Decimal("0.001"))
        assert order.fees == {"BTC": "0.000001", "BNB": "0.00000001"}


async def test_open_orders_of_an_account_and_a_refused_placement(
    db: AsyncSession, setup: tuple[BotStore, uuid.UUID, uuid.UUID, BotRecord]
) -> None:
    store, user_id, _, bot = setup
    intruder, intruder_context = await _user(db)
    other = await _bot(store, intruder, intruder_context)
    cids = [client_order_id(f"bot:{bot.id}", n) for n in range(4)]
    for n, cid in enumerate([*cids, client_order_id(f"bot:{other.id}", 0)]):
        owner = other if n == 4 else bot
        await store.record_order_intent(
            owner.id, _request(cid), venue="binance" if n == 3 else "paper",
            strategy=Strategy.SMART, creation_context={}, at=T0 + timedelta(seconds=n),
        )  # fmt: skip
    await store.record_order_state(_report(cids[0], S.PARTIALLY_FILLED, "0.0004"))
    await store.record_order_state(_report(cids[1], S.FILLED, "0.001"))
    # The venue refused the placement: no order id of its own.
    refused = _report(cids[2], S.REJECTED, "0").model_copy(update={"order_id": ""})
    assert await store.record_order_state(refused)
    await db.commit()
    assert [o.client_order_id for o in await store.open_orders(user_id, "paper")] == [cids[0]]
    assert [o.client_order_id for o in await store.open_orders(user_id, "binance")] == [cids[3]]
    rejected = (await store.list_orders(user_id, OrderFilter(status=S.REJECTED))).orders
    assert [(o.client_order_id, o.exchange_order_id) for o in rejected] == [(cids[2], None)]
