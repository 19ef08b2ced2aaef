"""The account sync on the real database, a Binance simulator of its own (half of a resting
order fills per crossing move), the paper venue and the Temporal dev server: orders that
changed without their bot are found in one open-orders call, recorded and reported to the bot
(at stand-in workflows, tests/workers/bot_signals.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.account_sync import INTENT_UNANSWERED, AccountSyncActivities
from activities.bot_models import PLACEMENT_GIVE_UP, AccountRef, SyncResult, bot_workflow_id
from adapters.credentials import CredentialService, Keys
from adapters.db.bots import BotStore
from adapters.db.models_bots import BotOrderRecord
from adapters.exchanges.base import Exchange
from adapters.exchanges.factory import ExchangeFactory
from adapters.settings import Settings
from adapters.vault import Vault
from domain.bots.orders import Strategy, client_order_id
from domain.market import Order, OrderRequest, OrderStatus, OrderType, Side, Venue
from tests.adapters.test_bot_storage import _bot, _user
from tests.exchanges.conftest_binance import BTC_BRL, BinanceSim, SimFactory
from tests.workers.bot_signals import arrived, bot_targets

pytestmark = pytest.mark.database

PRICE = Decimal(350000)
TIMINGS = {"watch_run_seconds": 1.0, "account_sync_seconds": 0.2}


def _buy(cid: str, quantity: str, price: str) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid, symbol="BTC-BRL", side=Side.BUY, type=OrderType.LIMIT,
        quantity=Decimal(quantity), price=Decimal(price),
    )  # fmt: skip


@pytest.fixture(scope="module")
def half_fills(binance_sim_factory: SimFactory) -> BinanceSim:
    return binance_sim_factory(symbols=[BTC_BRL], partial_fill_ratio=Decimal("0.5"))


@dataclass
class Account:
    """A user with a bot, their venue account, and the sync activity over it."""

    ref: AccountRef
    bot_id: uuid.UUID
    venue: Exchange  # the account, as the venue's own site would act on it
    sync: AccountSyncActivities
    sessions: async_sessionmaker[AsyncSession]
    sequence: int = 0

    async def intend(self, quantity: str, price: str, *, ago: timedelta = timedelta()) -> str:
        """An order of the bot recorded before it leaves (`ago`: that long ago)."""
        cid = client_order_id(bot_workflow_id(self.bot_id), self.sequence)
        self.sequence += 1
        request = _buy(cid, quantity, price)
        async with self.sessions() as session:
            await BotStore(session).record_order_intent(
                self.bot_id, request, venue=self.ref.venue, strategy=Strategy.SMART,
                creation_context={"source": "test"}, at=datetime.now(UTC) - ago,
            )  # fmt: skip
            await session.commit()
        return cid

    async def place(self, quantity: str, price: str) -> Order:
        """An order placed as the bot places it: intent, venue, the venue's answer recorded."""
        cid = await self.intend(quantity, price)
        order = await self.venue.create_order(_buy(cid, quantity, price))
        async with self.sessions() as session:
            await BotStore(session).record_order_state(order)
            await session.commit()
        return order

    async def run(self) -> SyncResult:
        return await ActivityEnvironment().run(self.sync.sync_account, self.ref)

    async def stored(self, cid: str) -> BotOrderRecord:
        async with self.sessions() as session:
            record = await session.scalar(
                select(BotOrderRecord).where(BotOrderRecord.client_order_id == cid)
            )
            assert record is not None
            return record


async def _account(
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal: Client,
    factory: ExchangeFactory,
    venue: Venue,
    keys: Keys | None = None,
) -> Account:
    user_id, context_id = await _user(db)
    bot = await _bot(BotStore(db), user_id, context_id)
    # Committed before the key is checked at the venue: on SQLite this session's open write
    # would hold the venue budget's writes (another connection) for their whole busy timeout.
    await db.commit()
    vault = Vault(settings.credential_keys, settings.credentials_key_version)
    if keys is not None:
        await CredentialService(db, vault, factory).save(user_id, venue, keys, datetime.now(UTC))
    await db.commit()
    if keys is None:
        exchange = factory.connect(venue, account=str(user_id))
    else:
        exchange = factory.connect(venue, keys.api_key, keys.api_secret)
    sync = AccountSyncActivities(sessions, vault, factory, temporal, settings)
    return Account(AccountRef(user_id=user_id, venue=venue), bot.id, exchange, sync, sessions)


@pytest.fixture
async def factory(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], half_fills: BinanceSim
) -> AsyncIterator[ExchangeFactory]:
    local = settings.model_copy(update={"binance_base_url": half_fills.base_url})
    exchanges = ExchangeFactory(local, sessions=sessions)
    yield exchanges
    await exchanges.aclose()


@pytest.fixture
async def binance(
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal: Client,
    factory: ExchangeFactory,
    half_fills: BinanceSim,
) -> AsyncIterator[Account]:
    await half_fills.set_price("BTCBRL", PRICE)
    key, secret = await half_fills.account(BRL="1000")
    account = await _account(
        db, sessions, settings.model_copy(update=TIMINGS), temporal, factory, Venue.BINANCE,
        Keys(key, secret),
    )  # fmt: skip
    yield account
    await account.venue.aclose()


