"""The user's trading commands to a bot (manual buy and sell, emergency sell), applied by its
`Trader` after whatever came before them. Workflow code, like workflows/bots/trading.py."""

from __future__ import annotations

from decimal import Decimal

from temporalio import workflow

from workflows.bots.trading import Trader

with workflow.unsafe.imports_passed_through():
    from domain.bots.config import BotOrderType
    from domain.bots.orders import Strategy
    from domain.bots.risk import Observation
    from domain.bots.risk_rules import emergency_sell as emergency_decision
    from domain.bots.smart import held, sell_request
    from domain.bots.state import BotStatus, PauseReason

UNREADABLE = "the market could not be read; try again"


async def fresh(trader: Trader) -> Observation | None:
    """The market now (its rules kept), for an order the user asked for."""
    view = await trader.host.observe(trader.bot)
    if view is None:
        return None
    trader.state = trader.state.model_copy(update={"rules": view.rules})
    return view.observation


async def manual_buy(trader: Trader, amount: Decimal | None) -> str | None:
    """Buy `amount` quote (the config's order amount when None); a str says why not."""
    state = trader.state
    amount = amount or state.config.order_amount
    if state.status is BotStatus.STOPPED:
        return "the bot is stopped"
    # Paused by the user (or for funds), the bot still takes the user's own buys; not while
    # its context is off or its key refused.
    if state.pause_reason in (PauseReason.CONTEXT_PAUSED, PauseReason.CREDENTIALS):
        return f"the bot is paused: {state.pause_detail}"
    if state.risk.tripped is not None:
        return f"circuit breaker tripped: {state.risk.tripped.detail}"
    if state.funds.free < amount:
        return f"{state.funds.free} {state.funds.quote} free, the buy needs {amount}"
    observation = await fresh(trader)
    if observation is None:
        return UNREADABLE
    return await trader.buy(amount, observation, Strategy.MANUAL, "manual buy")


async def manual_sell(trader: Trader, amount: Decimal | None) -> str | None:
    """Sell `amount` base (the whole position when None); a str says why not."""
    sellable = trader.state.funds.sellable_quantity
    quantity = amount or sellable
    if quantity > sellable or quantity <= 0:
        return f"{sellable} {trader.state.funds.base} to sell"
    observation = await fresh(trader)
    if observation is None:
        return UNREADABLE
    market = trader.state.config.order_type is BotOrderType.MARKET
    request = sell_request(trader.state, trader.next_id(), quantity, observation, market=market)
    if isinstance(request, str):
        return request
    await trader.place(request, observation, Strategy.MANUAL, "manual sell", "manual")
    return None


async def emergency_sell(trader: Trader) -> str | None:
    """Cancel the bot's open orders, then sell its whole position at market."""
    decision = emergency_decision(held(trader.state), tuple(trader.state.resting.values()))
    for cid in decision.cancel_order_ids:
        await trader.cancel(cid)
    if held(trader.state).quantity <= 0:
        trader.decided("emergency_sell", "emergency", "no position to sell")
        return None
    observation = await fresh(trader)
    if observation is None:
        return UNREADABLE
    request = trader.position_sale(observation)
    if isinstance(request, str):
        return request
    await trader.place(request, observation, Strategy.MANUAL, decision.detail, "emergency")
    return None
