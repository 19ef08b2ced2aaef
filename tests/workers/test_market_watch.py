"""The market watch on the real database, the Binance simulator and the Temporal dev server:
bots' triggers are evaluated on the price the feed reads, and only the bots whose triggers
fired receive `wake` (at stand-in workflows, tests/workers/bot_signals.py)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.bot_models import BotRef, FeedRef, WatchResult
from activities.market_watch import RESIGNAL_AFTER, MarketBoard, MarketWatchActivities
from adapters.db.bot_triggers import TriggerRow, TriggerStore
from adapters.db.bots import BotStore
from adapters.exchanges.factory import ExchangeFactory
from adapters.settings import Settings
from domain.bots.risk import RiskTriggers
from domain.bots.state import BotKind, BotTriggers, BuyTrigger
from domain.market import Venue
from tests.adapters.test_bot_storage import _bot, _user
from tests.exchanges.conftest_binance import BinanceSim
from tests.workers.bot_signals import arrived, bot_targets, seen

pytestmark = pytest.mark.database

FEED = FeedRef(venue=Venue.BINANCE, symbol="BTC-BRL")
PRICE = Decimal(350000)
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def take_profit(price: str) -> BotTriggers:
    return BotTriggers(risk=RiskTriggers(sell_at_or_above=Decimal(price)))


def row(bot_id: uuid.UUID, triggers: BotTriggers, version: int) -> TriggerRow:
    return TriggerRow(bot_id=bot_id, triggers=triggers, version=version, updated_at=T0)


# -- the board: pure -------------------------------------------------------------------------


def test_the_board_keeps_the_newest_version_and_forgets_empty_and_gone_bots() -> None:
    board = MarketBoard()
    a, b = uuid.uuid4(), uuid.uuid4()
    board.update([row(a, take_profit("100"), 2), row(b, take_profit("100"), 1)])
    board.update([row(a, take_profit("900"), 1)])  # older: ignored
    assert board.bots[a].triggers == take_profit("100")
    board.update([row(a, BotTriggers(), 3)])  # nothing to watch any more
    board.drop(b)  # its workflow is gone
    board.update([row(a, take_profit("100"), 3), row(b, take_profit("100"), 1)])  # re-read
    assert board.bots == {}
    board.update([row(b, take_profit("100"), 2)])  # republished: watched again
    assert list(board.bots) == [b]


def test_the_board_follows_the_high_and_holds_a_signalled_bot_for_a_while() -> None:
    board = MarketBoard()
    trailing, buyer = uuid.uuid4(), uuid.uuid4()
    board.update(
        [
            row(
                trailing,
                BotTriggers(
                    risk=RiskTriggers(
                        trailing_arm_at_or_above=Decimal(100), trailing_percent=Decimal(5)
                    )
                ),
                1,
            ),
            row(buyer, BotTriggers(buy=BuyTrigger(at_or_below=Decimal(90))), 1),
        ]
    )
    assert board.fired(Decimal(104), T0) == []
    assert board.fired(Decimal(110), T0) == []
    [(bot_id, watched)] = board.fired(Decimal(104), T0)  # 5.5 % under the high it kept
    assert (bot_id, watched.high) == (trailing, Decimal(110))
    watched.signalled(T0)
    assert [b for b, _ in board.fired(Decimal(89), T0 + timedelta(seconds=1))] == [buyer]
    later = T0 + RESIGNAL_AFTER + timedelta(seconds=1)
    assert {b for b, _ in board.fired(Decimal(89), later)} == {trailing, buyer}


def test_a_bot_that_stays_fired_is_signalled_again_less_and_less_often() -> None:
    """Not republished after a wake-up (a lost signal, or a bot behind on its work), the bot
    is signalled again after 30 s, then 60 s, ... up to 4 minutes; new triggers start over."""
    board = MarketBoard()
    bot = uuid.uuid4()
    board.update([row(bot, take_profit("100"), 1)])
    at, gaps = T0, []
    for _ in range(6):
        [(_, watched)] = board.fired(Decimal(101), at)
        watched.signalled(at)
        gap = timedelta(seconds=1)
        while not board.fired(Decimal(101), at + gap):
            gap += timedelta(seconds=1)
        gaps.append(gap.total_seconds())
        at += gap
    assert gaps == [30, 60, 120, 240, 240, 240]
    board.update([row(bot, take_profit("99"), 2)])
    assert board.bots[bot].signalled_at is None and board.bots[bot].quiet == RESIGNAL_AFTER


def test_the_same_triggers_republished_do_not_wake_the_bot_again() -> None:
    """Woken, a bot that holds publishes a new version of the same triggers: no wake-up loop;
    changed triggers are watched afresh at once."""
    board = MarketBoard()
    bot = uuid.uuid4()
    board.update([row(bot, take_profit("100"), 1)])
    [(_, watched)] = board.fired(Decimal(101), T0)
    watched.signalled(T0)
    board.update([row(bot, take_profit("100"), 2)])
    assert board.fired(Decimal(101), T0 + timedelta(seconds=1)) == []
    assert board.bots[bot].version == 2
    board.update([row(bot, take_profit("99"), 3)])
    assert [b for b, _ in board.fired(Decimal(101), T0 + timedelta(seconds=1))] == [bot]


# -- the activity ------------------------------------------------------------------------------


def watcher(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    factory: ExchangeFactory,
    temporal: Client,
    *,
    run_seconds: float,
    feed_seconds: float = 0.2,
) -> MarketWatchActivities:
    timings = {"watch_run_seconds": run_seconds, "market_feed_seconds": feed_seconds}
    return MarketWatchActivities(sessions, factory, temporal, settings.model_copy(update=timings))


async def new_bot(db: AsyncSession) -> BotRef:
    user_id, context_id = await _user(db)
    bot = await _bot(BotStore(db), user_id, context_id)
    await db.commit()
    return BotRef(
        bot_id=bot.id, user_id=user_id, context_id=context_id, kind=BotKind.SMART,
        venue=FEED.venue, symbol=FEED.symbol,
    )  # fmt: skip


async def publish(
    sessions: async_sessionmaker[AsyncSession], bot: BotRef, triggers: BotTriggers, version: int = 1
) -> None:
    async with sessions() as session:
        await TriggerStore(session).save(bot, triggers, version, datetime.now(UTC))
        await session.commit()


async def test_a_fired_trigger_wakes_exactly_the_fired_bots(
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    factory: ExchangeFactory,
    temporal: Client,
    binance_sim: BinanceSim,
) -> None:
    await binance_sim.set_price("BTCBRL", PRICE)
    fires, above, below, gone = [await new_bot(db) for _ in range(4)]
    await publish(sessions, fires, take_profit("300000"))
    await publish(sessions, above, take_profit("10000000"))
    await publish(sessions, below, BotTriggers(risk=RiskTriggers(sell_at_or_below=Decimal(1000))))
    await publish(sessions, gone, take_profit("300000"))  # fires, but its bot was deleted
    # Long enough for two reads even when a loaded machine makes the first one slow.
    watch = watcher(settings, sessions, factory, temporal, run_seconds=3.0)
    async with bot_targets(temporal, [b.bot_id for b in (fires, above, below, gone)]) as targets:
        await targets[gone.bot_id].terminate("bot deleted")
        result = await ActivityEnvironment().run(watch.watch_market, FEED)
        received = await arrived(targets[fires.bot_id], wakes=1)
        quiet = [await seen(targets[bot.bot_id]) for bot in (above, below)]
    assert result.reads >= 2
    assert (result.woken, result.watching) == (1, 4)
    [wake] = received.wakes
    assert wake.price == PRICE
    assert wake.bid is not None and wake.ask is not None and wake.bid < wake.ask
    assert wake.high == wake.bid  # the feed judges on the best bid, and keeps its high
    assert [seen.wakes for seen in quiet] == [[], []]


async def test_a_bot_is_signalled_again_only_when_its_triggers_change(
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    factory: ExchangeFactory,
    temporal: Client,
    binance_sim: BinanceSim,
) -> None:
    await binance_sim.set_price("BTCBRL", PRICE)
    bot = await new_bot(db)
    await publish(sessions, bot, take_profit("300000"), version=1)
    # Runs long enough for several reads and a republication even on a loaded machine.
    watch = watcher(settings, sessions, factory, temporal, run_seconds=2.0)
    async with bot_targets(temporal, [bot.bot_id]) as targets:
        unchanged = await ActivityEnvironment().run(watch.watch_market, FEED)
        assert unchanged.reads >= 2 and unchanged.woken == 1  # once, though it fired each read
        watch = watcher(settings, sessions, factory, temporal, run_seconds=10.0)
        running = asyncio.create_task(ActivityEnvironment().run(watch.watch_market, FEED))
        async with asyncio.timeout(30):
            await arrived(targets[bot.bot_id], wakes=2)
            await publish(sessions, bot, take_profit("310000"), version=2)
            received = await arrived(targets[bot.bot_id], wakes=3)
            changed: WatchResult = await running
        assert changed.woken == 2
        assert len((await seen(targets[bot.bot_id])).wakes) == 3 == len(received.wakes)
        # Each wake carries the feed's previous read: the sanity check's reference for a jump.
        last = received.wakes[-1]
        assert last.previous_price == PRICE and last.previous_at is not None
        assert last.previous_at < last.at


async def test_the_trailing_stop_fires_on_the_high_the_feed_kept(
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    factory: ExchangeFactory,
    temporal: Client,
    binance_sim: BinanceSim,
) -> None:
    """Armed at 340,000 with a 1 % trail and no peak published: the feed's own high decides."""
    await binance_sim.set_price("BTCBRL", PRICE)
    bot = await new_bot(db)
    trailing = RiskTriggers(trailing_arm_at_or_above=Decimal(340000), trailing_percent=Decimal(1))
    await publish(sessions, bot, BotTriggers(risk=trailing))
    read_twice = asyncio.Event()
    heartbeats = 0

    def heartbeat(*_: object) -> None:
        nonlocal heartbeats
        heartbeats += 1
        if heartbeats >= 2:  # a cycle (refresh, read, evaluate) is over
            read_twice.set()

    environment = ActivityEnvironment()
    environment.on_heartbeat = heartbeat
    watch = watcher(settings, sessions, factory, temporal, run_seconds=3.0)
    async with bot_targets(temporal, [bot.bot_id]) as targets:
        running = asyncio.create_task(environment.run(watch.watch_market, FEED))
        async with asyncio.timeout(30):
            await read_twice.wait()
            assert (await seen(targets[bot.bot_id])).wakes == []
            await binance_sim.set_price("BTCBRL", Decimal(345000))
            received = await arrived(targets[bot.bot_id], wakes=1)
            result = await running
    [wake] = received.wakes
    assert wake.high is not None and wake.bid is not None
    assert wake.high > Decimal(345000) > wake.bid  # the peak it slept through
    assert result.woken == 1


async def test_a_market_that_cannot_be_read_is_skipped_without_failing(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    factory: ExchangeFactory,
    temporal: Client,
    db: AsyncSession,
) -> None:
    watch = watcher(settings, sessions, factory, temporal, run_seconds=0.5)
    unknown = FeedRef(venue=Venue.BINANCE, symbol="NOPE-BRL")
    result = await ActivityEnvironment().run(watch.watch_market, unknown)
    assert result == WatchResult(watching=0, reads=0, woken=0)
