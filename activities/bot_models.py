"""What the bot engine's workflows and activities hand each other (pydantic payloads), and the
names they are registered under: one module both sides import, so a name is spelled once.

Queues: placements and cancels run on the venue's order queue (`TaskQueue.orders`), rate-
limited there; reads, projections and notices on the bots queue; the market watch on the
market-feeds queue.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from domain.bots.funds import BotFunds
from domain.bots.orders import Strategy
from domain.bots.risk import Observation, RiskState
from domain.bots.state import (
    BotKind,
    BotStatus,
    BotTriggers,
    Decision,
    PauseReason,
    SmartBotState,
    bot_workflow_id,
)
from domain.bots.trades import TradeResult
from domain.market import Fill, MarketRules, Money, Order, OrderRequest, Venue
from domain.signals import Signal

__all__ = [
    "AccountRef",
    "BotNotice",
    "BotProjection",
    "BotRef",
    "CancelOrder",
    "CandleAnalysis",
    "FeedRef",
    "ManualOrder",
    "MarketView",
    "OrderOutcome",
    "OrderReport",
    "PlaceOrder",
    "SmartBotInput",
    "SyncResult",
    "WatchResult",
    "account_sync_id",
    "bot_workflow_id",
    "feed_workflow_id",
]


def feed_workflow_id(venue: Venue, symbol: str) -> str:
    return f"market:{venue.value}:{symbol}"


def account_sync_id(user_id: uuid.UUID, venue: Venue) -> str:
    return f"account:{user_id}:{venue.value}"


# No attempt of a bot's order placement starts later than this after it was scheduled (the
# workflow's schedule-to-close timeout): the account sync waits it out before it declares an
# order the venue never heard of never placed.
PLACEMENT_GIVE_UP = timedelta(minutes=10)


class BotRef(BaseModel):
    """Who a bot is and where it trades: enough for any activity to reach its venue account
    (the user's key for `venue`, or the user's paper account)."""

    bot_id: uuid.UUID
    user_id: uuid.UUID
    context_id: uuid.UUID
    kind: BotKind
    venue: Venue
    symbol: str  # BASE-QUOTE

    @property
    def workflow_id(self) -> str:
        return bot_workflow_id(self.bot_id)


class FeedRef(BaseModel):
    venue: Venue
    symbol: str

    @property
    def workflow_id(self) -> str:
        return feed_workflow_id(self.venue, self.symbol)


class AccountRef(BaseModel):
    user_id: uuid.UUID
    venue: Venue

    @property
    def workflow_id(self) -> str:
        return account_sync_id(self.user_id, self.venue)


class MarketView(BaseModel):
    """One read of a market for a bot woken by its own timer or a command."""

    observation: Observation
    rules: MarketRules


class PlaceOrder(BaseModel):
    bot: BotRef
    request: OrderRequest  # already quantised to the market's rules by the workflow
    strategy: Strategy
    # Why the order was made: strategy source, parameters, best bid/ask and spread, the
    # decision's detail, indicators when there are any. Recorded before the order leaves.
    creation_context: dict[str, Any]
    # The workflow sent this client order id before (an earlier activity that failed for
    # good): the adapter looks it up before placing (`Exchange.create_order`).
    maybe_sent: bool = False


class CancelOrder(BaseModel):
    bot: BotRef
    client_order_id: str


class OrderOutcome(BaseModel):
    """The venue's answer. `order` is None when the venue refused the placement (`rejected`
    says why, in its words); `fills` are the order's trades known so far (all of them for a
    market order, which the activity follows to its final status)."""

    client_order_id: str
    order: Order | None = None
    fills: list[Fill] = Field(default_factory=list)
    rejected: str | None = None
    # The venue refused the key (not the order): the bot pauses for the user.
    credentials_refused: bool = False
    # The venue account lacks the funds (or the coins) for the order: the bot pauses too.
    insufficient_balance: bool = False


class OrderReport(BaseModel):
    """An order of the bot that changed without it (the account sync), with its fills."""

    order: Order
    fills: list[Fill] = Field(default_factory=list)


class BotProjection(BaseModel):
    """The bot's state as of `sequence`, written to its row; `triggers` are what its market
    feed watches (empty when nothing would wake it)."""

    bot: BotRef
    sequence: int
    status: BotStatus
    pause_reason: PauseReason | None
    pause_detail: str | None
    funds: BotFunds
    risk: RiskState
    last_decision: Decision | None
    config: dict[str, Any]
    order_sequence: int
    triggers: BotTriggers
    at: datetime
    # The triggers went from none to some: the market's feed may have ended and must run.
    start_feed: bool = False
    # Positions closed since the last projection that was written (table bot_trades).
    trades: tuple[TradeResult, ...] = ()


class BotNotice(BaseModel):
    """Something the user must hear about (the circuit breaker tripped, the key was refused):
    kept as an audit row and mailed."""

    bot: BotRef
    kind: str  # circuit_breaker_tripped, credentials_refused, ...
    message: str
    at: datetime


class WatchResult(BaseModel):
    """A market watch's run: how many bots still watch this market (0: the feed may end)."""

    watching: int
    reads: int
    woken: int


class SyncResult(BaseModel):
    open_orders: int  # still open after the sync (0: the sync may end)
    reported: int  # orders reported to their bots


class SmartBotInput(BaseModel):
    """The SmartBot workflow's input: a new bot, or the state its previous run handed on."""

    bot: BotRef
    state: SmartBotState


class CandleAnalysis(BaseModel):
    """From the market feed to a Candle bot: its strategy's signal on the candle that just
    closed, and the market as the feed last read it (what an order would be shaped on)."""

    signal: Signal
    observation: Observation


class ManualOrder(BaseModel):
    """The user's buy (quote to spend) or sell (base to sell); None: the config's order amount
    for a buy, the whole position for a sell."""

    amount: Money | None = Field(default=None, gt=0)
