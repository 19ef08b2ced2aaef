"""What a SmartBot does when it has work: decide with the domain's rules on its own state, act
through its host, keep its funds in step with the venue's answers, publish what changed.

Deterministic, as workflow code must be: its time, the market and the venue come from its
`TraderHost` (workflows/bots/host.py), the bot's workflow or a backtest. `SmartBotWorkflow`
holds one `Trader` and serialises every call into it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from temporalio import workflow

from workflows.bots.host import TraderHost
from workflows.bots.placing import placed
from workflows.bots.warning import warn_near_exits

with workflow.unsafe.imports_passed_through():
    from activities.bot_models import BotNotice, BotProjection, BotRef, OrderReport, PlaceOrder
    from domain.bots.candle import CandleBotConfig
    from domain.bots.config import BotMode
    from domain.bots.dca import DcaBotConfig
    from domain.bots.funds import FundsError
    from domain.bots.kinds import KindConfig, engine_config
    from domain.bots.orders import Strategy, client_order_id
    from domain.bots.risk import Action, Observation, RiskDecision
    from domain.bots.risk_rules import evaluate
    from domain.bots.smart import (
        apply_order,
        bot_triggers,
        buy_blocker,
        buy_request,
        buy_rule,
        creation_context,
        held,
        next_buy_time,
        sell_request,
    )
    from domain.bots.state import BotStatus, BotTriggers, Decision, PauseReason, SmartBotState
    from domain.market import Fill, Order, OrderRequest, Side


class Trader:
    def __init__(self, bot: BotRef, state: SmartBotState, host: TraderHost) -> None:
        self.bot = bot
        self.host = host
        self.state = state
        self._published: BotTriggers | None = None  # None: not yet in this run
        self.notices: list[BotNotice] = []  # to send once the change is applied

    # -- lifecycle ------------------------------------------------------------------------

    async def start_run(self) -> None:
        """A new run: read the market once when the bot has never seen it (its rules, the dip
        rule's reference, the first buy's time), then publish and make sure its feed runs."""
        if self.state.rules is None:
            view = await self.host.observe(self.bot)
            if view is not None:
                self.state = self.state.model_copy(
                    update={
                        "rules": view.rules,
                        "reference_price": view.observation.price,
                        "last_price": view.observation.price,
                    }
                )
            if self.state.next_buy_at is None and self.state.status is BotStatus.RUNNING:
                self.state = self.state.model_copy(update={"next_buy_at": self._first_buy_at()})
            if self.state.candle is not None and self.state.trading_since is None:
                self.state = self.state.model_copy(update={"trading_since": self.host.now()})
        await self.publish()
        if self.state.resting:
            await self.host.ensure_account_sync(self.bot)

    def _first_buy_at(self) -> datetime | None:
        """A continuous bot buys at once when started; a scheduled one at its next fire."""
        if self.state.config.mode is BotMode.CONTINUOUS:
            return self.host.now()
        return next_buy_time(self.state.config, self.host.now())

    def set_status(
        self, status: BotStatus, reason: PauseReason | None = None, detail: str | None = None
    ) -> None:
        if status is not self.state.status:
            self.host.status_changed(status)
        self.state = self.state.model_copy(
            update={"status": status, "pause_reason": reason, "pause_detail": detail}
        )

    def context_paused(self, paused: bool) -> None:
        if paused and self.state.status is BotStatus.RUNNING:
            self.set_status(
                BotStatus.PAUSED, PauseReason.CONTEXT_PAUSED, "the bot's trading context was paused"
            )
        elif not paused and self.state.pause_reason is PauseReason.CONTEXT_PAUSED:
            self.set_status(BotStatus.RUNNING)

    def plan_fit(self, refusal: str | None) -> None:
        """A plan change: a running bot the plan no longer runs pauses; one it paused for that
        resumes when the plan runs it again."""
        if refusal is not None and self.state.status is BotStatus.RUNNING:
            detail = f"{refusal}: upgrade the plan to resume the bot"
            self.set_status(BotStatus.PAUSED, PauseReason.PLAN, detail)
            self.decided("pause", "plan", detail)
        elif refusal is None and self.state.pause_reason is PauseReason.PLAN:
            self.set_status(BotStatus.RUNNING)

    def credentials_removed(self) -> None:
        """No key, no orders: a running bot pauses at once (not at its next order, which may
        be a stop loss) until the user saves a key and resumes it."""
        if self.state.status is BotStatus.RUNNING:
            detail = "the venue key was deleted: save a key, then resume the bot"
            self.set_status(BotStatus.PAUSED, PauseReason.CREDENTIALS, detail)
            self.decided("pause", "credentials", detail)

    def reconfigure(self, shown: KindConfig) -> None:
        """The user's new config, in the bot kind's shape; taking allocation away needs it
        free (FundsError)."""
        config = engine_config(shown)
        funds = self.state.funds.reallocate(config.allocated_balance)
        next_buy = self.state.next_buy_at
        if config.mode is not self.state.config.mode or config.cron != self.state.config.cron:
            next_buy = next_buy_time(config, self.host.now())
        self.state = self.state.model_copy(
            update={
                "config": config,
                "dca": shown if isinstance(shown, DcaBotConfig) else None,
                "candle": shown if isinstance(shown, CandleBotConfig) else None,
                "funds": funds,
                "next_buy_at": next_buy,
            }
        )

    @property
    def strategy(self) -> Strategy:
        """What the bot's own orders are grouped under: its kind (smart, candle, dca)."""
        return Strategy(self.bot.kind.value)

    def decided(self, action: str, reason: str | None = None, detail: str = "") -> None:
        self.state = self.state.model_copy(
            update={
                "last_decision": Decision(
                    at=self.host.now(), action=action, reason=reason, detail=detail
                )
            }
        )

    # -- projection -----------------------------------------------------------------------

    def projection(self) -> BotProjection:
        state = self.state
        return BotProjection(
            bot=self.bot,
            sequence=state.projection_sequence,
            status=state.status,
            pause_reason=state.pause_reason,
            pause_detail=state.pause_detail,
            funds=state.funds,
            risk=state.risk,
            last_decision=state.last_decision,
            config=(state.dca or state.candle or state.config).model_dump(mode="json"),
            order_sequence=state.order_sequence,
            triggers=bot_triggers(state),
            at=self.host.now(),
            trades=state.unrecorded_trades,
        )

    async def publish(self) -> None:
        """Project the state and its triggers; a feed that may have ended (nothing watched
        this market) is started again when the bot has something for it to watch."""
        self.state = self.state.model_copy(
            update={"projection_sequence": self.state.projection_sequence + 1}
        )
        was_empty = self._published is None or self._published.empty
        projection = self.projection()
        start_feed = was_empty and not projection.triggers.empty
        self._published = projection.triggers
        written = await self.host.project(projection, start_feed=start_feed)
        if written and projection.trades:
            # Trades closed while the projection ran (a handler) wait for the next one.
            last = projection.trades[-1].number
            kept = tuple(t for t in self.state.unrecorded_trades if t.number > last)
            self.state = self.state.model_copy(update={"unrecorded_trades": kept})

    # -- market events --------------------------------------------------------------------

    async def apply_report(self, report: OrderReport) -> None:
        self.apply(report.order.client_order_id, report.order, report.fills)
        await self.send_notices()

    def apply(self, cid: str, order: Order | None, fills: list[Fill]) -> None:
        """The venue's word on an order: funds, position and status follow it."""
        before = self.state
        self.state = apply_order(before, cid, order, fills, self.host.now())
        if self.state.status is not before.status:
            self.host.status_changed(self.state.status)
            if self.state.pause_reason is PauseReason.CIRCUIT_BREAKER:
                self.notices.append(
                    BotNotice(
                        bot=self.bot,
                        kind="circuit_breaker_tripped",
                        message=self.state.pause_detail or "circuit breaker tripped",
                        at=self.host.now(),
                    )
                )

    async def tick(self) -> None:
        """The bot's own timer: read the market, then decide as on any observation."""
        view = await self.host.observe(self.bot)
        if view is None:
            self.decided("hold", "market_unreadable", "the market could not be read")
            self._schedule_next_buy()
            return
        self.state = self.state.model_copy(update={"rules": view.rules})
        await self.evaluate(view.observation, timer=True)

    def _schedule_next_buy(self) -> None:
        self.state = self.state.model_copy(
            update={"next_buy_at": next_buy_time(self.state.config, self.host.now())}
        )

    async def evaluate(self, observation: Observation, *, timer: bool) -> None:
        """Decide on one observation: the risk rules first (refuse, cancel drifted orders,
        sell), then the buy rule."""
        state = self.state
        reference = (
            state.reference_price if state.reference_price is not None else observation.price
        )
        self.state = state.model_copy(
            update={
                "reference_price": reference,
                "last_price": observation.price,
                "volatility_percent": observation.volatility_percent,
            }
        )
        if self.state.status is not BotStatus.RUNNING:
            return
        decision, risk = evaluate(
            state.config.risk,
            state.risk,
            held(self.state),
            observation,
            tuple(state.resting.values()),
        )
        self.state = self.state.model_copy(update={"risk": risk})
        if decision.action is Action.REFUSE:
            self.decided("refuse", decision.refusal, decision.detail)
            if timer:
                self._schedule_next_buy()
            return
        for cid in decision.cancel_order_ids:
            await self.cancel(cid)
        if decision.action is Action.SELL:
            await self._sell_all(decision, observation)
            return
        await warn_near_exits(self, observation)
        detail = decision.detail
        if decision.action is Action.CANCEL:
            self.decided("cancel", "auto_cancel", detail)
            detail = ""  # the cancel is the decision, unless a buy follows
        await self._maybe_buy(observation, timer=timer, risk_detail=detail)

    async def _maybe_buy(self, observation: Observation, *, timer: bool, risk_detail: str) -> None:
        state = self.state
        now = self.host.now()
        config = state.config
        due = state.next_buy_at is not None and now >= state.next_buy_at
        if not due or (not timer and config.dip_percent is None):
            if risk_detail:
                self.decided("hold", None, risk_detail)
            return
        self._schedule_next_buy()
        level = config.dip_level(state.reference_price or observation.price)
        if level is not None and observation.price > level:
            self.decided("hold", "dip", f"price {observation.price} above the dip level {level}")
            return
        blocker = buy_blocker(self.state, config.order_amount, now)
        if blocker is not None:
            self.decided("hold", "buy_rule", blocker)
            return
        dca = state.dca
        why = dca.purchase_rule(state.position_buys + 1) if dca else buy_rule(config, level)
        await self.buy(config.order_amount, observation, self.strategy, why, automatic=True)

    # -- orders ---------------------------------------------------------------------------

    def next_id(self) -> str:
        """The next order's client order id; the sequence moves only when an order is sent
        (`place`), so a decision that makes no order spends no id."""
        return client_order_id(self.bot.workflow_id, self.state.order_sequence)

    async def buy(
        self,
        amount: Decimal,
        observation: Observation,
        strategy: Strategy,
        why: str,
        *,
        automatic: bool = False,
        indicators: dict[str, Any] | None = None,
    ) -> str | None:
        request = buy_request(self.state, self.next_id(), amount, observation)
        if isinstance(request, str):
            self.decided("hold", "order_rules", request)
            return request
        await self.place(
            request, observation, strategy, why, automatic_buy=automatic, indicators=indicators
        )
        return None

    def position_sale(self, observation: Observation) -> OrderRequest | str:
        """A market sale of all the bot may sell (a str says why none can be shaped): what a
        risk exit, a SELL signal and an emergency sell place."""
        quantity = self.state.funds.sellable_quantity
        return sell_request(self.state, self.next_id(), quantity, observation, market=True)

    async def _sell_all(self, decision: RiskDecision, observation: Observation) -> None:
        request = self.position_sale(observation)
        reason = decision.sell_reason.value if decision.sell_reason else "sell"
        if isinstance(request, str):
            self.decided("hold", reason, f"{decision.detail}; cannot sell: {request}")
            return
        await self.place(request, observation, self.strategy, decision.detail, reason)

    async def place(
        self,
        request: OrderRequest,
        observation: Observation,
        strategy: Strategy,
        why: str,
        reason: str | None = None,
        *,
        automatic_buy: bool = False,
        indicators: dict[str, Any] | None = None,
    ) -> None:
        """Block the funds, record why, send; then apply the venue's answer. A buy of the buy
        rule counts toward `max_buys` unless the venue refuses it. `indicators`: the values a
        Candle bot's signal decided on, for the creation context."""
        try:
            funds = self.state.funds.place(request)
        except FundsError as error:
            self.decided("refuse", "funds", str(error))
            return
        buys = self.state.position_buys + (1 if automatic_buy else 0)
        self.state = self.state.model_copy(
            update={
                "funds": funds,
                "order_sequence": self.state.order_sequence + 1,
                "position_buys": buys,
            }
        )
        action = "buy" if request.side is Side.BUY else "sell"
        self.decided(action, reason or strategy.value, why)
        context = creation_context(
            self.state,
            observation,
            strategy,
            reason or why,
            why,
            automatic_buy=automatic_buy,
            indicators=indicators,
        )
        outcome = await self.host.place(
            PlaceOrder(bot=self.bot, request=request, strategy=strategy, creation_context=context)
        )
        await placed(self, request, outcome, automatic_buy=automatic_buy)

    async def send_notices(self) -> None:
        notices, self.notices = self.notices, []
        for notice in notices:
            await self.host.notify(notice)

    async def cancel(self, cid: str) -> None:
        outcome = await self.host.cancel(self.bot, cid)
        if outcome is None:
            return
        order = outcome.order
        if order is None:  # unknown at the venue: never placed
            self.apply(cid, None, [])
        else:
            self.apply(cid, order, outcome.fills)

    async def cancel_all(self) -> None:
        for cid in list(self.state.resting):
            await self.cancel(cid)
