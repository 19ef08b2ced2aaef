"""Activities of the bots queue a bot's workflow calls: read its market, project its state and
triggers, tell its user, and make sure its market feed and account sync run.

`bot_observe` runs as a local activity on every timer tick of every bot; bots of one market
share one read per process per second (DESIGN "Bots at scale": many bots on BTC-BRL cost one
read, not many).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

from activities.bot_models import (
    AccountRef,
    BotNotice,
    BotProjection,
    BotRef,
    FeedRef,
    MarketView,
)
from adapters.db.alerts import AlertStore
from adapters.db.bot_triggers import TriggerStore
from adapters.db.bots import BotStore
from adapters.db.models import AuditEvent, User
from adapters.db.models_bots import BotRecord
from adapters.db.outbox import Outbox
from adapters.db.repositories import AuditRepository
from adapters.db.trades import TradeStore
from adapters.exchanges.errors import ExchangeError
from adapters.exchanges.factory import ExchangeFactory
from adapters.exchanges.shared_reads import SharedReads
from domain.accounts import AuditAction
from domain.bots.orders import Strategy
from domain.bots.risk import Observation
from domain.market import Ticker, Venue
from workflows import TaskQueue

__all__ = ["BotActivities", "MarketReads", "exchange_failure", "observation"]

log = structlog.get_logger(__name__)

# How long one read of a market serves every bot of it in this process.
MARKET_READ_SECONDS = 1.0

_MarketKey = tuple[Venue, str]


def exchange_failure(error: ExchangeError) -> ApplicationError:
    """A venue failure as Temporal sees it: retried only when the venue says so."""
    return ApplicationError(error.message, type=error.type_name, non_retryable=not error.retryable)


def observation(ticker: Ticker, previous: Observation | None = None) -> Observation:
    """What a bot sees of a ticker: its last price, the best bid and ask (None for an empty
    side), the day's range as a percentage of the price (the adaptive sell's volatility) and
    the reader's `previous` look (the sanity check's reference for a jump)."""
    volatility = None
    if ticker.high_24h is not None and ticker.low_24h is not None and ticker.last > 0:
        volatility = (ticker.high_24h - ticker.low_24h) / ticker.last * 100
    return Observation(
        price=ticker.last,
        at=ticker.at,
        bid=ticker.bid if ticker.bid > 0 else None,
        ask=ticker.ask if ticker.ask > 0 else None,
        volatility_percent=volatility,
        previous_price=previous.price if previous else None,
        previous_at=previous.at if previous else None,
    )


# The bots' market views, one read per market shared by every bot for a second.
MarketReads = SharedReads[_MarketKey, MarketView]


class BotActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        exchanges: ExchangeFactory,
        client: Client,
        *,
        reads: MarketReads | None = None,
    ) -> None:
        self.sessions = sessions
        self.exchanges = exchanges
        self.client = client
        self.reads = reads or MarketReads(MARKET_READ_SECONDS)
        # This process's previous read of each market (one per market, the reads are shared).
        self._previous: dict[_MarketKey, Observation] = {}

    @activity.defn
    async def bot_observe(self, bot: BotRef) -> MarketView:
        """The market's ticker and rules; public data, no key needed."""
        account = str(bot.user_id) if bot.venue is Venue.PAPER else ""

        async def read() -> MarketView:
            # Stamped with this clock, as the market feed stamps its reads: the one the bot's
            # windows and trigger times are on (a venue's ticker time may lag).
            at = datetime.now(UTC)
            async with self.exchanges.connect(bot.venue, account=account, retry=False) as venue:
                try:
                    ticker, rules = await asyncio.gather(
                        venue.ticker(bot.symbol), venue.market_rules(bot.symbol)
                    )
                except ExchangeError as error:
                    raise exchange_failure(error) from None
            if ticker.last <= 0:  # no trade yet: nothing to decide on; the market may wake up
                raise ApplicationError(f"{bot.symbol} has no last price", type="NoPrice")
            key = (bot.venue, bot.symbol)
            seen = observation(ticker, self._previous.get(key)).model_copy(update={"at": at})
            self._previous[key] = seen
            return MarketView(observation=seen, rules=rules)

        return await self.reads.get((bot.venue, bot.symbol), read)

    @activity.defn
    async def bot_project(self, projection: BotProjection) -> bool:
        """The bot's row and its triggers, in one transaction, then its market's feed made
        sure to run when `start_feed`. Row and triggers are keyed by the projection's
        sequence, so a repeated or late projection changes nothing (and `ensure` twice is
        one running feed); its closed trades are keyed by their number. True: written."""
        bot = projection.bot
        async with self.sessions() as session:
            await BotStore(session).project_bot(
                bot.bot_id,
                projection.sequence,
                status=projection.status,
                pause_reason=projection.pause_reason.value if projection.pause_reason else None,
                pause_detail=projection.pause_detail,
                funds=projection.funds,
                risk=projection.risk,
                last_decision=projection.last_decision,
                at=projection.at,
                config=projection.config,
                order_sequence=projection.order_sequence,
            )
            # Stamped with this write's clock: the feed reads the rows written since its last
            # read, whatever the workflow's time of the projection.
            await TriggerStore(session).save(
                bot, projection.triggers, projection.sequence, datetime.now(UTC)
            )
            await TradeStore(session).record(
                bot_id=bot.bot_id,
                user_id=bot.user_id,
                context_id=bot.context_id,
                quote=projection.funds.quote,
                strategy=Strategy(bot.kind.value),
                trades=projection.trades,
            )
            await session.commit()
        if projection.start_feed:
            await self.bot_ensure_feed(FeedRef(venue=bot.venue, symbol=bot.symbol))
        return True

    @activity.defn
    async def bot_notify(self, notice: BotNotice) -> None:
        """An audit row, a dashboard alert and a mail to the bot's owner, once per (bot, kind,
        at): a retried attempt finds the audit row of the one before and writes nothing."""
        bot = notice.bot
        async with self.sessions() as session:
            earlier = await session.scalars(
                select(AuditEvent.details).where(
                    AuditEvent.user_id == bot.user_id,
                    AuditEvent.action == AuditAction.BOT_NOTICE,
                    AuditEvent.at == notice.at,
                )
            )
            if any(
                d.get("bot_id") == str(bot.bot_id) and d.get("kind") == notice.kind for d in earlier
            ):
                return
            await AuditRepository(session).record(
                AuditAction.BOT_NOTICE,
                user_id=bot.user_id,
                ip=None,
                user_agent=None,
                at=notice.at,
                bot_id=str(bot.bot_id),
                kind=notice.kind,
                message=notice.message,
            )
            AlertStore(session).add(bot.user_id, notice.kind, notice.message, notice.at, bot.bot_id)
            user = await session.get(User, bot.user_id)
            record = await session.get(BotRecord, bot.bot_id)
            if user is not None and user.deleted_at is None:
                name = record.name if record is not None else str(bot.bot_id)
                await Outbox(session).write(
                    user.email,
                    f"Your bot {name}: {notice.kind.replace('_', ' ')}"[:200],
                    _mail_body(name, bot, notice)[:4000],
                    notice.at,
                )
            await session.commit()
        log.info("bot notice", bot_id=str(bot.bot_id), kind=notice.kind)

    @activity.defn
    async def bot_ensure_feed(self, feed: FeedRef) -> None:
        """The market's feed runs (started, or told a bot needs it: the `ensure` signal keeps
        a feed that is deciding to end)."""
        await self._ensure("MarketFeed", feed, feed.workflow_id, TaskQueue.MARKET_FEEDS)

    @activity.defn
    async def bot_ensure_account_sync(self, account: AccountRef) -> None:
        await self._ensure("AccountSync", account, account.workflow_id, TaskQueue.BOTS)

    async def _ensure(self, workflow: str, arg: object, workflow_id: str, queue: str) -> None:
        await self.client.start_workflow(
            workflow,
            arg,
            id=workflow_id,
            task_queue=queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal="ensure",
        )


def _mail_body(name: str, bot: BotRef, notice: BotNotice) -> str:
    return (
        f"{notice.message}\n\n"
        f"Bot: {name} ({bot.symbol} on {bot.venue.value})\n"
        f"When: {notice.at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC\n"
    )
