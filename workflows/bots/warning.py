"""Telling a bot's user that the price nears the position's take profit or stop loss
(`domain.bots.warnings`): once per position each, as an alert and a mail. Run by its host, like
workflows/bots/trading.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.bot_models import BotNotice
    from domain.bots.risk import Observation
    from domain.bots.smart import held
    from domain.bots.warnings import due_warnings

if TYPE_CHECKING:
    from workflows.bots.trading import Trader

# v0.6.0: the bot warns its user before its take profit or stop loss acts.
WARN_NEAR_EXITS = "v0.6.0-warn-near-exits"


async def warn_near_exits(trader: Trader, observation: Observation) -> None:
    state = trader.state
    due = due_warnings(state.config.risk, state.risk, held(state), observation, trader.bot.symbol)
    if not due or not trader.host.patched(WARN_NEAR_EXITS):
        return
    warned = state.risk.warned | {warning.value for warning in due}
    risk = state.risk.model_copy(update={"warned": warned})
    trader.state = state.model_copy(update={"risk": risk})
    trader.notices += [
        BotNotice(bot=trader.bot, kind=warning.value, message=message, at=trader.host.now())
        for warning, message in due.items()
    ]
    await trader.send_notices()
