"""What the bots and orders API tests share: a logged-in trader, contexts and bot rows written
straight to the database (no workflow), the caller's plan and Binance key, and waiting for a
bot to read a status."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError

from activities.bot_models import bot_workflow_id
from adapters.credentials import CredentialService, Keys
from adapters.db.bots import BotStore
from adapters.db.models import ContextStatus, ExchangeCredential, PauseReason, TradingContext
from adapters.db.models_bots import BotRecord
from adapters.exchanges.factory import ExchangeFactory
from adapters.settings import Settings
from adapters.subscriptions import SubscriptionStore
from adapters.temporal import connect
from adapters.vault import Vault
from api.app import create_app
from api.deps import Services
from domain.bots.funds import BotFunds
from domain.bots.orders import Strategy
from domain.bots.risk import RiskState
from domain.bots.state import BotKind, BotStatus
from domain.market import Fill, Order, OrderRequest, OrderStatus, OrderType, Side, Venue
from domain.plans import Plan
from domain.subscriptions import SubscriptionState
from tests.conftest import STRONG_PASSWORD, bearer, free_port
from tests.exchanges.conftest_binance import BinanceSim

MANUAL = {"mode": "MANUAL", "order_amount": "50", "allocated_balance": "1000"}
Sessions = async_sessionmaker[AsyncSession]


@dataclass
class Trader:
    id: uuid.UUID
    headers: dict[str, str]


@pytest.fixture
def trader(api: httpx.AsyncClient, register: Callable[..., Any]) -> Callable[[], Awaitable[Trader]]:
    async def make() -> Trader:
        body, registered = await register()
        login = await api.post(
            "/api/auth/login", json={"email": body["email"], "password": STRONG_PASSWORD}
        )
        assert login.status_code == 200, login.text
        return Trader(uuid.UUID(registered["id"]), bearer(login.json()))

    return make


async def add_context(
    sessions: Sessions,
    user_id: uuid.UUID,
    *,
    exchange: str = "paper",
    coin: str = "BTC",
    fiat: str = "BRL",
    paused: bool = False,
) -> uuid.UUID:
    async with sessions() as session:
        context = TradingContext(
            user_id=user_id,
            coin=coin,
            fiat=fiat,
            exchange=exchange,
            status=ContextStatus.PAUSED if paused else ContextStatus.ACTIVE,
            paused_reason=PauseReason.USER if paused else None,
        )
        session.add(context)
        await session.commit()
        return context.id


async def add_bot_row(
    sessions: Sessions,
    user_id: uuid.UUID,
    context_id: uuid.UUID,
    *,
    allocated: str = "1000",
    status: BotStatus = BotStatus.RUNNING,
    deleted: bool = False,
) -> uuid.UUID:
    """A bot's row without a workflow (what the plan and funds checks read)."""
    async with sessions() as session:
        bot = await BotStore(session).create_bot(
            user_id=user_id,
            context_id=context_id,
            kind=BotKind.SMART,
            name="row only",
            config={**MANUAL, "symbol": "BTC-BRL", "allocated_balance": allocated},
            funds=BotFunds.allocate("BTC-BRL", Decimal(allocated)),
            risk=RiskState(),
            at=datetime.now(UTC),
        )
        bot.status = status
        bot.deleted_at = datetime.now(UTC) if deleted else None
        await session.commit()
        return bot.id


def bot_body(context_id: uuid.UUID, **config: Any) -> dict[str, Any]:
    return {"context_id": str(context_id), "name": "my bot", "config": {**MANUAL, **config}}


async def create_bot(
    api: httpx.AsyncClient, t: Trader, context_id: uuid.UUID, **config: Any
) -> Any:
    """The bot as `POST /api/bots` answered it (201): a MANUAL bot with `config` over it."""
    response = await api.post("/api/bots", json=bot_body(context_id, **config), headers=t.headers)
    assert response.status_code == 201, response.text
    return response.json()


