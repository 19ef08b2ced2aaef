"""Backtests through the API: asked over HTTP, run by the backtest workflow's activity on the
test workers over the Binance simulator's replayed ETH/BTC candles, read back; the result is
the one the same backtest gives here on the same candles. Plans, periods, configs, markets and
quotas are refused with their own codes; only the owner reads a backtest."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update

from adapters.db.backtests import BacktestRecord, BacktestStatus
from backtest.data import download
from backtest.report import summary
from backtest.runner import Backtest, BacktestMarket
from domain.bots.kinds import parse_config
from domain.bots.state import BotKind
from domain.plans import PLANS, Plan
from tests.api.bot_helpers import Sessions, Trader, add_bot_row, add_context, set_plan, trader
from tests.conftest import assert_error
from tests.exchanges.conftest_binance import BinanceSim

__all__ = ["trader"]  # the fixture

MakeTrader = Callable[[], Awaitable[Trader]]
CONFIG: dict[str, Any] = {
    "symbol": "ETH-BTC",
    "order_amount": "0.01",
    "allocated_balance": "0.05",
    "interval_seconds": 900,
    "risk": {"take_profit": {"percent": "0.5"}},
}


def period(hours: int = 4) -> dict[str, str]:
    """Closed minutes ending an hour ago (the simulator keeps a day of candles)."""
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    return {"from": (end - timedelta(hours=hours)).isoformat(), "to": end.isoformat()}


def asked(**changes: Any) -> dict[str, Any]:
    return {"kind": "smart", "config": CONFIG, "venue": "binance", **period(), **changes}


async def finished(api: httpx.AsyncClient, t: Trader, backtest_id: str) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        response = await api.get(f"/api/backtests/{backtest_id}", headers=t.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] != "pending":
            return body
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(0.2)


async def test_a_pro_user_backtests_on_the_venues_candles_and_gets_what_a_backtest_gives(
    api: httpx.AsyncClient,
    trader: MakeTrader,
    sessions: Sessions,
    binance_sim: BinanceSim,
    tmp_path: Path,
) -> None:
    t = await trader()
    await set_plan(sessions, t.id, Plan.PRO)
    body = asked()
    response = await api.post("/api/backtests", json=body, headers=t.headers)
    assert response.status_code == 202, response.text
    made = response.json()
    assert (made["status"], made["symbol"], made["timeframe"]) == ("pending", "ETH-BTC", "1m")
    done = await finished(api, t, made["id"])
    assert done["status"] == "ready", done
    # The same backtest here, on the same candles from the same venue, says the same.
    start, end = (datetime.fromisoformat(body[k]) for k in ("from", "to"))
    async with binance_sim.exchange(*await binance_sim.account()) as venue:
        candles = await download(venue, "ETH-BTC", "1m", start, end, tmp_path)
        rules = await venue.market_rules("ETH-BTC")
    here = Backtest(BotKind.SMART, parse_config(BotKind.SMART, CONFIG), candles,
                    BacktestMarket(rules))  # fmt: skip
    await here.run()
    assert done["summary"] == summary(here)
    assert done["summary"]["candles"] == 240 and done["summary"]["orders"] > 0
    result = done["result"]
    assert result["orders_total"] == len(result["orders"]) == done["summary"]["orders"]
    assert result["orders"][0]["creation_context"]["reason"]  # why it was made
    listed = (await api.get("/api/backtests", headers=t.headers)).json()
    assert [b["id"] for b in listed] == [made["id"]] and "result" not in listed[0]
    # Another user does not find it.
    other = await trader()
    assert_error(await api.get(f"/api/backtests/{made['id']}", headers=other.headers), 404,
                 "backtest_not_found")  # fmt: skip


async def test_refusals_name_the_plan_the_period_the_config_and_the_market(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    t = await trader()

    async def post(**changes: Any) -> httpx.Response:
        return await api.post("/api/backtests", json=asked(**changes), headers=t.headers)

    error = assert_error(await post(), 403, "plan_feature")  # FREE
    assert error["details"]["unlocked_by"] == "PRO"
    await set_plan(sessions, t.id, Plan.PRO)
    longest = PLANS[Plan.PRO].backtest_days
    error = assert_error(await post(**period(24 * (longest + 1))), 403, "plan_limit")
    assert error["details"]["unlocked_by"] == "MAX"
    later = datetime.now(UTC) + timedelta(days=1)
    assert_error(await post(to=later.isoformat()), 422, "invalid_period")
    error = assert_error(await post(config={**CONFIG, "order_amount": "-1"}), 422,
                         "invalid_config")  # fmt: skip
    assert error["details"]["fields"][0]["field"] == "config.order_amount"
    assert_error(await post(config={**CONFIG, "symbol": "DOGE-BTC"}), 422, "unknown_market")
    assert_error(await post(timeframe="7m"), 422, "timeframe_unsupported")
    assert_error(await post(timeframe="1s", **period(24 * 30)), 422, "too_many_candles")
    response = await api.post("/api/backtests", json={**asked(), "extra": 1}, headers=t.headers)
    assert response.status_code == 422


async def test_the_daily_quota_and_the_backtests_in_the_making_are_bounded(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    t = await trader()
    await set_plan(sessions, t.id, Plan.PRO)

    async def add(count: int, status: BacktestStatus) -> None:
        async with sessions() as session:
            for _ in range(count):
                session.add(
                    BacktestRecord(
                        id=uuid.uuid4(),
                        user_id=t.id,
                        kind="smart",
                        config=CONFIG,
                        venue="binance",
                        symbol="ETH-BTC",
                        timeframe="1m",
                        period_from=datetime.now(UTC) - timedelta(hours=5),
                        period_to=datetime.now(UTC) - timedelta(hours=1),
                        status=status,
                        requested_at=datetime.now(UTC),
                    )
                )
            await session.commit()

    await add(2, BacktestStatus.PENDING)
    response = await api.post("/api/backtests", json=asked(), headers=t.headers)
    assert_error(response, 429, "too_many_backtests")
    await add(PLANS[Plan.PRO].backtests_per_day - 2, BacktestStatus.READY)
    async with sessions() as session:  # the two in the making are done
        await session.execute(
            update(BacktestRecord)
            .where(BacktestRecord.user_id == t.id)
            .values(status=BacktestStatus.READY)
        )
        await session.commit()
    response = await api.post("/api/backtests", json=asked(), headers=t.headers)
    error = assert_error(response, 429, "backtest_quota")
    assert error["details"]["per_day"] == PLANS[Plan.PRO].backtests_per_day
    assert int(response.headers["retry-after"]) > 0


async def test_one_of_the_callers_bots_is_backtested_on_its_own_venue(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    t = await trader()
    await set_plan(sessions, t.id, Plan.MAX)
    bot = await add_bot_row(sessions, t.id, await add_context(sessions, t.id))  # paper, BTC-BRL
    body = {"bot_id": str(bot), **period(2)}
    response = await api.post("/api/backtests", json=body, headers=t.headers)
    assert response.status_code == 202, response.text
    made = response.json()
    assert (made["kind"], made["venue"], made["symbol"]) == ("smart", "paper", "BTC-BRL")
    done = await finished(api, t, made["id"])
    assert done["status"] == "ready" and done["summary"]["candles"] == 120, done
    # One way or the other, not both; another user's bot is not found.
    both = await api.post("/api/backtests", json={**body, **asked()}, headers=t.headers)
    assert both.status_code == 422
    other = await trader()
    await set_plan(sessions, other.id, Plan.MAX)
    response = await api.post("/api/backtests", json=body, headers=other.headers)
    assert_error(response, 404, "bot_not_found")


async def test_a_backtest_without_candles_fails_saying_why(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    t = await trader()
    await set_plan(sessions, t.id, Plan.PRO)
    end = datetime.now(UTC) - timedelta(days=3)  # before the simulator's day of candles
    body = asked(**{"from": (end - timedelta(hours=2)).isoformat(), "to": end.isoformat()})
    response = await api.post("/api/backtests", json=body, headers=t.headers)
    assert response.status_code == 202, response.text
    done = await finished(api, t, response.json()["id"])
    assert done["status"] == "failed" and done["summary"] is None
    assert "fewer than two candles" in done["error"]
