"""The DCA bot's scenario for the history recorder (tests/replay/record_bots.py): purchases by
cycle until a venue account short of money pauses the bot, a deposit and the user's resume,
the last cycle, a take profit that starts a new accumulation (auto restart), then stop and
delete."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

from activities.bot_models import BotProjection
from adapters.exchanges.factory import ExchangeFactory
from adapters.settings import Settings
from domain.bots.state import BotKind, PauseReason
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

NAMES = ("dca_bot_cycles", "dca_bot_stop_delete")
DCA = {
    "symbol": "BTC-BRL",
    "purchase_amount": "100",
    "frequency": 1,
    "allocated_balance": "1000",
    "take_profit_percent": "1",
    "max_cycles": 3,
    "auto_restart": True,
}
KEY = "record-dca-key"


async def dca_scenario(
    client: Client,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    exchanges: ExchangeFactory,
    sim_url: str,
) -> dict[str, WorkflowHistory]:
    async with sim_control(sim_url) as control:
        await control("/_sim/price", {"symbol": "BTCBRL", "price": str(PRICE)})
        # 250 BRL: two purchases, then the third is refused.
        account = {"api_key": KEY, "secret": f"{KEY}-secret", "balances": {"BRL": "250"}}
        await control("/_sim/accounts", account)
        user_id = uuid.UUID("00000000-0000-4000-8000-000000000004")
        bot_id = uuid.UUID("00000000-0000-4000-8000-0000000000d1")
        bot = await new_bot(
            settings, sessions, exchanges, user_id, kind=BotKind.DCA, raw=DCA, key=KEY,
            bot_id=bot_id,
        )  # fmt: skip
        workflow_id = await start_bot(client, bot)

        async def paused_for_funds() -> bool:
            return (await view(client, workflow_id)).pause_reason is PauseReason.FUNDS

        await until(paused_for_funds)
        await control(f"/_sim/accounts/{KEY}/deposit", {"asset": "BRL", "amount": "1000"})
        await client.get_workflow_handle(workflow_id).execute_update(
            "resume", result_type=BotProjection
        )

        async def three_cycles_bought() -> bool:
            return (await view(client, workflow_id)).funds.invested > Decimal(250)

        await until(three_cycles_bought)
        await control("/_sim/price", {"symbol": "BTCBRL", "price": str(PRICE * Decimal("1.02"))})

        async def restarted() -> bool:
            funds = (await view(client, workflow_id)).funds
            return funds.proceeds > 0 and funds.invested > Decimal(50)

        await until(restarted)
        bot_runs = await end_after_hand_over(client, workflow_id)
    chosen = {"dca_bot_cycles": bot_runs[0], "dca_bot_stop_delete": bot_runs[-1]}
    first = chosen["dca_bot_cycles"]
    for kind in (
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,  # the resume
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    ):
        assert has(first, kind), f"the DCA bot's first run has no {EventType.Name(kind)}"
    return chosen
