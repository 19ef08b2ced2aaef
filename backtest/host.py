"""The backtest's `TraderHost`: the paper venue's own code (its matching engine, order rules and
book) over the backtest's candles, on the backtest's clock.

What a live bot's activities do, done here in process: a placement is sent to the venue and
answered with its fills, a refusal becomes the same `OrderOutcome` the order activity returns,
a projection publishes the bot's triggers to the backtest's market feed and keeps the closed
trades, a notice is kept for the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from activities.bot_models import (
    BotNotice,
    BotProjection,
    BotRef,
    MarketView,
    OrderOutcome,
    PlaceOrder,
)
from activities.bots import observation
from adapters.exchanges.errors import (
    ExchangeError,
    InsufficientBalance,
    OrderNotCancelable,
    OrderNotFound,
)
from adapters.exchanges.paper import PaperExchange
from domain.bots.risk import Observation
from domain.bots.state import BotStatus, BotTriggers
from domain.bots.trades import TradeResult
from domain.market import Fill, Order

_RECENT_FILLS = 20  # an order fills in one or a few trades, the newest of the account's


@dataclass
class Placed:
    """An order the bot sent, with why (its creation context) and what the venue answered."""

    request: PlaceOrder
    at: datetime
    order: Order | None = None
    rejected: str | None = None


@dataclass
class BacktestHost:
    venue: PaperExchange
    clock: Callable[[], datetime]
    publish: Callable[[BotTriggers, int], None]  # the feed's new triggers, and their version
    previous: Observation | None = None
    orders: list[Placed] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    trades: list[TradeResult] = field(default_factory=list)
    notices: list[BotNotice] = field(default_factory=list)
    _by_id: dict[str, Placed] = field(default_factory=dict)  # the orders, by client order id
    _trade_ids: set[str] = field(default_factory=set)  # the fills', recorded once each

    def now(self) -> datetime:
        return self.clock()

    def patched(self, change: str) -> bool:
        return True  # a backtest has no history from before any change

    def status_changed(self, status: BotStatus) -> None:
        pass  # nothing searches a backtest's bot

    async def observe(self, bot: BotRef) -> MarketView:
        ticker = await self.venue.ticker(bot.symbol)
        seen = observation(ticker, self.previous)
        self.previous = seen
        return MarketView(observation=seen, rules=await self.venue.market_rules(bot.symbol))

    async def place(self, order: PlaceOrder) -> OrderOutcome:
        request = order.request
        placed = Placed(order, self.clock())
        self.orders.append(placed)
        self._by_id[request.client_order_id] = placed
        try:
            sent = await self.venue.create_order(request)
        except ExchangeError as error:
            placed.rejected = error.message
            return OrderOutcome(
                client_order_id=request.client_order_id,
                rejected=error.message,
                insufficient_balance=isinstance(error, InsufficientBalance),
            )
        placed.order = sent
        fills = await self.order_fills(sent)
        return OrderOutcome(client_order_id=request.client_order_id, order=sent, fills=fills)

    async def cancel(self, bot: BotRef, client_order_id: str) -> OrderOutcome:
        """As the cancel activity: a final order is answered as it is, an unknown one was
        never placed."""
        try:
            try:
                order = await self.venue.cancel_order(bot.symbol, client_order_id=client_order_id)
            except OrderNotCancelable:
                order = await self.venue.get_order(bot.symbol, client_order_id=client_order_id)
        except OrderNotFound as error:
            return OrderOutcome(client_order_id=client_order_id, rejected=error.message)
        self.settled(order)
        return OrderOutcome(
            client_order_id=client_order_id, order=order, fills=await self.order_fills(order)
        )

    async def project(self, projection: BotProjection, *, start_feed: bool) -> bool:
        self.trades.extend(projection.trades)
        self.publish(projection.triggers, projection.sequence)
        return True

    async def notify(self, notice: BotNotice) -> None:
        self.notices.append(notice)

    async def ensure_account_sync(self, bot: BotRef) -> None:
        pass  # the runner reports resting orders' changes itself

    async def order_fills(self, order: Order) -> list[Fill]:
        """The order's trades, recorded once each for the report."""
        if order.filled_quantity <= 0:
            return []
        recent = await self.venue.fills(order.symbol, limit=_RECENT_FILLS)
        mine = [fill for fill in recent if fill.order_id == order.order_id]
        for fill in mine:
            if fill.trade_id not in self._trade_ids:
                self._trade_ids.add(fill.trade_id)
                self.fills.append(fill)
        return mine

    def settled(self, order: Order) -> None:
        """The venue's latest word on one of the bot's orders, for the report."""
        placed = self._by_id.get(order.client_order_id)
        if placed is not None:
            placed.order = order

    def sent(self, client_order_id: str) -> Order | None:
        """The venue's latest answer on an order the bot sent."""
        placed = self._by_id.get(client_order_id)
        return None if placed is None else placed.order
