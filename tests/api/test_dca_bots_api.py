"""DCA bots through the API: the plans that have them, their config as the user writes it
(validated, read back, replaced), and their purchases at `/executions`, on the paper venue."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.subscriptions import PlanChange, SubscriptionActivities
from adapters.payments.gateways import PaymentGateways
from adapters.settings import Settings
from domain.plans import Plan
from tests.api.bot_helpers import (
    MANUAL,
    Sessions,
    Trader,
    add_context,
    bot_reads,
    end_bots,
    set_plan,
    trader,
)
from tests.conftest import assert_error

__all__ = ["end_bots", "trader"]  # fixtures

pytestmark = pytest.mark.usefixtures("end_bots")

DCA = {"purchase_amount": "100", "frequency": "1h", "allocated_balance": "500", "max_cycles": 4}


def dca_body(context_id: Any, **config: Any) -> dict[str, Any]:
    return {
        "context_id": str(context_id),
        "kind": "dca",
        "name": "monthly stack",
        "config": {**DCA, **config},
    }


async def executions(api: httpx.AsyncClient, t: Trader, bot_id: str, count: int) -> Any:
    """The bot's executions once it shows `count` of them (the purchase runs on its own)."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        response = await api.get(f"/api/bots/{bot_id}/executions", headers=t.headers)
        assert response.status_code == 200, response.text
        if len(response.json()["executions"]) >= count:
            return response.json()
        assert asyncio.get_running_loop().time() < deadline, response.json()
        await asyncio.sleep(0.2)


async def test_dca_bots_are_for_pro_and_max(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t = await trader()
    context = await add_context(sessions, t.id)
    response = await api.post("/api/bots", json=dca_body(context), headers=t.headers)
    error = assert_error(response, 403, "plan_feature")
    assert error["details"] == {"plan": "FREE", "feature": "dca_bots"}


async def test_an_invalid_dca_config_names_each_field(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t = await trader()
    await set_plan(sessions, t.id, Plan.PRO)
    context = await add_context(sessions, t.id)
    body = dca_body(context, frequency="2h", allocated_balance="50", order_amount="10")
    error = assert_error(
        await api.post("/api/bots", json=body, headers=t.headers), 422, "invalid_config"
    )
    fields = {field["field"] for field in error["details"]["fields"]}
    assert {"config.allocated_balance", "config.order_amount"} <= fields
    assert any(field.startswith("config.frequency") for field in fields)


async def test_a_dca_bot_buys_at_once_and_shows_its_config_and_executions(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t = await trader()
    await set_plan(sessions, t.id, Plan.PRO)
    context = await add_context(sessions, t.id)
    response = await api.post("/api/bots", json=dca_body(context), headers=t.headers)
    assert response.status_code == 201, response.text
    bot = response.json()
    assert bot["kind"] == "dca"
    assert bot["config"] == {
        "symbol": "BTC-BRL",
        "purchase_amount": "100",
        "frequency": "1h",
        "allocated_balance": "500",
        "take_profit_percent": None,
        "stop_loss_percent": None,
        "max_cycles": 4,
        "auto_restart": False,
    }
    page = await executions(api, t, bot["id"], 1)
    [first] = page["executions"]
    assert (first["accumulation"], first["cycle"], first["status"]) == (1, 1, "FILLED")
    assert Decimal(first["quantity"]) > 0 and Decimal(first["price"]) > 0
    assert 0 < Decimal(first["amount"]) <= Decimal("100")  # what the lot step allows
    assert page["next_cursor"] is None
    read = (await api.get(f"/api/bots/{bot['id']}", headers=t.headers)).json()
    assert read["live"] is True and read["config"] == bot["config"]
    assert Decimal(read["funds"]["invested"]) == Decimal(first["amount"])

    new = {**bot["config"], "purchase_amount": "50", "take_profit_percent": "10"}
    changed = await api.put(f"/api/bots/{bot['id']}/config", json=new, headers=t.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["purchase_amount"] == "50"
    assert changed.json()["take_profit_percent"] == "10"
    smart_shaped = {"mode": "MANUAL", "order_amount": "50", "allocated_balance": "500"}
    refused = await api.put(f"/api/bots/{bot['id']}/config", json=smart_shaped, headers=t.headers)
    error = assert_error(refused, 422, "invalid_config")
    assert "config.mode" in {field["field"] for field in error["details"]["fields"]}

    other = await trader()
    theirs = await api.get(f"/api/bots/{bot['id']}/executions", headers=other.headers)
    assert_error(theirs, 404, "bot_not_found")


async def test_a_plan_without_the_bots_kind_or_rules_pauses_them_until_an_upgrade(
    api: httpx.AsyncClient,
    trader: Callable[[], Awaitable[Trader]],
    sessions: Sessions,
    settings: Settings,
    temporal: Client,
) -> None:
    """The subscription's plan-change activity on the real Temporal client: MAX to FREE pauses
    the DCA bot (FREE has none) and, at PRO, still the Candle bot with an advanced rule; a
    SmartBot runs on; resuming is refused until a plan runs the bot again."""
    t = await trader()
    await set_plan(sessions, t.id, Plan.MAX)
    context = await add_context(sessions, t.id)
    dca = await create(api, t, dca_body(context))
    advanced = {"timeframe": "5m", "rsi": {}, "mfi": {}}
    candle = {**dca_body(context), "kind": "candle"}
    candle["config"] = {"strategy": advanced, "order_amount": "100", "allocated_balance": "500"}
    candle_bot = await create(api, t, candle)
    smart = await create(
        api,
        t,
        {**dca_body(context), "kind": "smart", "config": {**MANUAL, "allocated_balance": "500"}},
    )
    gateways = PaymentGateways.from_settings(settings)  # not called by the plan limits
    limits = SubscriptionActivities(sessions, gateways)
    environment = ActivityEnvironment(client=temporal)

    async def plan_change(plan: Plan) -> None:
        await set_plan(sessions, t.id, plan)
        await environment.run(limits.apply_plan_limits, PlanChange(user_id=t.id, plan=plan))

    await plan_change(Plan.PRO)
    read = await bot_reads(api, t, candle_bot["id"], "paused", "plan")
    assert "advanced indicators (mfi)" in read["pause_detail"]
    await bot_reads(api, t, dca["id"], "running", None)
    await plan_change(Plan.FREE)
    await bot_reads(api, t, dca["id"], "paused", "plan")
    refused = await api.post(f"/api/bots/{dca['id']}/resume", headers=t.headers)
    assert assert_error(refused, 403, "plan_feature")["details"] == {"plan": "FREE", "kind": "dca"}
    await bot_reads(api, t, smart["id"], "running", None)
    await plan_change(Plan.MAX)
    for bot in (dca, candle_bot):
        await bot_reads(api, t, bot["id"], "running", None)
    await gateways.aclose()


async def create(api: httpx.AsyncClient, t: Trader, body: dict[str, Any]) -> Any:
    response = await api.post("/api/bots", json=body, headers=t.headers)
    assert response.status_code == 201, response.text
    return response.json()
