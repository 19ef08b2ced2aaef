"""The dashboard's performance series and advanced metrics over HTTP, per plan: P&L and
equity day by day with no day missing, per context and strategy, Bitcoin held beside them;
the ratios, the drawdown, the profit factor and the hold time of the same trades."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from domain.bots.orders import Strategy
from domain.plans import Plan
from tests.api.bot_helpers import Sessions, Trader, add_bot_row, add_context, set_plan, trader
from tests.api.test_dashboard_summary import close_trades
from tests.conftest import assert_error

__all__ = ["trader"]  # the fixture

MakeTrader = Callable[[], Awaitable[Trader]]
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def get(api: httpx.AsyncClient, t: Trader, path: str, **params: Any) -> Any:
    response = await api.get(f"/api/dashboard/{path}", params=params, headers=t.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_series_and_metrics_are_refused_naming_the_plan_that_has_them(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    t = await trader()
    response = await api.get("/api/dashboard/performance", headers=t.headers)
    assert assert_error(response, 403, "plan_feature")["details"] == {
        "plan": "FREE",
        "feature": "market_comparison",
        "unlocked_by": "PRO",
    }
    await set_plan(sessions, t.id, Plan.PRO)
    assert (await get(api, t, "performance"))["total"] == []
    response = await api.get("/api/dashboard/metrics", headers=t.headers)
    assert assert_error(response, 403, "plan_feature")["details"]["unlocked_by"] == "MAX"


async def test_equity_day_by_day_per_context_and_strategy_and_its_metrics(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    t = await trader()
    await set_plan(sessions, t.id, Plan.MAX)
    context = await add_context(sessions, t.id)
    bot = await add_bot_row(sessions, t.id, context, allocated="1000")
    two_days_ago, yesterday = TODAY - timedelta(days=2), TODAY - timedelta(days=1)
    await close_trades(
        sessions,
        t,
        bot,
        context,
        [
            ("100", Strategy.SMART, two_days_ago + timedelta(hours=9)),
            ("-30", Strategy.SMART, yesterday + timedelta(hours=10)),
            ("-20.5", Strategy.MANUAL, yesterday + timedelta(hours=11)),
        ],
    )
    other = await trader()
    await set_plan(sessions, other.id, Plan.MAX)

    result = await get(api, t, "performance", period="day")
    [total] = result["total"]
    assert (total["currency"], total["capital"]) == ("BRL", "1000")
    days = [
        (p["at"][:10], p["trades"], p["pnl"], p["cumulative_pnl"], p["equity"])
        for p in total["points"]
    ]
    assert days == [
        (two_days_ago.date().isoformat(), 1, "100", "100", "1100"),
        (yesterday.date().isoformat(), 2, "-50.5", "49.5", "1049.5"),
        (TODAY.date().isoformat(), 0, "0", "49.5", "1049.5"),
    ]
    [by_context] = result["by_context"]
    assert (by_context["context_id"], by_context["symbol"]) == (str(context), "BTC-BRL")
    assert by_context["points"][-1]["equity"] == "1049.5"
    strategies = {s["strategy"]: s["points"][-1]["cumulative_pnl"] for s in result["by_strategy"]}
    assert strategies == {"smart": "70", "manual": "-20.5"}
    [compared] = result["buy_and_hold"]  # Bitcoin on the paper venue, the context's
    assert (compared["venue"], compared["symbol"]) == ("paper", "BTC-BRL")
    market = Decimal(compared["to_price"]) / Decimal(compared["from_price"]) - 1
    assert Decimal(compared["market_return"]) == market
    assert compared["bots_return"] == "0.0495"  # 49.5 over 1,000
    # Beside the equity: the 1,000 held in Bitcoin, at each day's opening price.
    days = await api.get(
        f"/api/contexts/{context}/candles", params={"timeframe": "1d"}, headers=t.headers
    )
    opens = {
        datetime.fromisoformat(c["open_time"]): Decimal(c["open"]) for c in days.json()["candles"]
    }
    held = {datetime.fromisoformat(p["at"]): Decimal(p["equity"]) for p in compared["points"]}
    equity_days = [datetime.fromisoformat(p["at"]) for p in result["total"][0]["points"]]
    assert list(held) == [day for day in equity_days if day in opens] and len(held) >= 2
    first = opens[equity_days[0]]
    assert held == {day: Decimal(1000) * opens[day] / first for day in held}

    hourly = await get(api, t, "performance", period="hour")
    assert len(hourly["total"][0]["points"]) >= 7 * 24
    assert sum(p["trades"] for p in hourly["total"][0]["points"]) == 3

    metrics = await get(api, t, "metrics")
    assert (metrics["period"], metrics["periods_per_year"], metrics["risk_free_rate"]) == (
        "day",
        365,
        0.0,
    )
    [brl] = metrics["by_currency"]
    assert (brl["trades"], Decimal(brl["win_rate"])) == (3, Decimal(1) / 3)
    assert (brl["gross_profit"], brl["gross_loss"]) == ("100", "50.5")
    assert Decimal(brl["profit_factor"]) == Decimal(100) / Decimal("50.5")
    assert brl["average_hold_seconds"] == 7200.0  # every trade opened 2 h before it closed
    drawdown = brl["max_drawdown"]
    assert abs(drawdown["depth"] - 50.5 / 1100) < 1e-12
    assert drawdown["peak_at"][:10] == two_days_ago.date().isoformat()
    assert drawdown["trough_at"][:10] == yesterday.date().isoformat()
    assert brl["sharpe"] is not None and brl["sharpe"] < 0  # one gain, then a larger fall

    assert (await get(api, other, "performance"))["total"] == []
    assert (await get(api, other, "metrics"))["by_currency"] == []
