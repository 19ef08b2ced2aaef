"""The SmartBot workflow (id ``bot:<bot id>``): the single writer of one bot's trading state.

It sleeps until something gives it work (DESIGN "Bots at scale"): its market feed's signal
that a trigger fired (`wake`), its own timer (the next interval or cron fire of the buy rule),
the account sync's report of an order (`order_update`), or a user's command (Updates). An idle
bot has no timer and costs no workflow task. Woken, it decides again from its own state with
the domain's rules (a trigger is a hint) and acts through activities (workflows/bots/actions.py);
every change is projected to the database with the triggers its feed must watch.

Commands and wake-ups are applied one at a time, in arrival order (one lock), so a command that
arrives during a tick waits for it. `continue_as_new` hands the whole state, order sequence
included, to the next run, so client order ids never repeat.

Versioning: every change that alters the commands an existing history would replay goes behind
`workflow.patched` (docs/workflow-versioning.md); recorded histories replay in tests/replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.bots import candle, commands
from workflows.bots.host import WorkflowHost
from workflows.bots.trading import Trader

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.bot_models import (
        BotProjection,
        CandleAnalysis,
        ManualOrder,
        OrderReport,
        SmartBotInput,
    )
    from domain.bots.funds import FundsError
    from domain.bots.kinds import parse_config
    from domain.bots.risk import Observation
    from domain.bots.risk_rules import reset_circuit_breaker
    from domain.bots.smart import next_buy_time, timer_due
    from domain.bots.state import BotStatus, PauseReason

# A run hands over to a new one past this many events (or when the server suggests it).
HISTORY_LIMIT = 4_000
REFUSED = "BotCommandRefused"


def _refuse(message: str) -> ApplicationError:
    return ApplicationError(message, type=REFUSED, non_retryable=True)


@workflow.defn(name="SmartBot")
class SmartBotWorkflow:
    @workflow.init
    def __init__(self, start: SmartBotInput) -> None:
        self._trader = Trader(start.bot, start.state, WorkflowHost())
        self._lock = asyncio.Lock()
        self._observation: Observation | None = None
        self._reports: list[OrderReport] = []
        self._context_paused: bool | None = None
        self._credentials_removed = False
        self._analysis: CandleAnalysis | None = None
        # A plan change's news: why the plan does not run the bot ("" when it does).
        self._plan_fit: str | None = None
        self._deleted = False

    @workflow.run
    async def run(self, start: SmartBotInput) -> None:
        trader = self._trader
        async with self._lock:
            await trader.start_run()
        while not self._deleted:
            due = timer_due(trader.state)
            timeout = None if due is None else max((due - workflow.now()).total_seconds(), 0)
            with contextlib.suppress(TimeoutError):  # the timer: a buy is due
                await workflow.wait_condition(functools.partial(self._ready, due), timeout=timeout)
            async with self._lock:
                await self._work()
            if self._deleted:
                break
            info = workflow.info()
            if info.is_continue_as_new_suggested() or (
                info.get_current_history_length() > HISTORY_LIMIT
            ):
                await workflow.wait_condition(workflow.all_handlers_finished)
                # Signals that came meanwhile are work of this run: checked with no await
                # between the check and the hand-over, so none is left behind.
                if not self._has_work():
                    workflow.continue_as_new(SmartBotInput(bot=trader.bot, state=trader.state))

    def _ready(self, due: datetime | None) -> bool:
        """Work arrived, or a command moved the timer (start, resume, a reset breaker or a
        config with more funds make a buy due): the wait ends and the new timer is set."""
        return self._has_work() or timer_due(self._trader.state) != due

    def _has_work(self) -> bool:
        return bool(
            self._observation is not None
            or self._analysis is not None
            or self._plan_fit is not None
            or self._reports
            or self._context_paused is not None
            or self._credentials_removed
            or self._deleted
        )

    async def _work(self) -> None:
        trader = self._trader
        before = trader.state
        reports, self._reports = self._reports, []
        for report in reports:
            await trader.apply_report(report)
        if self._context_paused is not None:
            paused, self._context_paused = self._context_paused, None
            trader.context_paused(paused)
        if self._credentials_removed:
            self._credentials_removed = False
            trader.credentials_removed()
        if self._plan_fit is not None:
            refusal, self._plan_fit = self._plan_fit, None
            trader.plan_fit(refusal or None)
        analysis, self._analysis = self._analysis, None
        if analysis is not None:
            await candle.analysed(trader, analysis)
        observation, self._observation = self._observation, None
        due = timer_due(trader.state)
        if observation is not None:
            await trader.evaluate(observation, timer=False)
        elif due is not None and workflow.now() >= due:
            await trader.tick()
        if trader.state != before:
            await trader.publish()

    # -- signals --------------------------------------------------------------------------

    @workflow.signal
    def wake(self, observation: Observation) -> None:
        """From the market feed: a trigger fired at this observation (the newest wins)."""
        self._observation = observation

    @workflow.signal
    def analysis(self, analysis: CandleAnalysis) -> None:
        """From the market feed: a Candle bot's signal on a closed candle (the newest wins)."""
        self._analysis = analysis

    @workflow.signal
    def order_update(self, report: OrderReport) -> None:
        """From the account sync: one of the bot's orders changed at the venue."""
        self._reports.append(report)

    @workflow.signal
    def context_paused(self, paused: bool) -> None:
        """The bot's context was paused (plan limits) or resumed."""
        self._context_paused = paused

    @workflow.signal
    def plan_fit(self, refusal: str | None) -> None:
        """The user's plan changed: why it no longer runs this bot, None when it does (the
        newest wins)."""
        self._plan_fit = refusal or ""

    @workflow.signal
    def credentials_removed(self) -> None:
        """The user deleted the venue key the bot trades with."""
        self._credentials_removed = True

    # -- queries and updates --------------------------------------------------------------

    @workflow.query
    def view(self) -> BotProjection:
        return self._trader.projection()

    async def _command(self, name: str, change: Any) -> BotProjection:
        """Apply one command after whatever came before it."""
        async with self._lock:
            before = self._trader.state
            try:
                await change()
            except ApplicationError:
                # Refused after acting (an emergency sell that canceled orders, then found no
                # market to sell on): what it did is still the bot's state to project.
                if self._trader.state != before:
                    await self._trader.publish()
                raise
            if self._trader.state.last_decision == before.last_decision:
                self._trader.decided(name, "command")
            await self._trader.publish()
            return self._trader.projection()

    @workflow.update
    async def configure(self, config: dict[str, Any]) -> BotProjection:
        new = parse_config(self._trader.bot.kind, config)

        async def change() -> None:
            try:
                self._trader.reconfigure(new)
            except FundsError as error:
                raise _refuse(f"allocated_balance: {error}") from None

        return await self._command("configure", change)

    @configure.validator
    def _check_config(self, config: dict[str, Any]) -> None:
        try:
            new = parse_config(self._trader.bot.kind, config)
        except ValidationError as error:
            raise ValueError(_fields(error)) from None
        if new.symbol != self._trader.state.config.symbol:
            raise ValueError(f"symbol: the bot trades {self._trader.state.config.symbol}")

    @workflow.update
    async def start(self) -> BotProjection:
        async def change() -> None:
            self._require(BotStatus.STOPPED, "only a stopped bot starts")
            self._trader.set_status(BotStatus.RUNNING)
            state, now = self._trader.state, workflow.now()
            update: dict[str, Any] = {"next_buy_at": next_buy_time(state.config, now)}
            if state.candle is not None:  # no trade on a candle closed while it was stopped
                update["trading_since"] = now
            self._trader.state = state.model_copy(update=update)

        return await self._command("start", change)

    @workflow.update
    async def pause(self) -> BotProjection:
        async def change() -> None:
            self._require(BotStatus.RUNNING, "only a running bot pauses")
            self._trader.set_status(BotStatus.PAUSED, PauseReason.USER, "paused by the user")

        return await self._command("pause", change)

    @workflow.update
    async def resume(self) -> BotProjection:
        async def change() -> None:
            state = self._trader.state
            self._require(BotStatus.PAUSED, "only a paused bot resumes")
            if state.pause_reason is PauseReason.CIRCUIT_BREAKER:
                raise _refuse("the circuit breaker paused this bot: reset it to resume")
            if state.pause_reason is PauseReason.CONTEXT_PAUSED:
                raise _refuse("the bot's context is paused: it resumes with the context")
            if state.pause_reason is PauseReason.PLAN:
                raise _refuse(f"{state.pause_detail}")
            self._trader.set_status(BotStatus.RUNNING)

        return await self._command("resume", change)

    @workflow.update
    async def stop(self) -> BotProjection:
        async def change() -> None:
            if self._trader.state.status is BotStatus.STOPPED:
                raise _refuse("the bot is already stopped")
            await self._trader.cancel_all()
            self._trader.set_status(BotStatus.STOPPED)

        return await self._command("stop", change)

    @workflow.update
    async def buy(self, order: ManualOrder) -> BotProjection:
        async def change() -> None:
            refusal = await commands.manual_buy(self._trader, order.amount)
            if refusal:
                raise _refuse(refusal)

        return await self._command("buy", change)

    @workflow.update
    async def sell(self, order: ManualOrder) -> BotProjection:
        async def change() -> None:
            refusal = await commands.manual_sell(self._trader, order.amount)
            if refusal:
                raise _refuse(refusal)

        return await self._command("sell", change)

    @workflow.update
    async def emergency_sell(self) -> BotProjection:
        async def change() -> None:
            refusal = await commands.emergency_sell(self._trader)
            if refusal:
                raise _refuse(refusal)

        return await self._command("emergency_sell", change)

    @workflow.update
    async def reset_circuit_breaker(self) -> BotProjection:
        async def change() -> None:
            state = self._trader.state
            if state.risk.tripped is None:
                raise _refuse("the circuit breaker has not tripped")
            self._trader.state = state.model_copy(
                update={"risk": reset_circuit_breaker(state.risk)}
            )
            if state.pause_reason is PauseReason.CIRCUIT_BREAKER:
                self._trader.set_status(BotStatus.RUNNING)

        return await self._command("reset_circuit_breaker", change)

    @workflow.update
    async def delete(self) -> BotProjection:
        async def change() -> None:
            self._require(BotStatus.STOPPED, "only a stopped bot is deleted")
            self._deleted = True

        return await self._command("delete", change)

    def _require(self, status: BotStatus, message: str) -> None:
        if self._trader.state.status is not status:
            raise _refuse(f"{message} (the bot is {self._trader.state.status.value})")


def _fields(error: ValidationError) -> str:
    """Each refused field named, as the API reports them."""
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'config'}: {item['msg']}"
        for item in error.errors()
    )


@workflow.defn(name="DcaBot")
class DcaBotWorkflow(SmartBotWorkflow):
    """A DCA bot (id ``bot:<bot id>``): the SmartBot engine trading a `DcaBotConfig`
    (domain/bots/dca.py), under a name of its own so support tells the kinds apart."""

    @workflow.init
    def __init__(self, start: SmartBotInput) -> None:
        super().__init__(start)

    @workflow.run
    async def run(self, start: SmartBotInput) -> None:
        await super().run(start)


@workflow.defn(name="CandleBot")
class CandleBotWorkflow(SmartBotWorkflow):
    """A Candle bot (id ``bot:<bot id>``): the SmartBot engine trading a `CandleBotConfig`
    (domain/bots/candle.py) on the signals its market feed sends (`analysis`)."""

    @workflow.init
    def __init__(self, start: SmartBotInput) -> None:
        super().__init__(start)

    @workflow.run
    async def run(self, start: SmartBotInput) -> None:
        await super().run(start)
