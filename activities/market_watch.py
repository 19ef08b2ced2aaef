"""The market feed's activity: one reader per market that wakes only the bots with work.

`watch_market` reads its market every MARKET_FEED_SECONDS (one ticker, whatever the number of
bots), keeps the bots' published triggers in memory (loaded once, then only the rows changed
since the previous read), evaluates every bot's triggers on the price and signals `wake` to
the bots whose triggers fired (DESIGN "Bots at scale"); when a candle its Candle bots analyse
closes, it sends them their signals (`activities.market_analysis`). A trigger is a hint: the
woken bot decides again from its own state, so a missed or repeated wake-up costs a tick, never
a trade.
It runs WATCH_RUN_SECONDS and returns to its workflow; the next run starts from a full load.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.bot_models import FeedRef, WatchResult, bot_workflow_id
from activities.bots import observation as ticker_observation
from activities.market_analysis import Analyst
from adapters.db.bot_triggers import TriggerRow, TriggerStore
from adapters.exchanges.base import Exchange
from adapters.exchanges.errors import ExchangeError
from adapters.exchanges.factory import ExchangeFactory
from adapters.settings import Settings
from domain.bots.risk import Observation
from domain.bots.state import BotTriggers

log = structlog.get_logger(__name__)

# A bot signalled and not republished since may have missed the signal (a worker lost it in
# a restart): it is signalled again after this long while its triggers still fire, and each
# further time after twice as long, up to RESIGNAL_MAX: a bot that is only slow (a backlog
# of wake-ups) is not buried under more of them.
RESIGNAL_AFTER = timedelta(seconds=30)
RESIGNAL_MAX = timedelta(minutes=4)
# Rows written by transactions still committing when the previous refresh read: re-read
# them (a row seen twice carries the same version and changes nothing).
SINCE_OVERLAP = timedelta(seconds=5)
SIGNALS_AT_ONCE = 100  # in flight to the server; a heartbeat after each batch


@dataclass(slots=True)
class Watched:
    """One bot as its feed knows it: its triggers, their version, the highest price seen
    since that version (the trailing stop's peak between wake-ups), when it was last
    signalled under those triggers and how long it is left alone after that."""

    triggers: BotTriggers
    version: int
    high: Decimal | None = None
    signalled_at: datetime | None = None
    quiet: timedelta = RESIGNAL_AFTER

    def signalled(self, at: datetime) -> None:
        if self.signalled_at is not None:  # signalled again for the same triggers
            self.quiet = min(self.quiet * 2, RESIGNAL_MAX)
        self.signalled_at = at


@dataclass
class MarketBoard:
    """The bots of one market with something to watch, and their evaluation on a price."""

    bots: dict[uuid.UUID, Watched] = field(default_factory=dict)
    # The newest version seen per bot, kept for bots dropped too: an older (or the same)
    # version read again never brings a bot back.
    versions: dict[uuid.UUID, int] = field(default_factory=dict)

    def update(self, rows: Iterable[TriggerRow]) -> None:
        for row in rows:
            if row.version <= self.versions.get(row.bot_id, -1):
                continue
            self.versions[row.bot_id] = row.version
            known = self.bots.get(row.bot_id)
            if row.triggers.empty:
                self.bots.pop(row.bot_id, None)
            elif known is not None and known.triggers == row.triggers:
                # Woken, the bot decided to hold and published the same triggers again: it
                # is not woken again for them before RESIGNAL_AFTER (no wake-up loop).
                known.version = row.version
            else:
                self.bots[row.bot_id] = Watched(row.triggers, row.version)

    def drop(self, bot_id: uuid.UUID) -> None:
        """The bot's workflow is gone: forget it until it publishes a newer version."""
        self.bots.pop(bot_id, None)

    def fired(self, price: Decimal, at: datetime) -> list[tuple[uuid.UUID, Watched]]:
        """Record `price` in every bot's high and return the bots whose triggers fire on it,
        except those signalled for their current triggers less than their quiet time ago."""
        woken = []
        for bot_id, watched in self.bots.items():
            high = watched.high
            if high is None or price > high:
                watched.high = high = price
            signalled = watched.signalled_at
            if signalled is not None and at - signalled < watched.quiet:
                continue
            if watched.triggers.fired(price, at, high):
                woken.append((bot_id, watched))
        return woken


class MarketWatchActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        exchanges: ExchangeFactory,
        client: Client,
        settings: Settings,
    ) -> None:
        self.sessions = sessions
        self.exchanges = exchanges
        self.client = client
        self.settings = settings

    @activity.defn
    async def watch_market(self, feed: FeedRef) -> WatchResult:
        """Watch the market for WATCH_RUN_SECONDS; a failed read is logged and skipped (the
        next one comes at the next interval). Returns how many bots still watch it."""
        interval = self.settings.market_feed_seconds
        run_seconds = self.settings.watch_run_seconds
        board = MarketBoard()
        clock = asyncio.get_running_loop().time
        started = clock()
        since: datetime | None = None
        reads = woken = 0
        previous: Observation | None = None
        analyst = Analyst(self.sessions, self.client, feed)
        exchange = self.exchanges.connect(feed.venue, retry=False)
        try:
            while True:
                activity.heartbeat()
                since = await self._refresh(board, feed, since)
                observation = await self._read(exchange, feed, previous)
                if observation is not None:
                    previous = observation
                    reads += 1
                    woken += await self._wake(board, observation)
                    watched = ((bot_id, w.triggers) for bot_id, w in board.bots.items())
                    woken += await analyst.analyse(watched, exchange, observation)
                elapsed = clock() - started
                next_cycle = (elapsed // interval + 1) * interval  # missed cycles are skipped
                if next_cycle >= run_seconds:
                    break
                await asyncio.sleep(next_cycle - elapsed)
        finally:
            await exchange.aclose()
        async with self.sessions() as session:
            watching = await TriggerStore(session).watching(feed.venue, feed.symbol)
        return WatchResult(watching=watching, reads=reads, woken=woken)

    async def _refresh(
        self, board: MarketBoard, feed: FeedRef, since: datetime | None
    ) -> datetime | None:
        """Load the triggers changed since the previous refresh; returns the next `since`
        (unchanged when the database could not be read: the known triggers still hold)."""
        read_at = datetime.now(UTC)
        try:
            async with self.sessions() as session:
                rows = await TriggerStore(session).changed_since(
                    feed.venue, feed.symbol, None if since is None else since - SINCE_OVERLAP
                )
        except (SQLAlchemyError, OSError) as exc:
            log.warning("market feed: triggers not read", feed=feed.workflow_id, error=str(exc))
            return since
        board.update(rows)
        return read_at

    async def _read(
        self, exchange: Exchange, feed: FeedRef, previous: Observation | None
    ) -> Observation | None:
        """One look at the market, as a bot's own read sees it (`activities.bots.observation`,
        the volatility from the same ticker), stamped with this clock, the one the bots'
        trigger times are on, carrying the `previous` read (the sanity check's reference);
        None when the venue could not be read."""
        try:
            ticker = await exchange.ticker(feed.symbol)
        except ExchangeError as exc:
            log.warning("market feed: read failed", feed=feed.workflow_id, error=exc.message)
            return None
        if ticker.last <= 0:
            log.warning("market feed: no last price", feed=feed.workflow_id)
            return None
        return ticker_observation(ticker, previous).model_copy(update={"at": datetime.now(UTC)})

    async def _wake(self, board: MarketBoard, observation: Observation) -> int:
        """Signal the bots whose triggers fire on this observation; returns how many were."""
        price = observation.bid or observation.price  # sales are judged on the best bid
        fired = board.fired(price, observation.at)
        woken = 0
        for start in range(0, len(fired), SIGNALS_AT_ONCE):
            batch = fired[start : start + SIGNALS_AT_ONCE]
            results = await asyncio.gather(
                *(self._signal(board, bot_id, watched, observation) for bot_id, watched in batch)
            )
            woken += sum(results)
            activity.heartbeat()
        return woken

    async def _signal(
        self, board: MarketBoard, bot_id: uuid.UUID, watched: Watched, observation: Observation
    ) -> bool:
        handle = self.client.get_workflow_handle(bot_workflow_id(bot_id))
        try:
            await handle.signal("wake", observation.model_copy(update={"high": watched.high}))
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:  # deleted, or ended: nobody to wake
                board.drop(bot_id)
            else:  # not marked signalled: tried again on the next read
                log.warning("market feed: wake not sent", bot_id=str(bot_id), error=exc.message)
            return False
        watched.signalled(observation.at)
        return True
