"""The dashboard over HTTP on what the bot storage recorded: the bots' health (statuses, every
paused bot and why, paused contexts), the recent executions across bots, as far back as the
plan shows history, and the alerts, read or not; each user sees only their own."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from adapters.db.alerts import AlertStore
from adapters.db.models_bots import BotRecord
from domain.bots.orders import Strategy
from domain.bots.risk import CircuitBreakerTrip, RiskState, TripReason
from domain.bots.state import BotStatus, PauseReason
from domain.market import OrderStatus, Side
from domain.plans import Plan
from tests.api.bot_helpers import (
    Sessions,
    Trader,
    add_bot_row,
    add_context,
    add_order,
    set_plan,
    trader,
)
from tests.conftest import assert_error

__all__ = ["trader"]  # the fixture

MakeTrader = Callable[[], Awaitable[Trader]]


async def get(api: httpx.AsyncClient, t: Trader, path: str, **params: Any) -> Any:
    response = await api.get(f"/api/dashboard/{path}", params=params, headers=t.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def pause(sessions: Sessions, bot_id: uuid.UUID, reason: PauseReason, **row: Any) -> None:
    async with sessions() as session:
        await session.execute(
            update(BotRecord)
            .where(BotRecord.id == bot_id)
            .values(status=BotStatus.PAUSED, pause_reason=reason.value, **row)
        )
        await session.commit()


async def test_health_counts_the_bots_and_says_why_each_paused_one_is(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    t = await trader()
    context = await add_context(sessions, t.id)
    paused_context = await add_context(sessions, t.id, coin="ETH", paused=True)
    await add_bot_row(sessions, t.id, context)  # running
    await add_bot_row(sessions, t.id, context, status=BotStatus.STOPPED)
    await add_bot_row(sessions, t.id, context, deleted=True)  # left out
    tripped_at = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)
    trip = CircuitBreakerTrip(reason=TripReason.CONSECUTIVE_LOSSES, at=tripped_at, detail="5")
    breaker = await add_bot_row(sessions, t.id, context)
    await pause(
        sessions,
        breaker,
        PauseReason.CIRCUIT_BREAKER,
        pause_detail="5 losses in a row",
        risk=RiskState(tripped=trip).model_dump(mode="json"),
    )
    refused = await add_bot_row(sessions, t.id, context)
    await pause(sessions, refused, PauseReason.CREDENTIALS, pause_detail="key refused")
    other = await trader()
    await add_bot_row(sessions, other.id, await add_context(sessions, other.id))

    health = await get(api, t, "health")
    assert health["bots"] == {"running": 1, "paused": 2, "stopped": 1}
    assert [(p["bot_id"], p["reason"], p["detail"]) for p in health["paused"]] == [
        (str(breaker), "circuit_breaker", "5 losses in a row"),
        (str(refused), "credentials", "key refused"),
    ]
    assert datetime.fromisoformat(health["paused"][0]["since"]) == tripped_at
    assert health["paused"][1]["since"] is None
    assert (health["circuit_breakers"], health["credentials_refused"]) == (1, 1)
    assert health["contexts_paused"] == [
        {"context_id": str(paused_context), "symbol": "ETH-BRL", "exchange": "paper",
         "reason": "user"}
    ]  # fmt: skip
    assert (await get(api, other, "health"))["bots"] == {"running": 1, "paused": 0, "stopped": 0}


async def test_executions_are_orders_that_traded_within_the_plans_history(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    t = await trader()
    bot = await add_bot_row(sessions, t.id, await add_context(sessions, t.id))
    now = datetime.now(UTC)
    ages = {1: 2, 2: 40, 3: 120}  # order -> days ago
    cids = {
        n: await add_order(sessions, bot, n, status=OrderStatus.FILLED, at=now - timedelta(days=d))
        for n, d in ages.items()
    }
    await add_order(sessions, bot, 4, at=now)  # resting, nothing traded: not an execution
    sold = await add_order(
        sessions, bot, 5, side=Side.SELL, strategy=Strategy.MANUAL, status=OrderStatus.FILLED,
        at=now - timedelta(hours=1),
    )  # fmt: skip

    shown: dict[Plan, list[str]] = {}
    for plan in Plan:
        await set_plan(sessions, t.id, plan)
        page = await get(api, t, "orders")
        shown[plan] = [o["client_order_id"] for o in page["orders"]]
        if plan is Plan.MAX:
            assert page["history_from"] is None
        else:
            since = datetime.fromisoformat(page["history_from"])
            days = {Plan.FREE: 30, Plan.PRO: 90}[plan]
            assert abs(since - (now - timedelta(days=days))) < timedelta(minutes=5)
    assert shown == {
        Plan.FREE: [sold, cids[1]],
        Plan.PRO: [sold, cids[1], cids[2]],
        Plan.MAX: [sold, cids[1], cids[2], cids[3]],
    }

    manual = await get(api, t, "orders", strategy="manual")
    assert [o["client_order_id"] for o in manual["orders"]] == [sold]
    first = await get(api, t, "orders", limit=2)
    rest = await get(api, t, "orders", limit=2, cursor=first["next_cursor"])
    assert [o["client_order_id"] for o in first["orders"] + rest["orders"]] == shown[Plan.MAX]
    assert rest["next_cursor"] is None
    assert first["orders"][0]["quote_quantity"] == "350.0001"  # decimals as text

    other = await trader()
    assert (await get(api, other, "orders"))["orders"] == []
    bad = await api.get("/api/dashboard/orders", params={"cursor": "x" * 20}, headers=t.headers)
    assert_error(bad, 422, "invalid_cursor")


async def test_alerts_newest_first_unread_counted_and_read_once(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    t, other = await trader(), await trader()
    bot = await add_bot_row(sessions, t.id, await add_context(sessions, t.id))
    at = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    async with sessions() as session:
        store = AlertStore(session)
        for minute, kind in enumerate(["credentials_refused", "circuit_breaker_tripped", "x"]):
            store.add(t.id, kind, f"{kind} happened", at + timedelta(minutes=minute), bot)
        store.add(other.id, "credentials_refused", "not yours", at, None)
        await session.commit()

    listed = await get(api, t, "alerts")
    assert [a["kind"] for a in listed["alerts"]] == ["x", "circuit_breaker_tripped",
                                                     "credentials_refused"]  # fmt: skip
    assert listed["unread"] == 3 and listed["next_cursor"] is None
    assert listed["alerts"][1]["bot_id"] == str(bot)
    tripped = listed["alerts"][1]["id"]

    read = f"/api/dashboard/alerts/{tripped}/read"
    assert (await api.post(read, headers=t.headers)).status_code == 204
    first_read = (await get(api, t, "alerts"))["alerts"][1]["read_at"]
    assert first_read is not None
    assert (await api.post(read, headers=t.headers)).status_code == 204  # again: kept
    again = await get(api, t, "alerts")
    assert again["alerts"][1]["read_at"] == first_read and again["unread"] == 2
    unread = await get(api, t, "alerts", unread_only="true")
    assert [a["kind"] for a in unread["alerts"]] == ["x", "credentials_refused"]

    page = await get(api, t, "alerts", limit=2)
    rest = await get(api, t, "alerts", limit=2, cursor=page["next_cursor"])
    assert [a["kind"] for a in rest["alerts"]] == ["credentials_refused"]
    assert_error(await api.post(read, headers=other.headers), 404, "alert_not_found")
    assert [a["message"] for a in (await get(api, other, "alerts"))["alerts"]] == ["not yours"]
