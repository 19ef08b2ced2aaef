"""What a bot is at any moment: its lifecycle, what it remembers, and the triggers it publishes
to its market feed.

`SmartBotState` is the whole state the bot's workflow carries (and hands to its next run on
``continue_as_new``); the database row is its projection. `BotTriggers` are data: the feed
evaluates them on every price it reads and wakes only the bots whose triggers fired (DESIGN
"Bots at scale"); a trigger is a hint, the woken bot decides again from its own state.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.bots.candle import CandleBotConfig
from domain.bots.config import SmartBotConfig
from domain.bots.dca import DcaBotConfig
from domain.bots.funds import BotFunds
from domain.bots.risk import RestingOrder, RiskState, RiskTriggers
from domain.bots.risk_rules import triggers_fired
from domain.bots.trades import TradeResult
from domain.bots.warnings import WarnTrigger
from domain.market import MarketRules, Money
from domain.signals import CandleStrategy, Signal

__all__ = [
    "AnalysisTrigger",
    "BotKind",
    "BotStatus",
    "BotTriggers",
    "BuyTrigger",
    "Decision",
    "PauseReason",
    "SmartBotState",
    "bot_workflow_id",
]


def bot_workflow_id(bot_id: uuid.UUID) -> str:
    """A bot's workflow id, from its business key: support finds it by the bot's id."""
    return f"bot:{bot_id}"


class BotKind(StrEnum):
    SMART = "smart"
    CANDLE = "candle"
    DCA = "dca"


class BotStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"  # with a pause reason: the user, the circuit breaker, the plan, the key
    STOPPED = "stopped"  # open orders canceled, no trading; the position stays the user's


class PauseReason(StrEnum):
    USER = "user"
    CIRCUIT_BREAKER = "circuit_breaker"  # only the user resumes (reset-circuit-breaker)
    CONTEXT_PAUSED = "context_paused"  # the context was paused (plan limits): resumes with it
    CREDENTIALS = "credentials"  # the key was refused or deleted: resumes when the user says so
    FUNDS = "funds"  # the venue account lacked the funds for an order: the user resumes it
    PLAN = "plan"  # the plan no longer has the bot's kind or rules: resumes with an upgrade


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True)


class Decision(_Data):
    """The bot's last decision and why, for the user ("why did my bot do that")."""

    at: datetime
    action: str  # buy, sell, hold, refuse, cancel, emergency_sell, pause, ...
    reason: str | None = None  # the sell reason, the refusal reason, the command
    detail: str = ""


class BuyTrigger(_Data):
    """When the buy rule may buy: at or below a price (the dip rule), not before a time (the
    interval, a cooldown). Published only while a buy could happen (running, funds left)."""

    at_or_below: Money | None = None
    not_before: datetime | None = None


class AnalysisTrigger(_Data):
    """A Candle bot's strategy, for its feed to analyse at each close of the strategy's
    timeframe; `seen_ms`: the open time of the last candle whose signal the bot has."""

    strategy: CandleStrategy
    seen_ms: int | None = None


class BotTriggers(_Data):
    risk: RiskTriggers = RiskTriggers()
    buy: BuyTrigger | None = None
    analysis: AnalysisTrigger | None = None
    warn: WarnTrigger | None = None

    @property
    def empty(self) -> bool:
        nothing = self.buy is None and self.analysis is None and self.warn is None
        return nothing and self.risk == RiskTriggers()

    def fired(self, price: Decimal, at: datetime, high: Decimal | None = None) -> bool:
        """Whether the feed should wake the bot, on `price` (the best bid when the feed has
        one) at `at`; `high` is the highest price since the feed received these triggers."""
        buy = self.buy
        if (
            buy is not None
            and buy.at_or_below is not None
            and price <= buy.at_or_below
            and (buy.not_before is None or at >= buy.not_before)
        ):
            return True
        warn = self.warn
        if warn is not None and (
            (warn.at_or_above is not None and price >= warn.at_or_above)
            or (warn.at_or_below is not None and price <= warn.at_or_below)
        ):
            return True
        return triggers_fired(self.risk, price, at, high)


class SmartBotState(_Data):
    config: SmartBotConfig
    funds: BotFunds
    status: BotStatus = BotStatus.RUNNING
    pause_reason: PauseReason | None = None
    pause_detail: str | None = None
    risk: RiskState = RiskState()
    # The next order's sequence: client order ids are (workflow id, sequence), never reused.
    order_sequence: int = 0
    # Bumped by every projection, so a late projection never overwrites a newer one.
    projection_sequence: int = 0
    # The dip rule's reference: the last fill's price, or the first price seen.
    reference_price: Money | None = None
    # When the buy rule may buy next (interval, cron fire); None: no buy is scheduled.
    next_buy_at: datetime | None = None
    cooldown_until: datetime | None = None  # no buy before (the sell rule's cooldown)
    # The bot's resting limit orders, for auto-cancel and the account sync.
    resting: dict[str, RestingOrder] = Field(default_factory=dict)
    rules: MarketRules | None = None  # the market's rules, read at start and on each timer
    last_decision: Decision | None = None
    last_price: Money | None = None
    volatility_percent: Money | None = None  # the market's, as last observed (adaptive sell)
    # Realized profit when the last trade closed: a sale's result is the difference, counted
    # into the circuit breaker.
    realized_at_last_trade: Money = Decimal(0)
    # The buy rule's buys in the current position (`SmartBotConfig.max_buys`), and how many
    # positions the bot has closed: a DCA bot's cycle and accumulation.
    position_buys: int = 0
    closed_positions: int = 0
    position_opened_at: datetime | None = None  # the open position's first buy fill
    # Closed positions no projection has written yet (`BotProjection.trades`).
    unrecorded_trades: tuple[TradeResult, ...] = ()
    # A DCA or Candle bot's config as its user wrote it; `config` is what it means to the
    # engine.
    dca: DcaBotConfig | None = None
    candle: CandleBotConfig | None = None
    # A Candle bot's last signal, and since when it trades on signals (its first start).
    signal: Signal | None = None
    trading_since: datetime | None = None
