"""The bots queue's activities (activities/bots.py), each called with a real activity context
on the real database, venues and Temporal dev server: market reads shared per market, the
projection with its triggers, notices kept once, feeds and syncs started once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.bot_models import AccountRef, BotNotice, BotProjection, BotRef, FeedRef, MarketView
from activities.bots import BotActivities, MarketReads, observation
from adapters.db.bot_triggers import TriggerStore
from adapters.db.models import AuditEvent, MailOutbox, User
from adapters.db.models_bots import BotRecord
from adapters.exchanges.factory import ExchangeFactory
from domain.accounts import AuditAction
from domain.bots.funds import BotFunds
from domain.bots.risk import RiskState, RiskTriggers
from domain.bots.state import BotStatus, BotTriggers, Decision, PauseReason
from domain.market import Ticker, Venue
from tests.exchanges.conftest_binance import BinanceSim
from tests.workers.bot_support import make_bot, run

pytestmark = pytest.mark.database

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bots(
    sessions: async_sessionmaker[AsyncSession],
    factory: ExchangeFactory,
    temporal: Client,
    clock: Clock,
) -> BotActivities:
    return BotActivities(sessions, factory, temporal, reads=MarketReads(1.0, clock))


def _ticker(bid: str, ask: str, high: str | None, low: str | None) -> Ticker:
    return Ticker(
        symbol="BTC-BRL",
        last=Decimal("350000"),
        bid=Decimal(bid),
        ask=Decimal(ask),
        high_24h=None if high is None else Decimal(high),
        low_24h=None if low is None else Decimal(low),
        at=T0,
    )


@pytest.mark.parametrize(
    ("ticker", "bid", "ask", "volatility"),
    [
        (_ticker("349990", "350010", "357000", "343000"), "349990", "350010", "4"),
        (_ticker("0", "350010", None, "343000"), None, "350010", None),  # no bids, no range
        (_ticker("349990", "0", "350000", "350000"), "349990", None, "0"),
    ],
)
def test_an_observation_is_the_tickers_last_price_book_and_range(
    ticker: Ticker, bid: str | None, ask: str | None, volatility: str | None
) -> None:
    seen = observation(ticker)
    assert (seen.price, seen.at) == (ticker.last, ticker.at)
    assert seen.bid == (None if bid is None else Decimal(bid))
    assert seen.ask == (None if ask is None else Decimal(ask))
    assert seen.volatility_percent == (None if volatility is None else Decimal(volatility))


@pytest.mark.parametrize("venue", [Venue.PAPER, Venue.BINANCE])
async def test_bots_of_one_market_share_one_read_per_second(
    venue: Venue,
    db: AsyncSession,
    bots: BotActivities,
    clock: Clock,
    factory: ExchangeFactory,
    binance_sim: BinanceSim,
) -> None:
    first, second, other = [
        await make_bot(db, venue),
        await make_bot(db, venue),
        await make_bot(db, venue, "ETH-BRL"),
    ]
    before = datetime.now(UTC)
    views: list[MarketView] = await asyncio.gather(
        *(run(bots.bot_observe, bot) for bot in (first, second, other))
    )
    assert before <= views[0].observation.at <= datetime.now(UTC)  # this clock, not the venue's
    assert views[0] is views[1]  # one read served both bots of BTC-BRL
    assert views[2].rules.symbol == "ETH-BRL" and views[0].rules.symbol == "BTC-BRL"
    async with factory.connect(venue) as public:
        assert views[0].rules == await public.market_rules("BTC-BRL")
    seen = views[0].observation
    assert seen.price > 0 and seen.bid is not None and seen.ask is not None
    assert seen.bid <= seen.ask

    clock.now += 0.5
    assert await run(bots.bot_observe, second) is views[0]
    clock.now += 0.5
    fresh: MarketView = await run(bots.bot_observe, second)
    assert fresh is not views[0] and fresh.rules == views[0].rules


async def test_an_unknown_market_is_a_failure_not_worth_retrying(
    db: AsyncSession, bots: BotActivities
) -> None:
    bot = (await make_bot(db, Venue.PAPER)).model_copy(update={"symbol": "NOPE-BRL"})
    for _ in range(2):  # a failed read is not kept: the second caller reads again
        with pytest.raises(ApplicationError) as failure:
            await run(bots.bot_observe, bot)
        assert failure.value.non_retryable and failure.value.type == "UnknownSymbol"


def _projection(bot: BotRef, sequence: int, status: BotStatus, take_profit: str) -> BotProjection:
    paused = status is BotStatus.PAUSED
    return BotProjection(
        bot=bot,
        sequence=sequence,
        status=status,
        pause_reason=PauseReason.CIRCUIT_BREAKER if paused else None,
        pause_detail="5 losing trades in a row" if paused else None,
        funds=BotFunds.allocate("BTC-BRL", Decimal("1000")),
        risk=RiskState(),
        last_decision=Decision(at=T0, action="hold", reason="waiting"),
        config={"symbol": "BTC-BRL", "order_amount": "50"},
        order_sequence=sequence * 2,
        triggers=BotTriggers(risk=RiskTriggers(sell_at_or_above=Decimal(take_profit))),
        at=T0 + timedelta(seconds=sequence),
    )


async def test_a_projection_writes_the_bot_and_its_triggers_and_a_late_one_nothing(
    db: AsyncSession, bots: BotActivities
) -> None:
    bot = await make_bot(db, Venue.PAPER)
    newer = _projection(bot, 4, BotStatus.PAUSED, "360000")
    await run(bots.bot_project, newer)
    await run(bots.bot_project, newer)  # a retried attempt
    await run(bots.bot_project, _projection(bot, 3, BotStatus.RUNNING, "340000"))  # late

    record = await db.get(BotRecord, bot.bot_id, populate_existing=True)
    assert record is not None
    assert (record.status, record.pause_reason, record.pause_detail) == (
        "paused",
        "circuit_breaker",
        "5 losing trades in a row",
    )
    assert (record.sequence, record.order_sequence) == (4, 8)
    assert record.config == {"symbol": "BTC-BRL", "order_amount": "50"}
    [row] = await TriggerStore(db).changed_since(Venue.PAPER, "BTC-BRL", None)
    assert (row.bot_id, row.version, row.triggers) == (bot.bot_id, 4, newer.triggers)


async def test_a_projection_whose_triggers_were_empty_starts_its_market_feed(
    db: AsyncSession, bots: BotActivities, temporal: Client
) -> None:
    # A market of this test alone: a feed other tests run is never touched.
    bot = (await make_bot(db, Venue.PAPER)).model_copy(
        update={"symbol": f"T{uuid.uuid4().hex[:8].upper()}-BRL"}
    )
    feed = temporal.get_workflow_handle(FeedRef(venue=bot.venue, symbol=bot.symbol).workflow_id)
    await run(bots.bot_project, _projection(bot, 1, BotStatus.RUNNING, "360000"))
    with pytest.raises(RPCError) as missing:  # triggers already published: no feed asked for
        await feed.describe()
    assert missing.value.status is RPCStatusCode.NOT_FOUND

    first = _projection(bot, 2, BotStatus.RUNNING, "360000")
    await run(bots.bot_project, first.model_copy(update={"start_feed": True}))
    try:
        assert (await feed.describe()).status is WorkflowExecutionStatus.RUNNING
    finally:
        await feed.terminate("test over")


async def test_a_notice_is_audited_and_mailed_once(db: AsyncSession, bots: BotActivities) -> None:
    bot = await make_bot(db, Venue.PAPER)
    tripped = BotNotice(bot=bot, kind="circuit_breaker_tripped", message="5 losses", at=T0)
    await run(bots.bot_notify, tripped)
    await run(bots.bot_notify, tripped)  # a retried attempt
    refused = tripped.model_copy(update={"kind": "credentials_refused", "message": "bad key"})
    await run(bots.bot_notify, refused)

    events = (
        await db.scalars(
            select(AuditEvent)
            .where(AuditEvent.user_id == bot.user_id, AuditEvent.action == AuditAction.BOT_NOTICE)
            .order_by(AuditEvent.details["kind"].as_string())
        )
    ).all()
    assert [(e.details["kind"], e.details["bot_id"], e.at) for e in events] == [
        ("circuit_breaker_tripped", str(bot.bot_id), T0),
        ("credentials_refused", str(bot.bot_id), T0),
    ]
    user = await db.get(User, bot.user_id)
    assert user is not None
    mails = (await db.scalars(select(MailOutbox).where(MailOutbox.to == user.email))).all()
    assert sorted(m.subject for m in mails) == [
        "Your bot dip buyer: circuit breaker tripped",
        "Your bot dip buyer: credentials refused",
    ]
    assert any("5 losses" in m.body for m in mails)
    total = await db.scalar(select(func.count()).select_from(MailOutbox))
    assert total == 2


async def test_a_feed_and_an_account_sync_are_started_once(
    bots: BotActivities, temporal: Client
) -> None:
    # A market of this test alone: a feed other tests run is never touched.
    feed = FeedRef(venue=Venue.PAPER, symbol=f"T{uuid.uuid4().hex[:8].upper()}-BRL")
    account = AccountRef(user_id=uuid.uuid4(), venue=Venue.PAPER)
    for ensure, ref in ((bots.bot_ensure_feed, feed), (bots.bot_ensure_account_sync, account)):
        await run(ensure, ref)
        handle = temporal.get_workflow_handle(ref.workflow_id)
        started = await handle.describe()
        await run(ensure, ref)  # running already: the same run goes on
        try:
            again = await handle.describe()
            assert again.run_id == started.run_id
            assert again.status is WorkflowExecutionStatus.RUNNING
            assert again.workflow_type == ("MarketFeed" if ref is feed else "AccountSync")
        finally:
            await handle.terminate("test over")
