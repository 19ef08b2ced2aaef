"""The bots' triggers on the real test database (PostgreSQL, or SQLite with
TEST_DATABASE=sqlite): an older version never overwrites a newer, a feed reads its market's
rows changed since a moment, and counts the bots still watching."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.bot_models import BotRef
from adapters.db.bot_triggers import TriggerStore
from adapters.db.bots import BotStore
from adapters.db.models import Base
from adapters.db.models_bots import BotRecord, BotTriggerRecord
from domain.bots.risk import RiskTriggers
from domain.bots.state import BotKind, BotTriggers, BuyTrigger
from domain.market import Venue
from tests.adapters.test_bot_storage import _bot, _tables, _user

pytestmark = pytest.mark.database

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _triggers(take_profit: str) -> BotTriggers:
    return BotTriggers(risk=RiskTriggers(sell_at_or_above=Decimal(take_profit)))


async def _ref(db: AsyncSession, symbol: str = "BTC-BRL", venue: Venue = Venue.PAPER) -> BotRef:
    user_id, context_id = await _user(db)
    bot = await _bot(BotStore(db), user_id, context_id)
    await db.commit()
    return BotRef(
        bot_id=bot.id, user_id=user_id, context_id=context_id, kind=BotKind.SMART,
        venue=venue, symbol=symbol,
    )  # fmt: skip


async def test_an_older_version_never_overwrites_a_newer(db: AsyncSession) -> None:
    ref = await _ref(db)
    store = TriggerStore(db)
    assert await store.save(ref, _triggers("400000"), 5, T0)
    assert not await store.save(ref, _triggers("390000"), 4, T0 + timedelta(seconds=1))
    assert not await store.save(ref, _triggers("380000"), 5, T0 + timedelta(seconds=2))
    await db.commit()
    [row] = await store.changed_since(Venue.PAPER, "BTC-BRL", None)
    assert (row.bot_id, row.version, row.updated_at) == (ref.bot_id, 5, T0)
    assert row.triggers == _triggers("400000")
    assert await store.save(ref, _triggers("410000.5"), 6, T0 + timedelta(seconds=3))
    await db.commit()
    [row] = await store.changed_since(Venue.PAPER, "BTC-BRL", None)
    assert (row.version, row.triggers) == (6, _triggers("410000.5"))


async def test_concurrent_writes_of_one_bot_end_at_the_newest_version(
    sessions: async_sessionmaker[AsyncSession], db: AsyncSession
) -> None:
    """Retried projections land in any order, each in its own transaction."""
    ref = await _ref(db)

    async def save(version: int) -> None:
        async with sessions() as session:
            await TriggerStore(session).save(ref, _triggers(str(400000 + version)), version, T0)
            await session.commit()

    await asyncio.gather(*(save(version) for version in [3, 9, 1, 7, 9, 2, 8]))
    [row] = await TriggerStore(db).changed_since(Venue.PAPER, "BTC-BRL", None)
    assert (row.version, row.triggers) == (9, _triggers("400009"))


async def test_a_feed_reads_its_markets_rows_changed_since_a_moment(db: AsyncSession) -> None:
    store = TriggerStore(db)
    early, late, other_market, other_venue = [
        await _ref(db),
        await _ref(db),
        await _ref(db, symbol="ETH-BRL"),
        await _ref(db, venue=Venue.BINANCE),
    ]
    buy = BotTriggers(buy=BuyTrigger(at_or_below=Decimal("1.5"), not_before=T0))
    await store.save(early, buy, 1, T0)
    await store.save(late, BotTriggers(), 1, T0 + timedelta(seconds=10))
    for ref in (other_market, other_venue):
        await store.save(ref, buy, 1, T0 + timedelta(seconds=10))
    await db.commit()

    every = await store.changed_since(Venue.PAPER, "BTC-BRL", None)
    assert [(row.bot_id, row.triggers) for row in every] == [
        (early.bot_id, buy),
        (late.bot_id, BotTriggers()),  # empty: the bot stopped watching, the feed must learn it
    ]
    since = await store.changed_since(Venue.PAPER, "BTC-BRL", T0 + timedelta(seconds=10))
    assert [row.bot_id for row in since] == [late.bot_id]
    assert await store.changed_since(Venue.PAPER, "BTC-BRL", T0 + timedelta(seconds=11)) == []


async def test_watching_counts_armed_triggers_of_bots_not_deleted(db: AsyncSession) -> None:
    store = TriggerStore(db)
    refs = [await _ref(db) for _ in range(4)]
    await store.save(refs[0], _triggers("400000"), 1, T0)
    await store.save(refs[1], BotTriggers(), 1, T0)  # waits for nothing the feed sees
    await store.save(refs[2], _triggers("400000"), 1, T0)
    await store.save(refs[3], _triggers("400000"), 1, T0)
    bot = await db.get(BotRecord, refs[3].bot_id)
    assert bot is not None
    bot.deleted_at = T0
    await db.commit()
    assert await store.watching(Venue.PAPER, "BTC-BRL") == 2
    assert await store.watching(Venue.PAPER, "ETH-BRL") == 0
    # A bot that later publishes nothing leaves the count.
    await store.save(refs[0], BotTriggers(), 2, T0 + timedelta(seconds=1))
    await db.commit()
    assert await store.watching(Venue.PAPER, "BTC-BRL") == 1
    stored: Any = await db.scalar(
        select(BotTriggerRecord.armed).where(BotTriggerRecord.bot_id == refs[0].bot_id)
    )
    assert stored is False


async def test_the_migration_matches_the_model(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Autogenerate finds nothing to add for the triggers table on the migrated database."""

    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with sessions() as session:
        found = await (await session.connection()).run_sync(diff)
    assert [change for change in found if "bot_triggers" in _tables(change)] == []
