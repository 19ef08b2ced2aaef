"""A Candle bot's part of the engine: the signal its market feed sent on a closed candle,
kept as its current analysis and acted on as `domain.bots.candle.signal_decision` says.
Run by its host, like workflows/bots/trading.py."""

from __future__ import annotations

from temporalio import workflow

from workflows.bots.trading import Trader

with workflow.unsafe.imports_passed_through():
    from activities.bot_models import CandleAnalysis
    from domain.bots.candle import SignalDecision, indicator_values, signal_decision
    from domain.bots.orders import Strategy
    from domain.bots.risk_rules import sanity_refusal
    from domain.bots.smart import buy_blocker, held
    from domain.bots.state import BotStatus


async def analysed(trader: Trader, analysis: CandleAnalysis) -> None:
    """Keep the signal (one the bot already has changes nothing), then act on it while the bot
    runs: a buy of the config's amount or a sale of the whole position, each with the
    indicator values that decided in its creation context, unless the sanity check refuses
    the market as it does for every order of a bot."""
    state, signal = trader.state, analysis.signal
    candle = state.candle
    if candle is None or (
        state.signal is not None and signal.candle_open_ms <= state.signal.candle_open_ms
    ):
        return
    trader.state = state.model_copy(update={"signal": signal})
    if state.status is not BotStatus.RUNNING:
        return
    observation = analysis.observation
    decision, why = signal_decision(
        candle,
        signal,
        started=state.trading_since or trader.host.now(),
        holding=held(state).quantity > 0,
        buy_blocker=buy_blocker(state, candle.order_amount, trader.host.now()),
    )
    if decision is not SignalDecision.NONE:
        # As on any order of the bot: none on a market that jumped or whose spread is wide.
        refusal = sanity_refusal(state.config.risk.sanity_check, state.risk, observation)
        if refusal is not None:
            trader.decided("refuse", refusal[0].value, f"{why}; {refusal[1]}")
            return
    values = indicator_values(signal)
    if decision is SignalDecision.BUY:
        await trader.buy(
            candle.order_amount, observation, Strategy.CANDLE, why, automatic=True,
            indicators=values,
        )  # fmt: skip
    elif decision is SignalDecision.SELL:
        request = trader.position_sale(observation)
        if isinstance(request, str):
            trader.decided("hold", "signal", f"{why}; cannot sell: {request}")
            return
        await trader.place(request, observation, Strategy.CANDLE, why, "signal", indicators=values)
    else:
        trader.decided("hold", "signal", why)