@contextlib.asynccontextmanager
async def api_without_temporal(
    settings: Settings, sessions: Sessions
) -> AsyncIterator[httpx.AsyncClient]:
    """The API on the test database with a Temporal address where nothing answers."""
    changed = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    app = create_app(changed, Services.build(changed, sessions, await connect(changed, lazy=True)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as down:
        yield down


async def save_binance_key(
    sessions: Sessions, settings: Settings, user_id: uuid.UUID, sim: BinanceSim, **balances: str
) -> ExchangeCredential:
    """A simulator account holding `balances`, its key saved (checked, sealed) for the user."""
    key, secret = await sim.account(**balances)
    exchanges = ExchangeFactory(settings)
    async with sessions() as session:
        vault = Vault(settings.credential_keys, settings.credentials_key_version)
        credential = await CredentialService(session, vault, exchanges).save(
            user_id, Venue.BINANCE, Keys(key, secret), datetime.now(UTC)
        )
        await session.commit()
    await exchanges.aclose()
    return credential


async def bot_reads(
    api: httpx.AsyncClient, t: Trader, bot_id: str, status: str, reason: str | None
) -> dict[str, Any]:
    """The bot as read once it shows `status` and `reason` (its workflow applies a signal on
    its own time)."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        read: dict[str, Any] = (await api.get(f"/api/bots/{bot_id}", headers=t.headers)).json()
        if (read["status"], read["pause_reason"]) == (status, reason):
            return read
        assert asyncio.get_running_loop().time() < deadline, read
        await asyncio.sleep(0.2)


async def set_plan(sessions: Sessions, user_id: uuid.UUID, plan: Plan) -> None:
    async with sessions() as session:
        state = SubscriptionState(user_id=user_id, plan=plan, since=datetime.now(UTC))
        assert await SubscriptionStore(session).save(state)
        await session.commit()


@pytest.fixture
async def end_bots(
    api: httpx.AsyncClient, sessions: Sessions, temporal: Client
) -> AsyncIterator[None]:
    """Terminates, after the test, the workflows of the bots it made (before the `db` fixture
    empties their tables under them)."""
    yield
    async with sessions() as session:
        bots = (await session.scalars(select(BotRecord.id))).all()
    for bot_id in bots:
        with contextlib.suppress(RPCError):  # never started, or already ended
            await temporal.get_workflow_handle(bot_workflow_id(bot_id)).terminate("test ended")


T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)  # the orders' clock in tests


async def add_order(
    sessions: Sessions,
    bot_id: uuid.UUID,
    n: int,
    *,
    side: Side = Side.BUY,
    strategy: Strategy = Strategy.SMART,
    status: OrderStatus = OrderStatus.NEW,
    at: datetime | None = None,
) -> str:
    """The bot's `n`-th order, created `at` (default: `n` minutes after T0); FILLED ones with
    one fill."""
    cid = f"cx{bot_id.hex[:12]}-{n}"
    at = at or T0 + timedelta(minutes=n)
    request = OrderRequest(
        client_order_id=cid,
        symbol="BTC-BRL",
        side=side,
        type=OrderType.LIMIT,
        quantity=Decimal("0.00100000"),
        price=Decimal("350000.10"),
    )
    async with sessions() as session:
        store = BotStore(session)
        await store.record_order_intent(
            bot_id,
            request,
            venue="paper",
            strategy=strategy,
            creation_context={"source": strategy.value, "bid": Decimal("349999.9")},
            at=at,
        )
        if status is not OrderStatus.NEW:
            filled = status is OrderStatus.FILLED
            order = Order(
                order_id=f"venue-{n}",
                client_order_id=cid,
                symbol="BTC-BRL",
                side=side,
                type=OrderType.LIMIT,
                status=status,
                quantity=Decimal("0.001"),
                price=Decimal("350000.10"),
                filled_quantity=Decimal("0.001") if filled else Decimal(0),
                average_price=Decimal("350000.10") if filled else None,
                quote_quantity=Decimal("350.0001") if filled else Decimal(0),
                fees={"BTC": Decimal("0.000001")} if filled else {},
                created_at=at,
                updated_at=at + timedelta(seconds=5),
            )
            await store.record_order_state(order)
            if filled:
                fill = Fill(
                    trade_id=f"t-{bot_id.hex[:8]}-{n}",
                    order_id=order.order_id,
                    symbol="BTC-BRL",
                    side=side,
                    price=Decimal("350000.10"),
                    quantity=Decimal("0.001"),
                    fee=Decimal("0.000001"),
                    fee_asset="BTC",
                    at=at + timedelta(seconds=5),
                )
                await store.record_fills(cid, [fill])
        await session.commit()
    return cid
