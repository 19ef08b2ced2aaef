"""What the history recorders share (tests/replay/record_bots.py): waiting, reading a
workflow's runs, the simulator's control API, and a bot made as the API makes one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

from activities.bot_models import BotProjection, BotRef, SmartBotInput
from adapters.credentials import CredentialService, Keys
from adapters.db.bots import BotStore
from adapters.db.models import TradingContext, User
from adapters.exchanges.factory import ExchangeFactory
from adapters.settings import Settings
from adapters.vault import Vault
from api.bots.workflow_calls import BOT_WORKFLOWS
from domain.bots.candle import CandleBotConfig
from domain.bots.dca import DcaBotConfig
from domain.bots.funds import BotFunds
from domain.bots.kinds import engine_config, parse_config
from domain.bots.risk import RiskState
from domain.bots.state import BotKind, BotStatus, SmartBotState
from domain.market import Venue
from workflows import TaskQueue
from workflows.search_attributes import bot_search_attributes

PRICE = Decimal("350000")  # BTC-BRL on the simulator when a scenario starts
WAIT = 120.0


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    print(f"waiting: {check.__name__}", flush=True)
    deadline = asyncio.get_running_loop().time() + WAIT
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise SystemExit(f"not reached within {WAIT} s: {check.__name__}")
        await asyncio.sleep(0.2)


async def runs(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """Every run of `workflow_id`, oldest first (followed through continue-as-new)."""
    histories = []
    async for listed in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
        handle = client.get_workflow_handle(workflow_id, run_id=listed.run_id)
        histories.append((listed.start_time, await handle.fetch_history()))
    return [history for _, history in sorted(histories, key=lambda pair: pair[0])]


def has(history: WorkflowHistory, kind: EventType.ValueType) -> bool:
    return any(event.event_type == kind for event in history.events)


Control = Callable[[str, dict[str, Any]], Awaitable[None]]


@asynccontextmanager
async def sim_control(base_url: str) -> AsyncIterator[Control]:
    """The simulator's /_sim/ control API."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:

        async def post(path: str, body: dict[str, Any]) -> None:
            (await http.post(path, json=body)).raise_for_status()

        yield post


SMART = {
    "symbol": "BTC-BRL",
    "mode": "CONTINUOUS",
    "interval_seconds": 1,
    "order_type": "limit",
    "order_amount": "100",
    "allocated_balance": "300",
    "risk": {"take_profit": {"percent": "1"}},
}


async def new_bot(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    exchanges: ExchangeFactory,
    user_id: uuid.UUID,
    *,
    kind: BotKind = BotKind.SMART,
    raw: dict[str, Any] = SMART,
    key: str = "record-key",
    bot_id: uuid.UUID = uuid.UUID("00000000-0000-4000-8000-0000000000b1"),
) -> SmartBotInput:
    """The user, their Binance key (`key`, its secret `key`-secret) and context, and a bot's
    row, as the API makes them."""
    shown = parse_config(kind, raw)
    config = engine_config(shown)
    funds = BotFunds.allocate(config.symbol, config.allocated_balance)
    now = datetime.now(UTC)
    async with sessions() as session:
        email = f"record-{user_id.hex[-4:]}@example.com"
        session.add(User(id=user_id, email=email, name="R", password_hash="x"))
        await session.flush()
        context = TradingContext(user_id=user_id, coin="BTC", fiat="BRL", exchange="binance")
        session.add(context)
        await session.commit()
    # Committed first: on SQLite, the key's check (which writes the venue's budget) would
    # wait for this session's write lock.
    async with sessions() as session:
        vault = Vault(settings.credential_keys, settings.credentials_key_version)
        await CredentialService(session, vault, exchanges).save(
            user_id, Venue.BINANCE, Keys(key, f"{key}-secret"), now
        )
        await session.commit()
    async with sessions() as session:
        record = await BotStore(session).create_bot(
            user_id=user_id,
            context_id=context.id,
            kind=kind,
            name="record",
            config=shown,
            funds=funds,
            risk=RiskState(),
            at=now,
            bot_id=bot_id,
        )
        await session.commit()
    ref = BotRef(
        bot_id=record.id,
        user_id=user_id,
        context_id=context.id,
        kind=kind,
        venue=Venue.BINANCE,
        symbol=config.symbol,
    )
    return SmartBotInput(
        bot=ref,
        state=SmartBotState(
            config=config,
            dca=shown if isinstance(shown, DcaBotConfig) else None,
            candle=shown if isinstance(shown, CandleBotConfig) else None,
            funds=funds,
        ),
    )


async def start_bot(client: Client, bot: SmartBotInput) -> str:
    """Start the bot's workflow, of its kind's type, as the API does; returns its id."""
    handle = await client.start_workflow(
        BOT_WORKFLOWS[bot.bot.kind],
        bot,
        id=bot.bot.workflow_id,
        task_queue=TaskQueue.BOTS,
        search_attributes=bot_search_attributes(bot.bot, BotStatus.RUNNING),
    )
    return handle.id


async def view(client: Client, workflow_id: str) -> BotProjection:
    """The bot's view, from its latest run."""
    handle = client.get_workflow_handle(workflow_id)
    result: BotProjection = await handle.query("view", result_type=BotProjection)
    return result


async def end_after_hand_over(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """Once the bot's run has continued as new: stop and delete it; returns all its runs."""

    async def continued_as_new() -> bool:
        return len(await runs(client, workflow_id)) >= 2

    await until(continued_as_new)
    latest = client.get_workflow_handle(workflow_id)
    await latest.execute_update("stop", result_type=BotProjection)
    await latest.execute_update("delete", result_type=BotProjection)
    await latest.result()
    return await runs(client, workflow_id)
