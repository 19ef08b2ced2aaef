"""What a `Trader` (workflows/bots/trading.py) needs from the world it trades in: a clock, the
market, the venue, somewhere to project its state and to send its notices.

Two hosts run the same Trader: `WorkflowHost`, the bot's workflow (activities, workflow time,
versioning markers), and the backtest's (`backtest.host.BacktestHost`: candles, a matching
engine and their time). The rules live in the Trader and the domain, never in a host, so a
backtest decides exactly as a live bot does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from temporalio import workflow

from workflows.bots import actions

with workflow.unsafe.imports_passed_through():
    from activities.bot_models import (
        BotNotice,
        BotProjection,
        BotRef,
        MarketView,
        OrderOutcome,
        PlaceOrder,
    )
    from domain.bots.state import BotStatus
    from workflows.search_attributes import BOT_STATUS

# v0.4.0: the projection runs as a local activity that also starts the feed (one task less per
# change, two less per start); histories from before it project with an activity task.
PROJECT_LOCALLY = "v0.4.0-project-locally"


class TraderHost(Protocol):
    def now(self) -> datetime: ...

    def patched(self, change: str) -> bool:
        """Whether the behaviour change named `change` applies (always, but in the histories
        recorded before it)."""
        ...

    def status_changed(self, status: BotStatus) -> None: ...

    async def observe(self, bot: BotRef) -> MarketView | None:
        """The market now; None when it cannot be read."""
        ...

    async def place(self, order: PlaceOrder) -> OrderOutcome | None:
        """The venue's answer; None while it is in doubt for good (the account sync settles)."""
        ...

    async def cancel(self, bot: BotRef, client_order_id: str) -> OrderOutcome | None: ...

    async def project(self, projection: BotProjection, *, start_feed: bool) -> bool:
        """Record the bot's state (False: not written, the next projection carries it) and
        start its market feed when `start_feed`."""
        ...

    async def notify(self, notice: BotNotice) -> None: ...

    async def ensure_account_sync(self, bot: BotRef) -> None: ...


class WorkflowHost:
    """The bot's workflow: workflow time, and activities for everything outside it."""

    def now(self) -> datetime:
        return workflow.now()

    def patched(self, change: str) -> bool:
        return workflow.patched(change)

    def status_changed(self, status: BotStatus) -> None:
        workflow.upsert_search_attributes([BOT_STATUS.value_set(status.value)])

    async def observe(self, bot: BotRef) -> MarketView | None:
        return await actions.observe(bot)

    async def place(self, order: PlaceOrder) -> OrderOutcome | None:
        return await actions.place(order)

    async def cancel(self, bot: BotRef, client_order_id: str) -> OrderOutcome | None:
        return await actions.cancel(bot, client_order_id)

    async def project(self, projection: BotProjection, *, start_feed: bool) -> bool:
        if workflow.patched(PROJECT_LOCALLY):
            return await actions.project(projection.model_copy(update={"start_feed": start_feed}))
        written = await actions.project_as_task(projection)
        if start_feed:
            await actions.ensure_feed(projection.bot)
        return written

    async def notify(self, notice: BotNotice) -> None:
        await actions.notify(notice)

    async def ensure_account_sync(self, bot: BotRef) -> None:
        await actions.ensure_account_sync(bot)
