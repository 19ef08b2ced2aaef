"""The account sync's activity: one follower per venue account for every bot's resting orders.

`sync_account` compares, every ACCOUNT_SYNC_SECONDS, the orders the database holds open for
the account with the venue's open orders (one call: of the one market they are all in, else of
every market), and reports to each bot
the orders that changed without it: ended on the venue (filled, canceled on the venue's own
site, expired) or filled further. No workflow polls its own orders (DESIGN "Orders are
followed per account"). It runs WATCH_RUN_SECONDS, or until the account has no open bot
order, and returns to its workflow.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.bot_models import (
    PLACEMENT_GIVE_UP,
    AccountRef,
    OrderReport,
    SyncResult,
    bot_workflow_id,
)
from adapters.credentials import CredentialService
from adapters.db.bots import BotStore
from adapters.db.models_bots import BotOrderRecord
from adapters.db.repositories import CredentialRepository
from adapters.exchanges.base import Exchange
from adapters.exchanges.errors import ExchangeError, OrderNotFound
from adapters.exchanges.factory import ExchangeFactory
from adapters.settings import Settings
from adapters.vault import Vault, VaultError
from domain.market import Fill, Order, OrderStatus, OrderType, Side, Venue

log = structlog.get_logger(__name__)

# An intent the venue has not heard of this long after it was recorded was never placed and
# never will be, so it is reported REJECTED: no attempt of its placement starts after
# PLACEMENT_GIVE_UP (the first attempt recorded it), and one that started has sent its request
# within its HTTP timeouts (Binance refuses a signed request past its recvWindow). Sooner would
# race a placement still being retried, e.g. by a worker killed mid-placement and restarted
# minutes later: the order would be placed after its bot was told it never was.
INTENT_UNANSWERED = PLACEMENT_GIVE_UP + timedelta(minutes=2)
FILLS_READ = 1000  # the account's newest fills per market, where a reported order's are found


def rejected_intent(record: BotOrderRecord, at: datetime) -> Order:
    """The report of an order the venue never received: REJECTED, without a venue id."""
    return Order(
        order_id="",
        client_order_id=record.client_order_id,
        symbol=record.symbol,
        side=Side(record.side),
        type=OrderType(record.type),
        status=OrderStatus.REJECTED,
        quantity=record.quantity or Decimal(0),
        price=record.price,
        stop_price=record.stop_price,
        created_at=record.created_at,
        updated_at=at,
    )


class AccountSyncActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        vault: Vault,
        exchanges: ExchangeFactory,
        client: Client,
        settings: Settings,
    ) -> None:
        self.sessions = sessions
        self.vault = vault
        self.exchanges = exchanges
        self.client = client
        self.settings = settings

    @activity.defn
    async def sync_account(self, account: AccountRef) -> SyncResult:
        """Sync until WATCH_RUN_SECONDS pass or no bot order of the account is open. A venue
        that cannot be asked is logged and asked again at the next interval."""
        interval = self.settings.account_sync_seconds
        run_seconds = self.settings.watch_run_seconds
        clock = asyncio.get_running_loop().time
        started = clock()
        reported = 0
        while True:
            activity.heartbeat()
            still_open, told = await self._sync(account)
            reported += told
            elapsed = clock() - started
            next_pass = (elapsed // interval + 1) * interval  # missed passes are skipped
            if still_open == 0 or next_pass >= run_seconds:
                return SyncResult(open_orders=still_open, reported=reported)
            await asyncio.sleep(next_pass - elapsed)

    async def _sync(self, account: AccountRef) -> tuple[int, int]:
        """One pass: (bot orders still open, orders reported)."""
        async with self.sessions() as session:
            records = list(await BotStore(session).open_orders(account.user_id, account.venue))
            if not records:
                return 0, 0
            exchange = await self._connect(session, account)
        if exchange is None:
            return len(records), 0
        ended = reported = 0
        try:
            markets = {record.symbol for record in records}
            # One call either way; for one market the venue's cheaper one (Binance: 6, not 80).
            only = next(iter(markets)) if len(markets) == 1 else None
            on_venue = {order.client_order_id: order for order in await exchange.open_orders(only)}
            fills: dict[str, list[Fill]] = {}  # per market, read once a pass
            for record in records:
                order = on_venue.get(record.client_order_id)
                if order is not None and order.filled_quantity <= record.filled_quantity:
                    continue  # open and unchanged
                if order is None:
                    activity.heartbeat()  # a lookup a call: many of them take a while
                    order = await self._look_up(exchange, record)
                    if order is None:
                        continue
                if order.filled_quantity > 0 and order.symbol not in fills:
                    fills[order.symbol] = await exchange.fills(order.symbol, FILLS_READ)
                own = [f for f in fills.get(order.symbol, ()) if f.order_id == order.order_id]
                if await self._report(record, OrderReport(order=order, fills=own)):
                    reported += 1
                    ended += order.status.is_final
        except ExchangeError as exc:
            log.warning("account sync: venue not read", account=account.workflow_id, error=str(exc))
        finally:
            await exchange.aclose()
        return len(records) - ended, reported

    async def _connect(self, session: AsyncSession, account: AccountRef) -> Exchange | None:
        """The account's adapter: the user's paper account, or the user's key for the venue
        (None, logged, when there is none or it cannot be opened)."""
        if account.venue is Venue.PAPER:
            return self.exchanges.connect(Venue.PAPER, account=str(account.user_id), retry=False)
        credential = await CredentialRepository(session).get(account.user_id, account.venue)
        if credential is None:
            log.warning("account sync: no key", account=account.workflow_id)
            return None
        try:
            keys = CredentialService(session, self.vault, self.exchanges, retry=False).keys(
                credential
            )
            return self.exchanges.connect(
                account.venue, keys.api_key, keys.api_secret, testnet=keys.testnet, retry=False
            )
        except (VaultError, ExchangeError) as exc:
            log.warning("account sync: key unusable", account=account.workflow_id, error=str(exc))
            return None

    async def _look_up(self, exchange: Exchange, record: BotOrderRecord) -> Order | None:
        """An order the venue no longer lists as open, as it is now; an intent it never heard
        of is REJECTED once INTENT_UNANSWERED has passed (None before: its placement may be
        on its way)."""
        try:
            return await exchange.get_order(record.symbol, client_order_id=record.client_order_id)
        except OrderNotFound:
            now = datetime.now(UTC)
            if record.exchange_order_id is None and now - record.created_at >= INTENT_UNANSWERED:
                return rejected_intent(record, now)
            if record.exchange_order_id is not None:
                log.warning(
                    "account sync: venue lost an order", client_order_id=record.client_order_id
                )
            return None

    async def _report(self, record: BotOrderRecord, report: OrderReport) -> bool:
        """Tell the bot, then record. In that order: a report recorded but never told would
        leave the order final in the database and its bot waiting for it forever; a report
        told and not recorded (a failed write) is told again at the next pass, which the bot
        takes as a repeat."""
        handle = self.client.get_workflow_handle(bot_workflow_id(record.bot_id))
        try:
            await handle.signal("order_update", report)
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:  # told at the next pass
                log.warning(
                    "account sync: report not sent", bot_id=str(record.bot_id), error=exc.message
                )
                return False
            # The bot is gone (deleted): its order is still recorded, for its history.
        async with self.sessions() as session:
            store = BotStore(session)
            await store.record_order_state(report.order)
            await store.record_fills(report.order.client_order_id, report.fills)
            await session.commit()
        return True
