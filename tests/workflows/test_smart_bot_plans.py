"""A plan's bot limit through the API, end to end: the FREE plan's bots start and trade on the
paper venue, the one past the limit is refused and never runs; support finds the user's bots by
their search attributes."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select
from temporalio.service import RPCError

from activities.bot_models import bot_workflow_id
from adapters.db.models import User
from adapters.db.models_bots import BotOrderRecord
from domain.market import Venue
from domain.plans import PLANS, Plan
from tests.conftest import assert_error, bearer
from tests.workflows.conftest import BotLab, until

CONFIG = {
    "mode": "CONTINUOUS",
    "interval_seconds": 1,
    "order_amount": "20",
    "allocated_balance": "60",
}


async def test_the_free_plans_bots_trade_and_one_more_is_refused(
    api: httpx.AsyncClient, login: Any, lab: BotLab
) -> None:
    body, tokens = await login()
    headers = bearer(tokens)
    async with lab.sessions() as session:
        user = await session.scalar(select(User.id).where(User.email == body["email"]))
    assert user is not None
    context = await lab.context(user, Venue.PAPER, "BTC-BRL")
    limit = PLANS[Plan.FREE].max_bots
    assert limit is not None
    created: list[str] = []
    try:
        for index in range(limit):
            response = await api.post(
                "/api/bots",
                json={"context_id": str(context), "name": f"bot {index}", "config": CONFIG},
                headers=headers,
            )
            assert response.status_code == 201, response.text
            created.append(response.json()["id"])
        refused = await api.post(
            "/api/bots",
            json={"context_id": str(context), "name": "one more", "config": CONFIG},
            headers=headers,
        )
        error = assert_error(refused, 403, "plan_limit")
        assert error["details"]["limit"] == limit

        async def every_bot_bought() -> bool:
            async with lab.sessions() as session:
                buyers = await session.scalar(
                    select(func.count(func.distinct(BotOrderRecord.bot_id))).where(
                        BotOrderRecord.user_id == user, BotOrderRecord.status == "FILLED"
                    )
                )
            return buyers == limit

        await until(every_bot_bought)
        query = f"CrypterasUserId = '{user}' AND WorkflowType = 'SmartBot'"

        async def found_by_support() -> set[str]:
            found = {w.id async for w in lab.temporal.list_workflows(query)}
            return found if len(found) == limit else set()

        assert await until(found_by_support) == {
            bot_workflow_id(uuid.UUID(bot_id)) for bot_id in created
        }
    finally:
        for bot_id in created:
            with contextlib.suppress(RPCError):
                handle = lab.temporal.get_workflow_handle(bot_workflow_id(uuid.UUID(bot_id)))
                await handle.terminate("test over")
