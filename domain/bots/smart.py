"""A SmartBot's rules as pure functions of its state: when it may buy, what it orders, what a
venue's answer does to it, and which triggers it publishes. The workflow (workflows/bots/smart.py)
only orchestrates: it calls these on its own state and acts through activities; backtests run
the same code.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.bots.config import BotMode, BotOrderType, SmartBotConfig
from domain.bots.funds import BotFunds, FundsError
from domain.bots.orders import Strategy
from domain.bots.risk import Observation, Position, RestingOrder
from domain.bots.risk_rules import record_trade_result, triggers
from domain.bots.schedule import next_fire
from domain.bots.state import (
    AnalysisTrigger,
    BotStatus,
    BotTriggers,
    BuyTrigger,
    Decision,
    PauseReason,
    SmartBotState,
)
from domain.bots.trades import TradeResult
from domain.bots.warnings import warn_trigger
from domain.market import Fill, Order, OrderRequest, OrderType, Side

__all__ = [
    "apply_order",
    "bot_triggers",
    "buy_blocker",
    "buy_request",
    "buy_rule",
    "creation_context",
    "finished",
    "held",
    "is_dust",
    "next_buy_time",
    "position",
    "resting_order",
    "sell_request",
    "timer_due",
]

_HUNDRED = Decimal(100)
# The market has not been read yet (its first read failed): no order can be shaped.
NO_RULES = "the market's rules are not known yet"


def next_buy_time(config: SmartBotConfig, now: datetime) -> datetime | None:
    """When the buy rule next acts on its own: an interval away (CONTINUOUS), the cron's next
    fire (SCHEDULED), never (MANUAL)."""
    if config.mode is BotMode.CONTINUOUS:
        return now + timedelta(seconds=config.interval_seconds)
    if config.mode is BotMode.SCHEDULED:
        assert config.cron is not None and config.timezone is not None  # the config's rule
        return next_fire(config.cron, config.timezone, now)
    return None


def position(funds: BotFunds) -> Position:
    """What the risk rules judge: the base not already on sale, at its average cost."""
    return Position(
        quantity=funds.sellable_quantity,
        average_price=funds.average_price or Decimal(0),
    )


def is_dust(state: SmartBotState, quantity: Decimal, price: Decimal | None = None) -> bool:
    """Whether `quantity` base is too little for the market to take in a sale: under its lot
    step, its minimum quantity or, at `price` (else the last price seen), its minimum notional.
    A venue that charges a buy's fee in base (Binance) leaves such a remainder after every
    whole sale: it is no position to protect, and selling it closes the trade."""
    if quantity <= 0:
        return True
    rules = state.rules
    if rules is None:
        return False
    sellable = rules.quantise_quantity(quantity)
    price = price if price is not None else state.last_price
    return (
        sellable <= 0
        or sellable < rules.min_quantity
        or (price is not None and sellable * price < rules.min_notional)
    )


def held(state: SmartBotState) -> Position:
    """The position the risk rules protect and sell: none when only dust is left."""
    current = position(state.funds)
    if current.quantity > 0 and is_dust(state, current.quantity):
        return current.model_copy(update={"quantity": Decimal(0)})
    return current


def buy_blocker(state: SmartBotState, amount: Decimal, now: datetime) -> str | None:
    """Why a buy of `amount` quote cannot happen now, or None."""
    if state.status is not BotStatus.RUNNING:
        return f"the bot is {state.status.value}"
    if state.risk.tripped is not None:
        return f"circuit breaker tripped: {state.risk.tripped.detail}"
    if state.cooldown_until is not None and now < state.cooldown_until:
        return f"cooling down after a sale until {state.cooldown_until.isoformat()}"
    if state.funds.free < amount:
        return f"{state.funds.free} {state.funds.quote} free, a buy needs {amount}"
    if not _buys_left(state):
        return f"{state.position_buys} buys made in this position, the most the config allows"
    return None


def _buys_left(state: SmartBotState) -> bool:
    limit = state.config.max_buys
    return limit is None or state.position_buys < limit


def finished(state: SmartBotState) -> bool:
    """The buy rule has made all its buys and nothing would ever sell, no risk rule and no
    signal: nothing is left for the bot to do (a DCA bot's last cycle without an exit)."""
    risk = state.config.risk
    can_sell = risk.take_profit.enabled or risk.stop_loss.enabled or risk.trailing_stop.enabled
    sells_on_signals = state.candle is not None and state.candle.sell_on_signal
    return not _buys_left(state) and not can_sell and not sells_on_signals


def _automatic_buys(state: SmartBotState) -> bool:
    """Whether the buy rule could buy on its own (a timer or a dip may wake it for that)."""
    config = state.config
    return (
        config.mode is not BotMode.MANUAL
        and state.status is BotStatus.RUNNING
        and state.risk.tripped is None
        and state.funds.free >= config.order_amount
        and _buys_left(state)
    )


def timer_due(state: SmartBotState) -> datetime | None:
    """When the bot's own timer must wake it: its next buy (after any cooldown), unless the
    dip rule waits for a price, which the feed watches. None: only the feed or a command
    wakes it, and an idle bot costs no workflow task."""
    if not _automatic_buys(state) or state.next_buy_at is None:
        return None
    if state.config.dip_percent is not None and state.reference_price is not None:
        return None
    if state.cooldown_until is not None and state.cooldown_until > state.next_buy_at:
        return state.cooldown_until
    return state.next_buy_at


def bot_triggers(state: SmartBotState) -> BotTriggers:
    """What the market feed watches for this bot: its risk levels, with the dip rule the price
    at which it would buy, and a Candle bot's strategy to analyse. A bot that is not running
    publishes nothing."""
    if state.status is not BotStatus.RUNNING:
        return BotTriggers()
    risk = triggers(
        state.config.risk,
        state.risk,
        held(state),
        tuple(state.resting.values()),
        state.volatility_percent,
    )
    buy = None
    if _automatic_buys(state) and state.reference_price is not None:
        level = state.config.dip_level(state.reference_price)
        if level is not None:
            not_before = max(
                (t for t in (state.next_buy_at, state.cooldown_until) if t is not None),
                default=None,
            )
            buy = BuyTrigger(at_or_below=level, not_before=not_before)
    analysis = None
    if state.candle is not None:  # its signals are its buy rule: the feed analyses for it
        seen = None if state.signal is None else state.signal.candle_open_ms
        analysis = AnalysisTrigger(strategy=state.candle.strategy, seen_ms=seen)
    warn = warn_trigger(state.config.risk, state.risk, held(state), state.volatility_percent)
    return BotTriggers(risk=risk, buy=buy, analysis=analysis, warn=warn)


def buy_request(
    state: SmartBotState, client_order_id: str, amount: Decimal, observation: Observation
) -> OrderRequest | str:
    """The buy of `amount` quote the config asks for, on the market's rules; a str says why
    none can be made (below the market's minimum, no price to rest at)."""
    rules = state.rules
    if rules is None:
        return NO_RULES
    config = state.config
    if config.order_type is BotOrderType.MARKET:
        if amount < rules.min_notional:
            return f"{amount} is under the market's minimum order of {rules.min_notional}"
        return OrderRequest(
            client_order_id=client_order_id,
            symbol=config.symbol,
            side=Side.BUY,
            type=OrderType.MARKET,
            quote_quantity=amount,
        )
    reference = observation.bid or observation.price
    price = rules.quantise_price(reference * (1 - config.limit_offset_percent / _HUNDRED), Side.BUY)
    if price <= 0:
        return f"no price to rest a buy at (reference {reference})"
    quantity = rules.quantise_quantity(amount / price)
    violation = rules.violation(quantity, price)
    if violation is not None:
        return f"a buy of {quantity} at {price} breaks the market's {violation} rule"
    return OrderRequest(
        client_order_id=client_order_id,
        symbol=config.symbol,
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=quantity,
        price=price,
    )


def sell_request(
    state: SmartBotState,
    client_order_id: str,
    quantity: Decimal,
    observation: Observation,
    *,
    market: bool,
) -> OrderRequest | str:
    """A sale of `quantity` base (at most what is not already on sale), at market or resting
    over the best ask by the config's offset; a str says why none can be made (dust)."""
    rules = state.rules
    if rules is None:
        return NO_RULES
    quantity = rules.quantise_quantity(min(quantity, state.funds.sellable_quantity))
    reference = observation.ask or observation.price
    if market:
        if quantity <= 0 or quantity < rules.min_quantity:
            return f"{quantity} {state.funds.base} is under the market's minimum quantity"
        if quantity * reference < rules.min_notional:
            return f"{quantity} {state.funds.base} is under the market's minimum notional"
        return OrderRequest(
            client_order_id=client_order_id,
            symbol=state.config.symbol,
            side=Side.SELL,
            type=OrderType.MARKET,
            quantity=quantity,
        )
    offset = state.config.limit_offset_percent
    price = rules.quantise_price(reference * (1 + offset / _HUNDRED), Side.SELL)
    violation = rules.violation(quantity, price)
    if violation is not None:
        return f"a sale of {quantity} at {price} breaks the market's {violation} rule"
    return OrderRequest(
        client_order_id=client_order_id,
        symbol=state.config.symbol,
        side=Side.SELL,
        type=OrderType.LIMIT,
        quantity=quantity,
        price=price,
    )


def apply_order(
    state: SmartBotState,
    client_order_id: str,
    order: Order | None,
    fills: list[Fill],
    now: datetime,
) -> SmartBotState:
    """The venue's word on one of the bot's orders (`order` None: refused, never placed): its
    fills move the funds (each trade once), a final status releases what it still blocks, a
    sale that closes the position (leaving at most dust) counts into the circuit breaker. Facts
    the ledger cannot take (an order it never placed) are left out; the projection still
    records them."""
    funds = state.funds
    if client_order_id not in funds.orders:
        return state
    for fill in sorted(fills, key=lambda f: (f.at, f.trade_id)):
        try:
            funds = funds.fill(client_order_id, fill)
        except FundsError:
            continue  # an impossible fill (over the order): the venue's record shows it
    final = order is None or order.status.is_final
    if final:
        funds = funds.finish(client_order_id)
    resting = dict(state.resting)
    if final:
        resting.pop(client_order_id, None)
    update: dict[str, object] = {"funds": funds, "resting": resting}
    last_fill = max(fills, key=lambda f: (f.at, f.trade_id)).price if fills else None
    if last_fill is not None:
        update["reference_price"] = last_fill
    sold = funds.orders[client_order_id].side is Side.SELL
    if not sold and fills and state.position_opened_at is None:
        update["position_opened_at"] = min(f.at for f in fills)
    if final and sold and fills and is_dust(state, funds.position_quantity, last_fill):
        update.update(_close_trade(state, funds, client_order_id, now))
    if final and order is not None and funds.orders[client_order_id].complete:
        # Fully filled and reported: the database keeps its history, the state need not.
        update["funds"] = funds.forget([client_order_id])
    return state.model_copy(update=update)


def _close_trade(
    state: SmartBotState, funds: BotFunds, sale: str, now: datetime
) -> dict[str, object]:
    """The sale `sale` closed the position: its result goes to the circuit breaker and to the
    trades the next projection writes, the cooldown starts, the buy count starts again, and a
    one-cycle bot (or one told to stop after a loss, on a loss) stops. The position's trailing
    peak and soft-stop window end with it: the next position (a manual buy takes no look at
    the market first) starts afresh."""
    pnl = funds.realized_profit - state.realized_at_last_trade
    trade = TradeResult(
        number=state.closed_positions + 1,
        opened_at=state.position_opened_at,
        closed_at=now,
        closing_order=sale,
        profit=pnl,
    )
    breaker = state.config.risk.circuit_breaker
    risk = record_trade_result(
        breaker, state.risk, pnl, now, state.config.allocated_balance
    ).model_copy(update={"peak_price": None, "soft_stop_since": None, "warned": frozenset()})
    update: dict[str, object] = {
        "risk": risk,
        "realized_at_last_trade": funds.realized_profit,
        "position_buys": 0,
        "closed_positions": trade.number,
        "position_opened_at": None,
        "unrecorded_trades": (*state.unrecorded_trades, trade),
    }
    cooldown = state.config.sell.cooldown_seconds
    if cooldown:
        update["cooldown_until"] = now + timedelta(seconds=cooldown)
    if risk.tripped is not None and state.risk.tripped is None:
        update.update(
            status=BotStatus.PAUSED,
            pause_reason=PauseReason.CIRCUIT_BREAKER,
            pause_detail=risk.tripped.detail,
            last_decision=Decision(
                at=now, action="pause", reason="circuit_breaker", detail=risk.tripped.detail
            ),
        )
    elif state.config.sell.stop_after_sell or (state.config.sell.stop_after_loss and pnl < 0):
        update["status"] = BotStatus.STOPPED
    return update


def resting_order(request: OrderRequest) -> RestingOrder | None:
    """What auto-cancel follows of a limit order the bot placed (None for a market order)."""
    if request.type is OrderType.MARKET or request.price is None:
        return None
    return RestingOrder(
        client_order_id=request.client_order_id, side=request.side, price=request.price
    )


def buy_rule(config: SmartBotConfig, dip_level: Decimal | None) -> str:
    """Why the buy rule bought, in words, for the order's creation context."""
    amount = f"{config.order_amount} of the quote"
    if config.mode is BotMode.SCHEDULED:
        rule = f"buy {amount} at each fire of {config.cron} ({config.timezone})"
    else:
        rule = f"buy {amount} every {config.interval_seconds}s"
    if dip_level is not None:
        rule += f", at or under the dip level {dip_level}"
    return rule


_SPREAD_QUANTUM = Decimal("0.0001")


def creation_context(
    state: SmartBotState,
    observation: Observation,
    source: Strategy,
    reason: str,
    detail: str,
    *,
    automatic_buy: bool = False,
    indicators: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Why an order was made, recorded with it before it leaves: the strategy and its rule,
    the config in force, the market as the bot saw it (best bid and ask, spread) and the
    position; `indicators` is where Candle bots add theirs. A buy of the buy rule also carries
    its place in the position (`cycle`, counted from 1, of `accumulation`): a DCA execution."""
    cycle = state.position_buys if automatic_buy else None
    bid, ask = observation.bid, observation.ask
    spread = None
    if bid is not None and ask is not None:
        spread = format(((ask - bid) / ((ask + bid) / 2) * _HUNDRED).quantize(_SPREAD_QUANTUM), "f")
    return {
        "source": source.value,
        "reason": reason,
        "detail": detail,
        "mode": state.config.mode.value,
        "parameters": state.config.model_dump(mode="json"),
        "observation": observation.model_dump(mode="json"),
        "best_bid": None if bid is None else format(bid, "f"),
        "best_ask": None if ask is None else format(ask, "f"),
        "spread_percent": spread,
        "position": position(state.funds).model_dump(mode="json"),
        "indicators": indicators or {},
        "cycle": cycle,
        "accumulation": None if cycle is None else state.closed_positions + 1,
    }
