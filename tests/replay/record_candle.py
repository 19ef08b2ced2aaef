"""The Candle bot's scenario for the history recorder (tests/replay/record_bots.py): its market
feed's signals on one-second candles, a BUY that buys, a take profit that sells, then stop and
delete."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

from adapters.db.models_bots import BotSignalRecord
from adapters.exchanges.factory import ExchangeFactory
from adapters.settings import Settings
from domain.bots.state import BotKind
from tests.replay.recording import (
    PRICE,
    end_after_hand_over,
    has,
    new_bot,
    sim_control,
    start_bot,
    until,
    view,
)

NAMES = ("candle_bot_trades", "candle_bot_stop_delete")
CANDLE = {
    "symbol": "BTC-BRL",
    "strategy": {"timeframe": "1s", "rsi": {"period": 2}},
    "order_amount": "100",
    "allocated_balance": "300",
    "auto_execute": True,
    "min_confidence": "HIGH",
    "risk": {"take_profit": {"percent": "2"}},
}
KEY = "record-candle-key"


async def candle_scenario(
    client: Client,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    exchanges: ExchangeFactory,
    sim_url: str,
) -> dict[str, WorkflowHistory]:
    async with sim_control(sim_url) as control:

        async def price(value: Decimal) -> None:
            await control("/_sim/price", {"symbol": "BTCBRL", "price": str(value)})

        for step in range(3):  # rising one-second closes: the RSI starts high
            await price(PRICE + 1_000 * step)
            await asyncio.sleep(1.1)
        account = {"api_key": KEY, "secret": f"{KEY}-secret", "balances": {"BRL": "1000"}}
        await control("/_sim/accounts", account)
        user_id = uuid.UUID("00000000-0000-4000-8000-000000000005")
        bot_id = uuid.UUID("00000000-0000-4000-8000-0000000000c1")
        bot = await new_bot(
            settings, sessions, exchanges, user_id, kind=BotKind.CANDLE, raw=CANDLE, key=KEY,
            bot_id=bot_id,
        )  # fmt: skip
        workflow_id = await start_bot(client, bot)

        async def analysed() -> bool:
            async with sessions() as session:
                count = await session.scalar(
                    select(func.count()).where(BotSignalRecord.bot_id == bot_id)
                )
            return bool(count)

        await until(analysed)
        await price(PRICE - 10_000)  # a sharp fall: RSI oversold, BUY

        async def bought() -> bool:
            return (await view(client, workflow_id)).funds.invested > 0

        await until(bought)
        await price(PRICE * Decimal("1.03"))  # over the take profit

        async def sold() -> bool:
            return (await view(client, workflow_id)).funds.proceeds > 0

        await until(sold)
        bot_runs = await end_after_hand_over(client, workflow_id)
    chosen = {"candle_bot_trades": bot_runs[0], "candle_bot_stop_delete": bot_runs[-1]}
    first = chosen["candle_bot_trades"]
    for kind in (
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,  # the feed's analysis and wake
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    ):
        assert has(first, kind), f"the Candle bot's first run has no {EventType.Name(kind)}"
    return chosen
