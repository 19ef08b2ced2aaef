"""Candle bots through the API: the plans and venues that have them (timeframes, advanced rules),
their config as the user writes it (validated, read back, replaced), and their signals at
`/analysis` and `/signals`, and every bot's of a context at `/api/contexts/{id}/signals`, on the
paper venue unless a test says otherwise."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from adapters.db.bot_signals import SignalStore
from adapters.db.bots import BotStore
from domain.bots.candle import CandleBotConfig
from domain.bots.funds import BotFunds
from domain.bots.risk import RiskSettings, RiskState
from domain.bots.state import BotKind
from domain.indicators.availability import TIMEFRAMES
from domain.market import Venue
from domain.plans import Plan
from domain.signals import Confidence, Reason, Rule, Signal, SignalAction
from tests.api.bot_helpers import Sessions, Trader, add_context, end_bots, set_plan, trader
from tests.conftest import assert_error

__all__ = ["end_bots", "trader"]  # fixtures

pytestmark = pytest.mark.usefixtures("end_bots")

MakeTrader = Callable[[], Awaitable[Trader]]
RSI = {"timeframe": "5m", "rsi": {}}
FIVE_MINUTES_MS = 300_000
FIRST_CANDLE_MS = 1_699_999_800_000  # 2023-11-14T22:10:00Z, a 5m boundary


def candle_body(context_id: uuid.UUID, **config: Any) -> dict[str, Any]:
    return {
        "context_id": str(context_id),
        "kind": "candle",
        "name": "rsi watcher",
        "config": {"strategy": RSI, "order_amount": "100", "allocated_balance": "500", **config},
    }


async def pro_on(
    sessions: Sessions, t: Trader, plan: Plan = Plan.PRO, exchange: str = "paper"
) -> uuid.UUID:
    await set_plan(sessions, t.id, plan)
    return await add_context(sessions, t.id, exchange=exchange)


def refused_fields(response: httpx.Response) -> dict[str, dict[str, str]]:
    error = assert_error(response, 422, "invalid_config")
    return {field["field"]: field for field in error["details"]["fields"]}


async def test_candle_bots_are_for_pro_and_max(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    t = await trader()
    context = await add_context(sessions, t.id)
    response = await api.post("/api/bots", json=candle_body(context), headers=t.headers)
    error = assert_error(response, 403, "plan_feature")
    assert error["details"] == {"plan": "FREE", "feature": "candle_bots"}


async def test_a_strategy_needs_a_timeframe_of_the_venue_and_a_voting_rule(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    t = await trader()
    paper = await pro_on(sessions, t)
    # Mercado Bitcoin: the timeframe is refused before its funds check would ask for a key.
    mercado = await add_context(sessions, t.id, exchange="mercadobitcoin")
    for context, timeframe, venue in (
        (paper, "2d", Venue.PAPER),
        (mercado, "5m", Venue.MERCADO_BITCOIN),
    ):
        body = candle_body(context, strategy={**RSI, "timeframe": timeframe})
        fields = refused_fields(await api.post("/api/bots", json=body, headers=t.headers))
        assert set(fields) == {"config.strategy.timeframe"}
        refusal = fields["config.strategy.timeframe"]
        assert refusal["type"] == "timeframe_unsupported"
        assert ", ".join(TIMEFRAMES[venue]) in refusal["message"]
    assert "1m, 15m, 1h, 3h, 1d, 1w, 1M" in refusal["message"]  # Mercado Bitcoin's own

    body = candle_body(paper)
    del body["config"]["strategy"]
    fields = refused_fields(await api.post("/api/bots", json=body, headers=t.headers))
    assert fields["config.strategy"]["type"] == "missing"
    # Volume only raises confidence: a strategy of it alone could never buy or sell.
    body = candle_body(paper, strategy={"timeframe": "5m", "volume": {}})
    fields = refused_fields(await api.post("/api/bots", json=body, headers=t.headers))
    assert fields["config.strategy"]["type"] == "no_voting_rule"


async def test_advanced_rules_are_for_max_on_binance_or_paper(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    mfi = {**RSI, "mfi": {}}
    pro = await trader()
    context = await pro_on(sessions, pro)
    body = candle_body(context, strategy=mfi)
    error = assert_error(
        await api.post("/api/bots", json=body, headers=pro.headers), 403, "plan_feature"
    )
    assert error["details"] == {
        "plan": "PRO",
        "feature": "advanced_indicators",
        "unlocked_by": "MAX",
        "rules": ["mfi"],
    }

    top = await trader()
    context = await pro_on(sessions, top, Plan.MAX)
    created = await api.post(
        "/api/bots", json=candle_body(context, strategy=mfi), headers=top.headers
    )
    assert created.status_code == 201, created.text
    assert created.json()["config"]["strategy"]["mfi"] == {
        "period": 14,
        "oversold": "20",
        "overbought": "80",
    }
    mercado = await add_context(sessions, top.id, exchange="mercadobitcoin")
    body = candle_body(mercado, strategy={**mfi, "timeframe": "15m"})
    refused = await api.post("/api/bots", json=body, headers=top.headers)
    error = assert_error(refused, 422, "venue_unsupported")
    assert error["details"] == {
        "venue": "mercadobitcoin",
        "valid": ["binance", "paper"],
        "rules": ["mfi"],
    }


async def test_a_candle_bot_reads_back_its_config_and_takes_a_new_one(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    t = await trader()
    context = await pro_on(sessions, t)
    strategy = {"timeframe": "5m", "rsi": {"period": 7, "oversold": "25.5", "overbought": "75"}}
    body = candle_body(context, strategy=strategy, auto_execute=True, min_confidence="HIGH")
    response = await api.post("/api/bots", json=body, headers=t.headers)
    assert response.status_code == 201, response.text
    bot = response.json()
    assert bot["kind"] == "candle" and bot["symbol"] == "BTC-BRL"
    off = {rule.value: None for rule in Rule if rule is not Rule.RSI}  # every other rule
    assert bot["config"] == {
        "symbol": "BTC-BRL",
        "strategy": {**strategy, **off, "combine": {"min_votes": 1}},
        "order_amount": "100",
        "allocated_balance": "500",
        "auto_execute": True,
        "min_confidence": "HIGH",
        "max_buys": 1,
        "sell_on_signal": True,
        "risk": RiskSettings().model_dump(mode="json"),
    }
    read = await api.get(f"/api/bots/{bot['id']}", headers=t.headers)
    assert read.status_code == 200, read.text
    assert read.json()["config"] == bot["config"]

    new = {**bot["config"], "order_amount": "50"}
    changed = await api.put(f"/api/bots/{bot['id']}/config", json=new, headers=t.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json() == new
    advanced = {**new, "strategy": {**new["strategy"], "obv": {}}}
    refused = await api.put(f"/api/bots/{bot['id']}/config", json=advanced, headers=t.headers)
    error = assert_error(refused, 403, "plan_feature")
    assert error["details"]["rules"] == ["obv"]


async def candle_row(sessions: Sessions, user_id: uuid.UUID, context_id: uuid.UUID) -> uuid.UUID:
    """A Candle bot's row without a workflow: no market feed records signals behind the test."""
    config = CandleBotConfig.model_validate(
        {"symbol": "BTC-BRL", "strategy": RSI, "order_amount": "100", "allocated_balance": "500"}
    )
    async with sessions() as session:
        bot = await BotStore(session).create_bot(
            user_id=user_id,
            context_id=context_id,
            kind=BotKind.CANDLE,
            name="row only",
            config=config,
            funds=BotFunds.allocate("BTC-BRL", Decimal(500)),
            risk=RiskState(),
            at=datetime.now(UTC),
        )
        await session.commit()
        return bot.id


