"""What a bot does with the venue's answer to one of its orders (`Trader.place` sends it): a
refused key or missing funds pause the bot, a refusal is recorded, the answer moves the funds,
a resting order is followed by the account sync. Run by its host, like
workflows/bots/trading.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.bot_models import BotNotice, OrderOutcome
    from domain.bots.smart import finished, resting_order
    from domain.bots.state import BotStatus, PauseReason
    from domain.market import OrderRequest, Side

if TYPE_CHECKING:
    from workflows.bots.trading import Trader

# v0.6.0: a bot paused for funds tells its user (an alert and a mail), as a breaker does.
NOTIFY_FUNDS_PAUSE = "v0.6.0-notify-funds-pause"


async def placed(
    trader: Trader, request: OrderRequest, outcome: OrderOutcome | None, *, automatic_buy: bool
) -> None:
    """Apply the venue's answer to `request` (None: in doubt for good, the account sync
    settles it). A refused buy of the buy rule does not count toward `max_buys`."""
    cid = request.client_order_id
    if outcome is None:
        await trader.host.ensure_account_sync(trader.bot)
        return
    if outcome.credentials_refused:
        trader.set_status(BotStatus.PAUSED, PauseReason.CREDENTIALS, outcome.rejected)
        trader.notices.append(
            BotNotice(
                bot=trader.bot,
                kind="credentials_refused",
                message=outcome.rejected or "the venue refused the key",
                at=trader.host.now(),
            )
        )
    if outcome.insufficient_balance:
        side = "buy" if request.side is Side.BUY else "sell"
        detail = (
            f"the venue account lacks the funds to {side} ({outcome.rejected}): "
            "add funds, then resume the bot"
        )
        trader.set_status(BotStatus.PAUSED, PauseReason.FUNDS, detail)
        trader.decided("pause", "funds", detail)
        if trader.host.patched(NOTIFY_FUNDS_PAUSE):
            trader.notices.append(
                BotNotice(
                    bot=trader.bot, kind="paused_for_funds", message=detail, at=trader.host.now()
                )
            )
    elif outcome.rejected is not None:
        trader.decided("refuse", "venue", outcome.rejected)
    buys = trader.state.position_buys
    if outcome.rejected is not None and automatic_buy:
        trader.state = trader.state.model_copy(update={"position_buys": buys - 1})
    trader.apply(cid, outcome.order, outcome.fills)
    await trader.send_notices()
    if automatic_buy and trader.state.status is BotStatus.RUNNING and finished(trader.state):
        trader.set_status(BotStatus.STOPPED)
        trader.decided("stop", "max_buys", f"{buys} buys made and no exit set: nothing left")
    if outcome.order is not None and not outcome.order.status.is_final:
        rest = resting_order(request)
        if rest is not None:
            resting = {**trader.state.resting, cid: rest}
            trader.state = trader.state.model_copy(update={"resting": resting})
        await trader.host.ensure_account_sync(trader.bot)
