"""The market feed's analysis refuses candles it cannot read in order, without stopping the
feed: the close is skipped, nothing is recorded or sent, the next close is analysed again. It
reads a timeframe again once its open candle has closed, by the venue's clock where that runs
ahead of ours."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.bot_models import FeedRef
from activities.market_analysis import CLOSE_LAG, RETRY_AFTER, Analyst, next_read
from adapters.db.models_bots import BotSignalRecord
from domain.bots.risk import Observation
from domain.market import Venue
from domain.signals import CandleStrategy

pytestmark = pytest.mark.database

FEED = FeedRef(venue=Venue.BINANCE, symbol="BTC-BRL")
NOW = datetime(2026, 12, 7, 12, 0, 30, tzinfo=UTC)


def test_the_next_read_comes_when_the_open_candle_ends() -> None:
    opened = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert next_read(opened, "1m", NOW) == opened + timedelta(minutes=1) + CLOSE_LAG
    assert next_read(opened, "1h", NOW) == opened + timedelta(hours=1) + CLOSE_LAG


def test_a_venue_late_to_close_its_candle_is_read_again_a_little_later() -> None:
    opened = NOW - timedelta(minutes=2)  # should have closed a minute ago
    assert next_read(opened, "1m", NOW) == NOW + RETRY_AFTER


def test_a_venue_whose_clock_runs_ahead_is_read_at_the_next_price_read() -> None:
    """A simulator replaying real candles at speed opens candles our clock has not reached:
    waiting for their end by our clock would skip every candle in between."""
    opened = NOW + timedelta(hours=3)
    assert next_read(opened, "1m", NOW) == NOW


async def test_candles_out_of_order_skip_the_close_and_the_feed_goes_on(
    sessions: async_sessionmaker[AsyncSession], temporal: Client
) -> None:
    repeated = pl.DataFrame(
        {
            "open_time_ms": [60_000, 60_000, 120_000],  # a venue's repeated candle
            "open": [1.0, 1.0, 1.1],
            "high": [1.2, 1.2, 1.3],
            "low": [0.9, 0.9, 1.0],
            "close": [1.1, 1.1, 1.2],
            "volume": [5.0, 5.0, 6.0],
        }
    )
    strategy = CandleStrategy.model_validate({"timeframe": "1m", "rsi": {"period": 2}})
    seen = Observation(price=Decimal("1.2"), at=datetime.now(UTC))
    analyst = Analyst(sessions, temporal, FEED)
    sent = await analyst.deliver([(uuid.uuid4(), strategy)], "1m", repeated, seen)
    assert sent == 0 and analyst.sent == {}
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(BotSignalRecord)) == 0
