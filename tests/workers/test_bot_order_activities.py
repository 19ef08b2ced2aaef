"""A bot's placements and cancels (activities/bot_orders.py) on the paper venue and the Binance
simulator, each called with a real activity context: the intent is recorded before the order
leaves, a repeated placement makes no second order, the venue's refusals are answers, and a
cancel of an order already final answers its state."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError

from activities.bot_models import BotRef, CancelOrder, OrderOutcome, PlaceOrder
from activities.bot_orders import OrderActivities
from adapters.credentials import CredentialService, Keys
from adapters.db.bots import BotStore
from adapters.db.models_bots import BotFillRecord, BotOrderRecord
from adapters.exchanges.base import Exchange
from adapters.exchanges.factory import ExchangeFactory
from adapters.settings import Settings
from adapters.vault import Vault
from domain.bots.orders import Strategy, client_order_id
from domain.market import OrderRequest, OrderStatus, OrderType, Side, Venue
from tests.exchanges.conftest_binance import BinanceSim, SimFactory
from tests.workers.bot_support import make_bot, run

pytestmark = pytest.mark.database

VENUES = [Venue.PAPER, Venue.BINANCE]


@pytest.fixture
def vault(settings: Settings) -> Vault:
    return Vault(settings.credential_keys, settings.credentials_key_version)


def placement(bot: BotRef, sequence: int, type_: OrderType, **fields: Any) -> PlaceOrder:
    cid = client_order_id(bot.workflow_id, sequence)
    request = OrderRequest(
        client_order_id=cid, symbol=bot.symbol, side=Side.BUY, type=type_, **fields
    )
    context = {"source": "smart", "reason": "interval", "best_bid": "349000"}
    return PlaceOrder(bot=bot, request=request, strategy=Strategy.SMART, creation_context=context)


class Account:
    """A bot with a funded account on `venue`, and the venue seen from that account."""

    def __init__(self, bot: BotRef, venue: Exchange) -> None:
        self.bot = bot
        self.venue = venue
        self.sequence = 0

    def place(self, type_: OrderType = OrderType.MARKET, **fields: Any) -> PlaceOrder:
        self.sequence += 1
        return placement(self.bot, self.sequence - 1, type_, **fields)

    async def orders_named(self, cid: str) -> int:
        return sum(o.client_order_id == cid for o in await self.venue.recent_orders("BTC-BRL"))


async def open_account(
    venue: Venue,
    db: AsyncSession,
    factory: ExchangeFactory,
    vault: Vault,
    sim: BinanceSim,
    **balances: str,
) -> Account:
    bot = await make_bot(db, venue)
    if venue is Venue.PAPER:  # a new paper account starts with 100,000 BRL
        return Account(bot, factory.connect(venue, account=str(bot.user_id)))
    key, secret = await sim.account(**balances)
    service = CredentialService(db, vault, factory, retry=False)
    await service.save(bot.user_id, venue, Keys(key, secret), datetime.now(UTC))
    await db.commit()
    return Account(bot, factory.connect(venue, key, secret))


@pytest.fixture
def orders(
    sessions: async_sessionmaker[AsyncSession], vault: Vault, factory: ExchangeFactory
) -> OrderActivities:
    return OrderActivities(sessions, vault, factory)


async def _stored(db: AsyncSession, cid: str) -> BotOrderRecord:
    record = await BotStore(db).order_by_client_id(cid)
    assert record is not None
    return record


async def _fills_stored(db: AsyncSession, cid: str) -> int:
    query = select(func.count()).where(BotFillRecord.client_order_id == cid)
    return int(await db.scalar(query) or 0)


@pytest.mark.parametrize("venue", VENUES)
async def test_a_market_buy_by_quote_fills_and_a_repeat_makes_no_second_order(
    venue: Venue,
    db: AsyncSession,
    factory: ExchangeFactory,
    vault: Vault,
    binance_sim: BinanceSim,
    orders: OrderActivities,
) -> None:
    account = await open_account(venue, db, factory, vault, binance_sim, BRL="100000")
    place = account.place(quote_quantity=Decimal("500"))
    cid = place.request.client_order_id

    outcome: OrderOutcome = await run(orders.bot_place_order, place)
    order = outcome.order
    assert order is not None and order.status is OrderStatus.FILLED
    assert outcome.rejected is None and not outcome.credentials_refused
    assert outcome.fills and {f.order_id for f in outcome.fills} == {order.order_id}
    assert sum(f.quantity for f in outcome.fills) == order.filled_quantity > 0
    stored = await _stored(db, cid)
    assert (stored.status, stored.exchange_order_id) == ("FILLED", order.order_id)
    assert stored.filled_quantity == order.filled_quantity
    assert stored.creation_context == place.creation_context
    assert stored.strategy == Strategy.SMART
    assert await _fills_stored(db, cid) == len(outcome.fills)

    again: OrderOutcome = await run(orders.bot_place_order, place)
    assert again.order is not None and again.order.order_id == order.order_id
    assert [f.trade_id for f in again.fills] == [f.trade_id for f in outcome.fills]
    assert await account.orders_named(cid) == 1
    assert await _fills_stored(db, cid) == len(outcome.fills)


@pytest.mark.parametrize("venue", VENUES)
async def test_an_order_the_venue_refuses_is_rejected_and_recorded(
    venue: Venue,
    db: AsyncSession,
    factory: ExchangeFactory,
    vault: Vault,
    binance_sim: BinanceSim,
    orders: OrderActivities,
) -> None:
    account = await open_account(venue, db, factory, vault, binance_sim, BRL="100")
    place = account.place(quote_quantity=Decimal("500000"))  # more BRL than the account holds

    outcome: OrderOutcome = await run(orders.bot_place_order, place)
    assert outcome.order is None and outcome.fills == []
    assert outcome.rejected and not outcome.credentials_refused
    stored = await _stored(db, place.request.client_order_id)
    assert (stored.status, stored.exchange_order_id) == ("REJECTED", None)
    assert stored.creation_context == place.creation_context


async def test_without_a_key_for_the_venue_the_credentials_are_refused(
    db: AsyncSession, orders: OrderActivities
) -> None:
    bot = await make_bot(db, Venue.BINANCE)
    place = placement(bot, 0, OrderType.MARKET, quote_quantity=Decimal("50"))

    outcome: OrderOutcome = await run(orders.bot_place_order, place)
    assert outcome.credentials_refused and outcome.rejected and outcome.order is None
    assert (await _stored(db, place.request.client_order_id)).status == "REJECTED"


@pytest.mark.parametrize("venue", VENUES)
async def test_a_resting_limit_order_is_canceled_and_a_final_one_answers_its_state(
    venue: Venue,
    db: AsyncSession,
    factory: ExchangeFactory,
    vault: Vault,
    binance_sim: BinanceSim,
    orders: OrderActivities,
) -> None:
    account = await open_account(venue, db, factory, vault, binance_sim, BRL="100000")
    rules = await account.venue.market_rules("BTC-BRL")
    last = (await account.venue.ticker("BTC-BRL")).last
    price = rules.quantise_price(last / 2, Side.BUY)  # far below the market: it rests
    resting = account.place(OrderType.LIMIT, quantity=Decimal("0.001"), price=price)
    cid = resting.request.client_order_id

    placed: OrderOutcome = await run(orders.bot_place_order, resting)
    assert placed.order is not None and placed.order.status is OrderStatus.NEW
    assert (await _stored(db, cid)).status == "NEW"

    cancel = CancelOrder(bot=account.bot, client_order_id=cid)
    canceled: OrderOutcome = await run(orders.bot_cancel_order, cancel)
    assert canceled.order is not None and canceled.order.status is OrderStatus.CANCELED
    assert canceled.order.order_id == placed.order.order_id and canceled.fills == []
    assert (await _stored(db, cid)).status == "CANCELED"
    # Canceled already (an earlier attempt whose answer was lost): the same answer.
    repeat: OrderOutcome = await run(orders.bot_cancel_order, cancel, attempt=2)
    assert repeat.order is not None and repeat.order.status is OrderStatus.CANCELED

    bought = account.place(quote_quantity=Decimal("100"))
    filled: OrderOutcome = await run(orders.bot_place_order, bought)
    assert filled.order is not None
    late = CancelOrder(bot=account.bot, client_order_id=bought.request.client_order_id)
    answer: OrderOutcome = await run(orders.bot_cancel_order, late)
    assert answer.order is not None and answer.order.status is OrderStatus.FILLED
    assert [f.trade_id for f in answer.fills] == [f.trade_id for f in filled.fills]


async def test_the_intent_is_recorded_before_a_placement_whose_answer_is_lost(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    vault: Vault,
    binance_sim_factory: SimFactory,
) -> None:
    """The venue placed the order but its answer never came: the attempt fails (Temporal
    retries it), the intent is already recorded, and the retry finds the order instead of
    placing a second one."""
    sim = binance_sim_factory()  # its own: faults on the shared simulator would hit others
    own = ExchangeFactory(settings.model_copy(update={"binance_base_url": sim.base_url}))
    try:
        account = await open_account(Venue.BINANCE, db, own, vault, sim, BRL="10000")
        orders = OrderActivities(sessions, vault, own)
        place = account.place(quote_quantity=Decimal("200"))
        cid = place.request.client_order_id
        # The order is placed, its answer lost, and the venue then fails the look-ups too.
        await sim.fault(path="/api/v3/order", status=503, after_processing=True, count=100)

        with pytest.raises(ApplicationError) as failure:
            await run(orders.bot_place_order, place)
        assert not failure.value.non_retryable
        (await sim.http.delete("/_sim/faults")).raise_for_status()
        assert await account.orders_named(cid) == 1  # the venue has it, the bot not yet
        stored = await _stored(db, cid)
        assert (stored.status, stored.exchange_order_id) == ("NEW", None)
        assert stored.creation_context == place.creation_context

        retried: OrderOutcome = await run(orders.bot_place_order, place, attempt=2)
        assert retried.order is not None and retried.order.status is OrderStatus.FILLED
        assert await account.orders_named(cid) == 1
        await db.refresh(stored)
        assert stored.status == "FILLED"
        assert await _fills_stored(db, cid) == len(retried.fills) > 0
    finally:
        await own.aclose()


async def test_another_bots_client_order_id_is_refused_before_anything_is_sent(
    db: AsyncSession,
    factory: ExchangeFactory,
    vault: Vault,
    binance_sim: BinanceSim,
    orders: OrderActivities,
) -> None:
    owner = await open_account(Venue.PAPER, db, factory, vault, binance_sim)
    intruder = await open_account(Venue.PAPER, db, factory, vault, binance_sim)
    taken = owner.place(quote_quantity=Decimal("50"))
    await run(orders.bot_place_order, taken)

    stolen = taken.model_copy(update={"bot": intruder.bot})
    with pytest.raises(ApplicationError) as failure:
        await run(orders.bot_place_order, stolen)
    assert failure.value.non_retryable and failure.value.type == "OrderNotRecorded"
    assert await intruder.orders_named(taken.request.client_order_id) == 0
    assert (await _stored(db, taken.request.client_order_id)).bot_id == owner.bot.bot_id


async def test_an_order_of_a_bot_not_yet_recorded_is_retried_and_nothing_is_sent(
    db: AsyncSession,
    factory: ExchangeFactory,
    vault: Vault,
    binance_sim: BinanceSim,
    orders: OrderActivities,
) -> None:
    """The API starts a bot's workflow before its row commits: a first order that comes
    sooner fails retryably (Temporal tries again once the row is there), having sent nothing."""
    account = await open_account(Venue.PAPER, db, factory, vault, binance_sim)
    early = account.place(quote_quantity=Decimal("50"))
    unknown = early.bot.model_copy(update={"bot_id": uuid.uuid4()})
    early = early.model_copy(update={"bot": unknown})
    with pytest.raises(ApplicationError) as failure:
        await run(orders.bot_place_order, early)
    assert not failure.value.non_retryable and failure.value.type == "BotNotRecorded"
    assert await account.orders_named(early.request.client_order_id) == 0