def rsi_signal(candle: int, action: SignalAction, rsi: float) -> Signal:
    vote = None if action is SignalAction.HOLD else action
    reason = Reason(rule=Rule.RSI, vote=vote, detail=f"RSI {rsi}", values={"rsi": rsi})
    return Signal(
        action=action,
        confidence=Confidence.HIGH if vote else Confidence.LOW,
        reasons=(reason,),
        candle_open_ms=FIRST_CANDLE_MS + candle * FIVE_MINUTES_MS,
        close=Decimal("350000.5") + candle,
    )


async def record(sessions: Sessions, bot_id: uuid.UUID, signal: Signal, at: datetime) -> None:
    async with sessions() as session:
        await SignalStore(session).record({bot_id: signal}, "5m", at)
        await session.commit()


def opened(candle: int) -> datetime:
    return datetime.fromtimestamp((FIRST_CANDLE_MS + candle * FIVE_MINUTES_MS) / 1000, UTC)


async def test_a_candle_bots_analysis_and_signals_newest_first(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    t = await trader()
    context = await pro_on(sessions, t)
    bot_id = await candle_row(sessions, t.id, context)
    analysis, history = f"/api/bots/{bot_id}/analysis", f"/api/bots/{bot_id}/signals"
    response = await api.get(analysis, headers=t.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"signal": None}

    now = datetime.now(UTC).replace(microsecond=0)
    said = [(SignalAction.HOLD, 50.0), (SignalAction.SELL, 71.25), (SignalAction.BUY, 27.4)]
    for candle, (action, rsi) in enumerate(said):
        await record(sessions, bot_id, rsi_signal(candle, action, rsi), now)
    # The feed sends the last candle again after a restart: its first row stays.
    await record(sessions, bot_id, rsi_signal(2, SignalAction.SELL, 99.0), now)

    latest = (await api.get(analysis, headers=t.headers)).json()["signal"]
    assert datetime.fromisoformat(latest.pop("candle_open_time")) == opened(2)
    assert datetime.fromisoformat(latest.pop("recorded_at")) == now
    assert latest.pop("bot_id") == str(bot_id)
    assert latest == {
        "timeframe": "5m",
        "action": "BUY",
        "confidence": "HIGH",
        "close": "350002.5",  # exact decimal text, like every amount
        "reasons": [{"rule": "rsi", "vote": "BUY", "detail": "RSI 27.4", "values": {"rsi": 27.4}}],
    }

    first = await api.get(history, params={"limit": 2}, headers=t.headers)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [s["action"] for s in page["signals"]] == ["BUY", "SELL"]
    assert [datetime.fromisoformat(s["candle_open_time"]) for s in page["signals"]] == [
        opened(2),
        opened(1),
    ]
    assert page["signals"][1]["reasons"][0]["values"] == {"rsi": 71.25}
    cursor = page["next_cursor"]
    assert cursor
    rest = await api.get(history, params={"limit": 2, "cursor": cursor}, headers=t.headers)
    assert rest.status_code == 200, rest.text
    assert [s["action"] for s in rest.json()["signals"]] == ["HOLD"]
    assert rest.json()["next_cursor"] is None
    assert rest.json()["signals"][0]["reasons"][0]["vote"] is None

    tampered = "X" + cursor[1:]  # the candle time no longer reads as one
    refused = await api.get(history, params={"cursor": tampered}, headers=t.headers)
    assert_error(refused, 422, "invalid_cursor")

    other = await trader()
    for path in (analysis, history):
        assert_error(await api.get(path, headers=other.headers), 404, "bot_not_found")


async def test_a_contexts_signals_are_every_bots_newest_first_and_only_its_owners(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    t = await trader()
    context = await pro_on(sessions, t)
    elsewhere = await add_context(sessions, t.id, exchange="paper", coin="ETH")
    first = await candle_row(sessions, t.id, context)
    second = await candle_row(sessions, t.id, context)
    other_context = await candle_row(sessions, t.id, elsewhere)
    now = datetime.now(UTC).replace(microsecond=0)
    await record(sessions, first, rsi_signal(0, SignalAction.HOLD, 50.0), now)
    await record(sessions, second, rsi_signal(1, SignalAction.BUY, 27.4), now)
    await record(sessions, first, rsi_signal(2, SignalAction.SELL, 71.25), now)
    await record(sessions, other_context, rsi_signal(3, SignalAction.BUY, 20.0), now)
    path = f"/api/contexts/{context}/signals"

    page = await api.get(path, params={"limit": 2}, headers=t.headers)
    assert page.status_code == 200, page.text
    rows = page.json()["signals"]
    assert [(s["bot_id"], s["action"]) for s in rows] == [
        (str(first), "SELL"),
        (str(second), "BUY"),
    ]
    rest = await api.get(path, params={"cursor": page.json()["next_cursor"]}, headers=t.headers)
    assert [(s["bot_id"], s["action"]) for s in rest.json()["signals"]] == [(str(first), "HOLD")]
    assert rest.json()["next_cursor"] is None

    assert_error(
        await api.get(path, params={"cursor": "nope"}, headers=t.headers), 422, "invalid_cursor"
    )
    other = await trader()
    assert_error(await api.get(path, headers=other.headers), 404, "context_not_found")
