"""What the bots and orders API tests share: a logged-in trader, contexts and bot rows written
straight to the database (no workflow), the caller's plan and Binance key, and waiting for a
bot to read a status."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
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
from domain.bots.risk import RiskState
from domain.bots.state import BotKind, BotStatus
from domain.market import Venue
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
