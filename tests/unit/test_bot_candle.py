"""A Candle bot's config, what it means to the engine, and what it does on a signal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from domain.bots.candle import CandleBotConfig, SignalDecision, indicator_values, signal_decision
from domain.bots.config import BotMode
from domain.bots.funds import BotFunds
from domain.bots.kinds import engine_config, parse_config
from domain.bots.smart import bot_triggers, finished, timer_due
from domain.bots.state import BotKind, BotStatus, SmartBotState
from domain.signals import Confidence, Reason, Rule, Signal, SignalAction

START = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def config(**overrides: Any) -> CandleBotConfig:
    raw: dict[str, Any] = {
        "symbol": "BTC-BRL",
        "strategy": {"timeframe": "5m", "rsi": {}},
        "order_amount": "100",
        "allocated_balance": "300",
        "auto_execute": True,
    }
    return CandleBotConfig.model_validate({**raw, **overrides})


def signal(
    action: SignalAction, confidence: Confidence = Confidence.HIGH, *, closes: datetime
) -> Signal:
    """A signal on the 5-minute candle that closes at `closes`."""
    opened = int((closes - timedelta(minutes=5)).timestamp() * 1000)
    reason = Reason(
        rule=Rule.RSI, vote=action, detail="RSI 25 <= 30: oversold", values={"rsi": 25.25}
    )
    return Signal(
        action=action,
        confidence=confidence,
        reasons=(reason,),
        candle_open_ms=opened,
        close=350_000.0,
    )


def decide(
    bot: CandleBotConfig,
    sig: Signal,
    *,
    holding: bool = False,
    blocker: str | None = None,
) -> tuple[SignalDecision, str]:
    return signal_decision(bot, sig, started=START, holding=holding, buy_blocker=blocker)


LATER = START + timedelta(minutes=5)


def test_the_engine_has_no_buy_rule_of_its_own_and_keeps_the_risk_settings() -> None:
    bot = config(max_buys=2, risk={"take_profit": {"percent": "4"}})
    engine = bot.engine()
    assert engine.mode is BotMode.MANUAL and engine.max_buys == 2
    assert engine.risk.take_profit.percent == Decimal(4)
    assert engine_config(parse_config(BotKind.CANDLE, bot.model_dump(mode="json"))) == engine


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"strategy": {"timeframe": "5m"}}, "strategy"),  # no voting rule
        ({"allocated_balance": "50"}, "allocated_balance"),
        ({"min_confidence": "SURE"}, "min_confidence"),
        ({"max_buys": 0}, "max_buys"),
        ({"mode": "MANUAL"}, "mode"),
    ],
)
def test_each_bad_field_is_named(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        config(**overrides)
    assert any(str(error["loc"][0]) == field for error in caught.value.errors())


def test_a_confident_buy_buys_and_a_sell_sells_a_held_position() -> None:
    assert decide(config(), signal(SignalAction.BUY, closes=LATER))[0] is SignalDecision.BUY
    sell = signal(SignalAction.SELL, closes=LATER)
    assert decide(config(), sell, holding=True)[0] is SignalDecision.SELL
    nothing, why = decide(config(), sell, holding=False)
    assert nothing is SignalDecision.NONE and "no position" in why
    off, why = decide(config(sell_on_signal=False), sell, holding=True)
    assert off is SignalDecision.NONE and "selling on signals is off" in why


@pytest.mark.parametrize(
    ("minimum", "confidence", "acts"),
    [
        ("MEDIUM", Confidence.LOW, False),
        ("MEDIUM", Confidence.MEDIUM, True),
        ("HIGH", Confidence.MEDIUM, False),
        ("LOW", Confidence.LOW, True),
    ],
)
def test_only_a_signal_of_the_minimum_confidence_acts(
    minimum: str, confidence: Confidence, acts: bool
) -> None:
    decision, why = decide(
        config(min_confidence=minimum), signal(SignalAction.BUY, confidence, closes=LATER)
    )
    assert (decision is SignalDecision.BUY) is acts
    if not acts:
        assert f"under the minimum confidence {minimum}" in why


def test_nothing_is_traded_without_auto_execution_on_a_hold_or_when_the_buy_is_blocked() -> None:
    buy = signal(SignalAction.BUY, closes=LATER)
    assert "auto-execution is off" in decide(config(auto_execute=False), buy)[1]
    assert decide(config(), signal(SignalAction.HOLD, closes=LATER))[0] is SignalDecision.NONE
    blocked, why = decide(config(), buy, blocker="50 BRL free, a buy needs 100")
    assert blocked is SignalDecision.NONE and why.endswith("a buy needs 100")


@pytest.mark.parametrize(
    ("closes", "acts"),
    [(START - timedelta(seconds=1), False), (START, False), (START + timedelta(seconds=1), True)],
)
def test_a_candle_closed_before_the_bot_started_is_never_traded(
    closes: datetime, acts: bool
) -> None:
    decision, _ = decide(config(), signal(SignalAction.BUY, closes=closes))
    assert (decision is SignalDecision.BUY) is acts


def test_the_order_carries_the_indicator_values_as_decimal_text() -> None:
    assert indicator_values(signal(SignalAction.BUY, closes=LATER)) == {"rsi": {"rsi": "25.25"}}


def test_a_candle_bot_without_risk_exits_is_not_finished_while_signals_can_sell() -> None:
    """After its last buy a bot with nothing that sells stops; a SELL signal still sells."""
    risk = {
        "take_profit": {"enabled": False},
        "stop_loss": {"enabled": False},
    }
    for sells, done in ((True, False), (False, True)):
        bot = config(risk=risk, sell_on_signal=sells)
        engine = bot.engine()
        funds = BotFunds.allocate("BTC-BRL", engine.allocated_balance)
        state = SmartBotState(config=engine, candle=bot, funds=funds, position_buys=1)
        assert finished(state) is done


def test_a_running_candle_bot_publishes_its_strategy_and_the_candle_it_has_seen() -> None:
    bot = config()
    engine = bot.engine()
    state = SmartBotState(
        config=engine, candle=bot, funds=BotFunds.allocate("BTC-BRL", engine.allocated_balance)
    )
    triggers = bot_triggers(state)
    assert triggers.analysis is not None and triggers.analysis.strategy == bot.strategy
    assert triggers.analysis.seen_ms is None and not triggers.empty
    assert timer_due(state) is None  # no timer: the feed brings its signals
    seen = state.model_copy(update={"signal": signal(SignalAction.HOLD, closes=LATER)})
    analysis = bot_triggers(seen).analysis
    assert analysis is not None  # the candle that closed at LATER opened at START
    assert analysis.seen_ms == int(START.timestamp() * 1000)
    paused = state.model_copy(update={"status": BotStatus.PAUSED})
    assert bot_triggers(paused).empty