async def test_an_order_canceled_on_the_venue_is_recorded_and_reported(
    binance: Account, temporal: Client
) -> None:
    order = await binance.place("0.0004", "340000")
    assert order.status is OrderStatus.NEW
    await binance.venue.cancel_order("BTC-BRL", client_order_id=order.client_order_id)
    async with bot_targets(temporal, [binance.bot_id]) as targets:
        result = await binance.run()
        received = await arrived(targets[binance.bot_id], reports=1)
    assert result == SyncResult(open_orders=0, reported=1)  # nothing left open: it returned
    [report] = received.reports
    assert (report.order.client_order_id, report.order.status, report.fills) == (
        order.client_order_id,
        OrderStatus.CANCELED,
        [],
    )
    assert (await binance.stored(order.client_order_id)).status == "CANCELED"


async def test_orders_all_in_one_market_are_read_with_the_cheaper_call(
    binance: Account, temporal: Client, half_fills: BinanceSim
) -> None:
    """Binance weighs openOrders 6 for one symbol and 80 for all: an account whose open bot
    orders are all in one market (the usual case) is read with the former."""
    order = await binance.place("0.0004", "340000")
    await binance.venue.cancel_order("BTC-BRL", client_order_id=order.client_order_id)
    before = await used_weight(half_fills)
    async with bot_targets(temporal, [binance.bot_id]) as targets:
        result = await binance.run()  # one pass: the venue's open orders, then the lookup
        await arrived(targets[binance.bot_id], reports=1)
    assert result.open_orders == 0
    assert await used_weight(half_fills) - before < 80


async def used_weight(sim: BinanceSim) -> int:
    """The simulator's REQUEST_WEIGHT used this minute, the ping's own 1 included."""
    response = await sim.http.get("/api/v3/ping")
    response.raise_for_status()
    return int(response.headers["X-MBX-USED-WEIGHT-1M"])


async def test_a_partial_fill_is_reported_once(
    binance: Account, temporal: Client, half_fills: BinanceSim
) -> None:
    order = await binance.place("0.0004", "340000")
    assert await half_fills.set_price("BTCBRL", Decimal(339000)) == 1
    async with bot_targets(temporal, [binance.bot_id]) as targets:
        result = await binance.run()  # several passes: the fill is new only to the first
        received = await arrived(targets[binance.bot_id], reports=1)
    assert result == SyncResult(open_orders=1, reported=1)
    [report] = received.reports
    assert report.order.status is OrderStatus.PARTIALLY_FILLED
    assert report.order.filled_quantity == Decimal("0.0002")
    [fill] = report.fills
    assert (fill.order_id, fill.quantity, fill.price) == (
        order.order_id,
        Decimal("0.0002"),
        Decimal(340000),
    )
    stored = await binance.stored(order.client_order_id)
    assert (stored.status, stored.filled_quantity) == ("PARTIALLY_FILLED", Decimal("0.0002"))
    async with binance.sessions() as session:
        fills = await BotStore(session).order_fills(binance.ref.user_id, order.client_order_id)
    assert [f.trade_id for f in fills] == [fill.trade_id]


async def test_an_intent_the_venue_never_received_is_rejected_once_no_retry_can_send_it(
    binance: Account, temporal: Client
) -> None:
    """Not before: a placement retried minutes later (its worker killed and restarted) would
    place the order its bot was told was never placed."""
    assert INTENT_UNANSWERED > PLACEMENT_GIVE_UP
    lost = await binance.intend("0.0004", "340000", ago=INTENT_UNANSWERED + timedelta(seconds=5))
    # Its placement may still be retried (five minutes on: the old two-minute rule's race).
    in_flight = await binance.intend("0.0004", "340000", ago=timedelta(minutes=5))
    async with bot_targets(temporal, [binance.bot_id]) as targets:
        result = await binance.run()
        received = await arrived(targets[binance.bot_id], reports=1)
    assert result == SyncResult(open_orders=1, reported=1)
    [report] = received.reports
    assert (report.order.client_order_id, report.order.status, report.order.order_id) == (
        lost,
        OrderStatus.REJECTED,
        "",
    )
    assert (await binance.stored(lost)).status == "REJECTED"
    assert (await binance.stored(in_flight)).status == "NEW"


async def test_a_paper_order_canceled_outside_the_bot_is_found(
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal: Client,
    factory: ExchangeFactory,
) -> None:
    paper = await _account(
        db, sessions, settings.model_copy(update=TIMINGS), temporal, factory, Venue.PAPER
    )
    last = (await paper.venue.ticker("BTC-BRL")).last
    order = await paper.place("0.001", str((last / 2).quantize(Decimal(1))))  # rests
    await paper.venue.cancel_order("BTC-BRL", client_order_id=order.client_order_id)
    async with bot_targets(temporal, [paper.bot_id]) as targets:
        result = await paper.run()
        received = await arrived(targets[paper.bot_id], reports=1)
    assert result == SyncResult(open_orders=0, reported=1)
    assert [r.order.status for r in received.reports] == [OrderStatus.CANCELED]
    assert (await paper.stored(order.client_order_id)).status == "CANCELED"
    await paper.venue.aclose()
