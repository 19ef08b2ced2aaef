"""The dashboard on what a real bot did: a bot on the paper venue, run by its workflow on the
test workers, buys and sells at the paper market's prices; the summary, the series and the
metrics then agree with the bot's own funds and orders, per plan, and only for its owner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from domain.plans import Plan
from tests.api.bot_helpers import (
    Sessions,
    Trader,
    add_context,
    create_bot,
    end_bots,
    set_plan,
    trader,
)

__all__ = ["end_bots", "trader"]  # fixtures

pytestmark = pytest.mark.usefixtures("end_bots")

MakeTrader = Callable[[], Awaitable[Trader]]


async def call(api: httpx.AsyncClient, t: Trader, method: str, path: str, **body: Any) -> Any:
    response = await api.request(method, path, json=body or None, headers=t.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_dashboard_adds_up_what_a_bot_traded(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    t = await trader()
    bot = await create_bot(api, t, await add_context(sessions, t.id))
    url = f"/api/bots/{bot['id']}"
    for _ in range(2):  # two positions, each bought twice and sold whole
        await call(api, t, "POST", f"{url}/buy", amount="100")
        await call(api, t, "POST", f"{url}/buy", amount="60")
        await call(api, t, "POST", f"{url}/emergency-sell")
    funds = (await call(api, t, "GET", url))["funds"]
    orders = (await call(api, t, "GET", f"{url}/orders"))["orders"]
    assert [o["status"] for o in orders] == ["FILLED"] * 6
    spent = sum(Decimal(o["quote_quantity"]) for o in orders if o["side"] == "buy")

    summary = await call(api, t, "GET", "/api/dashboard/summary")
    assert summary["trades"] == 2
    assert summary["realized_pnl"] == {"BRL": funds["realized_profit"]}
    manual = summary["performance_by_strategy"]["manual"]
    assert manual["trades"] == 2 and manual["realized_profit"] == summary["realized_pnl"]
    assert Decimal(manual["invested"]["BRL"]) == spent
    assert summary["pending_orders"] == 0 and summary["active_bots"] == 1
    free, invested = Decimal(funds["free"]), Decimal(funds["invested"])
    assert Decimal(summary["total_invested"]["BRL"]) == invested  # dust left by base fees
    assert Decimal(summary["total_balance"]["BRL"]) >= free

    assert (await api.get("/api/dashboard/performance", headers=t.headers)).status_code == 403
    await set_plan(sessions, t.id, Plan.PRO)
    performance = await call(api, t, "GET", "/api/dashboard/performance")
    [total] = performance["total"]
    assert total["capital"] == "1000"
    assert total["points"][-1]["cumulative_pnl"] == funds["realized_profit"]
    assert sum(p["trades"] for p in total["points"]) == 2

    await set_plan(sessions, t.id, Plan.MAX)
    [brl] = (await call(api, t, "GET", "/api/dashboard/metrics"))["by_currency"]
    assert brl["trades"] == 2 and brl["average_hold_seconds"] is not None
    gained, lost = Decimal(brl["gross_profit"]), Decimal(brl["gross_loss"])
    assert gained - lost == Decimal(funds["realized_profit"])

    other = await trader()
    theirs = await call(api, other, "GET", "/api/dashboard/summary")
    assert (theirs["trades"], theirs["realized_pnl"], theirs["total_balance"]) == (0, {}, {})
