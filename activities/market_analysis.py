"""A market feed's analysis for its Candle bots: when a candle of a timeframe its bots use
closes, the feed reads that timeframe's latest candles once, computes each distinct strategy's
signal once (`domain.signals.analyse`), records every bot's signal and sends it to the bot
(`analysis`), which decides on its own state (`domain.bots.candle`). Many bots on one market
never fetch the same candles twice (issue 12).

The latest candle a venue returns is the one still open; the ones before it are closed. The
next read of a timeframe waits until its open candle's end (`next_read`), so a timeframe costs
the venue one candle read per candle, not one per price read. A bot is sent each closed
candle's signal once per watch run; a new run (or a restarted worker) may send the last one
again, which the bot and the signals table both take once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import polars as pl
import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError

from activities.bot_models import CandleAnalysis, FeedRef, bot_workflow_id
from adapters.db.bot_signals import SignalStore
from adapters.exchanges.base import Exchange
from adapters.exchanges.errors import ExchangeError
from domain.bots.risk import Observation
from domain.bots.state import BotTriggers
from domain.indicators.availability import timeframe_seconds
from domain.market import Candle, epoch_ms
from domain.signals import MAX_CANDLES, CandleStrategy, Signal, analyse, candles_needed

log = structlog.get_logger(__name__)

# A candle is read this long after its end: the venue has closed it by then.
CLOSE_LAG = timedelta(seconds=1)
# After a read that found no new closed candle (the venue was late), the next one comes this
# long after, at most.
RETRY_AFTER = timedelta(seconds=5)


@dataclass
class Analyst:
    """One watch run's analysis of its market; `due` and `sent` live as long as the run."""

    sessions: async_sessionmaker[AsyncSession]
    client: Client
    feed: FeedRef
    due: dict[str, datetime] = field(default_factory=dict)  # timeframe -> its next read
    sent: dict[uuid.UUID, int] = field(default_factory=dict)  # bot -> candle sent this run

    async def analyse(
        self,
        watched: Iterable[tuple[uuid.UUID, BotTriggers]],
        exchange: Exchange,
        observation: Observation,
    ) -> int:
        """Analyse every timeframe whose candle closed for the `watched` bots; returns how
        many were sent a signal. A failed candle read is tried again at the next price read."""
        now = datetime.now(UTC)
        by_timeframe: dict[str, list[tuple[uuid.UUID, CandleStrategy, int | None]]] = {}
        for bot_id, triggers in watched:
            wanted = triggers.analysis
            if wanted is not None:
                by_timeframe.setdefault(wanted.strategy.timeframe, []).append(
                    (bot_id, wanted.strategy, wanted.seen_ms)
                )
        sent = 0
        for timeframe, bots in by_timeframe.items():
            if now < self.due.get(timeframe, now):
                continue
            needed = max(candles_needed(strategy) for _, strategy, _ in bots)
            closed = await self._closed_candles(exchange, timeframe, needed, now)
            if not closed:
                continue
            last_ms = epoch_ms(closed[-1].open_time)
            waiting = [
                (bot_id, strategy)
                for bot_id, strategy, seen_ms in bots
                if (seen_ms is None or seen_ms < last_ms) and self.sent.get(bot_id) != last_ms
            ]
            if waiting:
                sent += await self.deliver(waiting, timeframe, candle_frame(closed), observation)
                activity.heartbeat()
        return sent

    async def _closed_candles(
        self, exchange: Exchange, timeframe: str, needed: int, now: datetime
    ) -> list[Candle]:
        """The latest closed candles (the open one dropped), and the next read's time."""
        try:
            candles = await exchange.candles(
                self.feed.symbol, timeframe, limit=min(needed + 1, MAX_CANDLES)
            )
        except ExchangeError as exc:
            log.warning("market feed: candles not read", feed=self.feed.workflow_id,
                        timeframe=timeframe, error=exc.message)  # fmt: skip
            return []
        if len(candles) < 2:
            self.due[timeframe] = now + RETRY_AFTER
            return []
        self.due[timeframe] = next_read(candles[-1].open_time, timeframe, now)
        return candles[:-1]

    async def deliver(
        self,
        bots: list[tuple[uuid.UUID, CandleStrategy]],
        timeframe: str,
        candles: pl.DataFrame,
        observation: Observation,
    ) -> int:
        """Each distinct strategy's signal once; recorded, then sent to its bots. Candles the
        analysis refuses (a venue's out-of-order or repeated candles) skip this close: the feed
        and its price triggers go on."""
        try:
            distinct = {strategy for _, strategy in bots}
            signals = {strategy: analyse(candles, strategy) for strategy in distinct}
        except ValueError as exc:
            log.warning("market feed: candles not analysed", feed=self.feed.workflow_id,
                        timeframe=timeframe, error=str(exc))  # fmt: skip
            return 0
        by_bot = {bot_id: signals[strategy] for bot_id, strategy in bots}
        try:
            async with self.sessions() as session:
                await SignalStore(session).record(by_bot, timeframe, datetime.now(UTC))
                await session.commit()
        except (SQLAlchemyError, OSError) as exc:  # sent anyway: the bot acts on it
            log.warning("market feed: signals not recorded", feed=self.feed.workflow_id,
                        error=str(exc))  # fmt: skip
        results = await asyncio.gather(
            *(self._send(bot_id, signal, observation) for bot_id, signal in by_bot.items())
        )
        return sum(results)

    async def _send(self, bot_id: uuid.UUID, signal: Signal, observation: Observation) -> bool:
        handle = self.client.get_workflow_handle(bot_workflow_id(bot_id))
        try:
            await handle.signal("analysis", CandleAnalysis(signal=signal, observation=observation))
        except RPCError as exc:  # ended, or the server busy: the next candle's comes anyway
            log.warning("market feed: signal not sent", bot_id=str(bot_id), error=exc.message)
            return False
        self.sent[bot_id] = signal.candle_open_ms
        return True


def next_read(opened: datetime, timeframe: str, now: datetime) -> datetime:
    """When to read a timeframe again, its open candle having opened at `opened` (venue time).
    Just after that candle's end by our clock; at the next price read when the venue's clock
    runs ahead of ours (a simulator replaying real candles at speed: waiting on our clock would
    skip its candles), and a little later when the venue is late closing it."""
    if opened > now:
        return now
    ends = opened + timedelta(seconds=timeframe_seconds(timeframe)) + CLOSE_LAG
    return ends if ends > now else now + RETRY_AFTER


def candle_frame(candles: list[Candle]) -> pl.DataFrame:
    """The candles as `analyse` reads them (exact decimals, oldest first)."""
    return pl.DataFrame(
        {
            "open_time_ms": [epoch_ms(c.open_time) for c in candles],
            "open": [c.open for c in candles],
            "high": [c.high for c in candles],
            "low": [c.low for c in candles],
            "close": [c.close for c in candles],
            "volume": [c.volume for c in candles],
        }
    )
