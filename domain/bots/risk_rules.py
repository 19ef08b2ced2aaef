"""The risk rules a bot applies on every price it sees, as pure functions of its settings, its
`RiskState`, its position and one `Observation` ("now" is the observation's time): they return
a `RiskDecision` and the next state, never act. `triggers` turns the same rules into price
levels a market feed evaluates cheaply for many bots (DESIGN "Bots at scale").

Order of precedence on one observation: a tripped circuit breaker refuses everything; then the
sanity check refuses a suspicious market; then, holding a position, the hard stop, the trailing
stop, take profit and the soft stop, first match sells; otherwise drifted orders are cancelled.
Prices a sale is judged by are the best bid when known (what a market sell gets), else the last.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from domain.bots.risk import (
    Action,
    AdaptiveSell,
    AutoCancel,
    CircuitBreaker,
    CircuitBreakerTrip,
    Observation,
    Position,
    RefusalReason,
    RestingOrder,
    RiskDecision,
    RiskSettings,
    RiskState,
    RiskTriggers,
    SanityCheck,
    SellReason,
    TripReason,
)
from domain.market import Side

_HUNDRED = Decimal(100)
# A widened loss distance stays short of the whole price (a stop at zero could never fire).
_MAX_LOSS_PERCENT = Decimal(99)


class SellLevels(NamedTuple):
    """The position's sell levels in force, adaptive scaling applied (None: mechanism off)."""

    take_profit: Decimal | None
    soft_stop: Decimal | None
    hard_stop: Decimal | None
    trailing_arm: Decimal | None
    trailing_percent: Decimal | None


def adaptive_factor(settings: AdaptiveSell, volatility_percent: Decimal | None) -> Decimal:
    """How much the sell distances are scaled: 1 when off or when no volatility is known."""
    if not settings.enabled or volatility_percent is None:
        return Decimal(1)
    factor = volatility_percent / settings.reference_volatility_percent
    return min(max(factor, settings.min_factor), settings.max_factor)


def sell_levels(
    settings: RiskSettings, position: Position, volatility_percent: Decimal | None = None
) -> SellLevels:
    factor = adaptive_factor(settings.adaptive_sell, volatility_percent)
    average = position.average_price

    def above(percent: Decimal) -> Decimal:
        return average * (1 + percent * factor / _HUNDRED)

    def below(percent: Decimal) -> Decimal:
        return average * (1 - min(percent * factor, _MAX_LOSS_PERCENT) / _HUNDRED)

    tp, sl, ts = settings.take_profit, settings.stop_loss, settings.trailing_stop
    return SellLevels(
        take_profit=above(tp.percent) if tp.enabled else None,
        soft_stop=below(sl.soft_percent) if sl.enabled and sl.soft_percent else None,
        hard_stop=below(sl.hard_percent) if sl.enabled and sl.hard_percent else None,
        trailing_arm=above(ts.activation_percent) if ts.enabled else None,
        trailing_percent=min(ts.trail_percent * factor, _MAX_LOSS_PERCENT) if ts.enabled else None,
    )


def sanity_refusal(
    settings: SanityCheck, state: RiskState, observation: Observation
) -> tuple[RefusalReason, str] | None:
    """Why the market looks too abnormal to trade on, or None. The reference of a jump is the
    previous observation (when recent enough): the bot's own last look or the reader's previous
    read, whichever is newer; so a spike and its return are both refused and a lasting move is
    accepted from its second observation on."""
    if not settings.enabled:
        return None
    previous, previous_at = state.last_price, state.last_price_at
    seen_before, seen_at = observation.previous_price, observation.previous_at
    if (
        seen_before is not None
        and seen_at is not None
        and (previous_at is None or seen_at > previous_at)
    ):
        previous, previous_at = seen_before, seen_at
    window = timedelta(seconds=settings.jump_window_seconds)
    if previous and previous_at and observation.at - previous_at <= window:
        jump = abs(observation.price - previous) / previous * _HUNDRED
        if jump > settings.max_price_jump_percent:
            return RefusalReason.PRICE_JUMP, (
                f"price moved {jump:.2f}% ({previous} to {observation.price}) in "
                f"{(observation.at - previous_at).total_seconds():g}s, "
                f"over the {settings.max_price_jump_percent}% limit"
            )
    bid, ask = observation.bid, observation.ask
    if (bid is None) != (ask is None):
        return RefusalReason.WIDE_SPREAD, f"one side of the book is empty (bid {bid}, ask {ask})"
    if bid is not None and ask is not None:
        spread = (ask - bid) / ((bid + ask) / 2) * _HUNDRED
        if spread > settings.max_spread_percent:
            return RefusalReason.WIDE_SPREAD, (
                f"spread {spread:.2f}% (bid {bid}, ask {ask}) over the "
                f"{settings.max_spread_percent}% limit"
            )
    return None


def drifted_orders(
    settings: AutoCancel, orders: Sequence[RestingOrder], observation: Observation
) -> tuple[str, ...]:
    """Client order ids of the open limit orders that drifted beyond the limit: a buy measured
    from the best bid, a sell from the best ask (where each would rest), else the last price."""
    if not settings.enabled:
        return ()
    drifted = []
    for order in orders:
        quote = observation.bid if order.side is Side.BUY else observation.ask
        reference = quote if quote is not None else observation.price
        if abs(order.price - reference) / reference * _HUNDRED > settings.drift_percent:
            drifted.append(order.client_order_id)
    return tuple(drifted)


def evaluate(
    settings: RiskSettings,
    state: RiskState,
    position: Position,
    observation: Observation,
    orders: Sequence[RestingOrder] = (),
) -> tuple[RiskDecision, RiskState]:
    """The risk decision on one observation, and the state to keep. A SELL sells the whole
    position and cancels first the bot's open sell orders (they hold part of it) and any
    drifted order; HOLD leaves the bot's own buy rule free to act."""
    seen = state.model_copy(
        update={"last_price": observation.price, "last_price_at": observation.at}
    )
    if state.tripped is not None:
        detail = f"circuit breaker tripped: {state.tripped.detail}"
        return _refuse(RefusalReason.CIRCUIT_BREAKER, detail), seen
    refusal = sanity_refusal(settings.sanity_check, state, observation)
    if refusal is not None:
        return _refuse(*refusal), seen
    drifted = drifted_orders(settings.auto_cancel, orders, observation)
    if position.quantity <= 0:
        return _cancel_or_hold(drifted), seen.model_copy(
            update={"peak_price": None, "soft_stop_since": None}
        )

    price = observation.bid if observation.bid is not None else observation.price
    peak = max(p for p in (state.peak_price, observation.high, price) if p is not None)
    levels = sell_levels(settings, position, observation.volatility_percent)
    soft_since = _soft_stop_since(state, observation, price, levels.soft_stop)
    seen = seen.model_copy(update={"peak_price": peak, "soft_stop_since": soft_since})

    sell = _sell_reason(settings, levels, price, peak, observation.at, soft_since)
    if sell is not None:
        reason, detail = sell
        wanted = {o.client_order_id for o in orders if o.side is Side.SELL}.union(drifted)
        cancel = tuple(o.client_order_id for o in orders if o.client_order_id in wanted)
        decision = RiskDecision(
            action=Action.SELL,
            sell_reason=reason,
            cancel_order_ids=cancel,
            sell_quantity=position.quantity,
            detail=detail,
        )
        return decision, seen
    if soft_since is not None and not drifted:
        due = soft_since + timedelta(seconds=settings.stop_loss.confirmation_seconds)
        detail = f"soft stop at {levels.soft_stop} holding since {soft_since}, sells at {due}"
        return RiskDecision(action=Action.HOLD, detail=detail), seen
    return _cancel_or_hold(drifted), seen


def _soft_stop_since(
    state: RiskState, observation: Observation, price: Decimal, soft_stop: Decimal | None
) -> datetime | None:
    """When the soft-stop condition began to hold, if it holds now. A recovery above the level
    since the previous observation (its `high`) broke it: the window starts again now."""
    if soft_stop is None or price > soft_stop:
        return None
    since = state.soft_stop_since
    recovered = observation.high is not None and observation.high > soft_stop
    return observation.at if since is None or recovered else since


def _sell_reason(
    settings: RiskSettings,
    levels: SellLevels,
    price: Decimal,
    peak: Decimal,
    at: datetime,
    soft_since: datetime | None,
) -> tuple[SellReason, str] | None:
    if levels.hard_stop is not None and price <= levels.hard_stop:
        return (
            SellReason.STOP_LOSS_HARD,
            f"price {price} at or below the hard stop {levels.hard_stop}",
        )
    if levels.trailing_arm is not None and levels.trailing_percent is not None:
        trail_level = peak * (1 - levels.trailing_percent / _HUNDRED)
        if peak >= levels.trailing_arm and price <= trail_level:
            return SellReason.TRAILING_STOP, (
                f"price {price} fell {levels.trailing_percent}% from the peak {peak} "
                f"(trailing level {trail_level})"
            )
    if levels.take_profit is not None and price >= levels.take_profit:
        return SellReason.TAKE_PROFIT, f"price {price} reached take profit {levels.take_profit}"
    window = timedelta(seconds=settings.stop_loss.confirmation_seconds)
    if soft_since is not None and at - soft_since >= window:
        return SellReason.STOP_LOSS_SOFT, (
            f"price {price} at or below the soft stop {levels.soft_stop} "
            f"since {soft_since} ({window.total_seconds():g}s confirmation)"
        )
    return None


def _refuse(reason: RefusalReason, detail: str) -> RiskDecision:
    return RiskDecision(action=Action.REFUSE, refusal=reason, detail=detail)


def _cancel_or_hold(drifted: tuple[str, ...]) -> RiskDecision:
    if drifted:
        detail = f"{len(drifted)} open order(s) drifted from the market"
        return RiskDecision(action=Action.CANCEL, cancel_order_ids=drifted, detail=detail)
    return RiskDecision(action=Action.HOLD)


def emergency_sell(position: Position, orders: Sequence[RestingOrder]) -> RiskDecision:
    """The user's emergency sell: cancel every open order, then sell the whole position. A
    command, so neither the circuit breaker nor the sanity check stands in its way."""
    return RiskDecision(
        action=Action.EMERGENCY_SELL,
        sell_reason=SellReason.EMERGENCY,
        cancel_order_ids=tuple(o.client_order_id for o in orders),
        sell_quantity=max(position.quantity, Decimal(0)),
        detail="emergency sell requested",
    )


def record_trade_result(
    settings: CircuitBreaker,
    state: RiskState,
    pnl: Decimal,
    at: datetime,
    allocation: Decimal,
) -> RiskState:
    """Count one closed trade's realized profit (negative: a loss) into the circuit breaker.
    A win resets the consecutive losses, a break-even trade leaves them; the day is the UTC
    day of `at` (naive times are taken as UTC), its realized P&L net of wins. Trips once, on
    the first limit reached, and stays tripped until `reset_circuit_breaker`."""
    day = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).date()
    day_pnl = (state.day_realized_pnl if state.day == day else Decimal(0)) + pnl
    losses = state.consecutive_losses + 1 if pnl < 0 else 0 if pnl > 0 else state.consecutive_losses
    tripped = state.tripped
    if tripped is None and settings.enabled:
        limit = allocation * settings.max_daily_loss_percent / _HUNDRED
        if losses >= settings.max_consecutive_losses:
            tripped = CircuitBreakerTrip(
                reason=TripReason.CONSECUTIVE_LOSSES,
                at=at,
                detail=f"{losses} losing trades in a row (limit {settings.max_consecutive_losses})",
            )
        elif allocation > 0 and -day_pnl >= limit:
            tripped = CircuitBreakerTrip(
                reason=TripReason.DAILY_LOSS,
                at=at,
                detail=(
                    f"realized loss today {-day_pnl} reached {settings.max_daily_loss_percent}% "
                    f"of the allocation {allocation} ({limit})"
                ),
            )
    return state.model_copy(
        update={
            "consecutive_losses": losses,
            "day": day,
            "day_realized_pnl": day_pnl,
            "tripped": tripped,
        }
    )


def reset_circuit_breaker(state: RiskState) -> RiskState:
    """The user's reset: the bot trades again, counting losses afresh (today's loss included,
    or the next loss of the day would trip it again at once)."""
    return state.model_copy(
        update={"tripped": None, "consecutive_losses": 0, "day_realized_pnl": Decimal(0)}
    )


def triggers(
    settings: RiskSettings,
    state: RiskState,
    position: Position,
    orders: Sequence[RestingOrder] = (),
    volatility_percent: Decimal | None = None,
) -> RiskTriggers:
    """The levels at which `evaluate` could decide something other than HOLD, for the bot's
    market feed. Published whenever the bot's state changes (a fill, a config change, a wake-
    up). While the soft stop's window runs, its level is left out (the price sits below it and
    would wake the bot on every read): `wake_at` ends the window and the observation's `high`
    tells the bot whether the price recovered meanwhile. A tripped breaker publishes nothing."""
    if state.tripped is not None:
        return RiskTriggers()
    low, high = _undrifted_band(settings.auto_cancel, orders)
    band = {"orders_band_low": low, "orders_band_high": high}
    if position.quantity <= 0:
        return RiskTriggers(**band)
    levels = sell_levels(settings, position, volatility_percent)
    wake_at = soft_level = None
    if state.soft_stop_since is not None and levels.soft_stop is not None:
        wake_at = state.soft_stop_since + timedelta(seconds=settings.stop_loss.confirmation_seconds)
    else:
        soft_level = levels.soft_stop
    return RiskTriggers(
        sell_at_or_above=levels.take_profit,
        sell_at_or_below=levels.hard_stop,
        soft_stop_at_or_below=soft_level,
        trailing_arm_at_or_above=levels.trailing_arm,
        trailing_peak=state.peak_price if levels.trailing_arm is not None else None,
        trailing_percent=levels.trailing_percent,
        wake_at=wake_at,
        **band,
    )


def _undrifted_band(
    settings: AutoCancel, orders: Sequence[RestingOrder]
) -> tuple[Decimal | None, Decimal | None]:
    """The prices m at which no order drifted: |p - m| / m <= d holds for m within
    [p / (1 + d), p / (1 - d)]; the band is the intersection over the orders."""
    if not settings.enabled or not orders:
        return None, None
    d = settings.drift_percent / _HUNDRED
    return max(o.price / (1 + d) for o in orders), min(o.price / (1 - d) for o in orders)


def triggers_fired(
    triggers: RiskTriggers, price: Decimal, at: datetime, high: Decimal | None = None
) -> bool:
    """Whether the bot should be woken: the feed calls this with each price it reads (the best
    bid when it has one, as `evaluate` judges sales), the time, and the highest price since it
    received these triggers (it keeps that one number per bot, for the trailing peak)."""
    t = triggers
    if t.sell_at_or_above is not None and price >= t.sell_at_or_above:
        return True
    if t.sell_at_or_below is not None and price <= t.sell_at_or_below:
        return True
    if t.soft_stop_at_or_below is not None and price <= t.soft_stop_at_or_below:
        return True
    if t.trailing_arm_at_or_above is not None and t.trailing_percent is not None:
        peak = max(p for p in (t.trailing_peak, high, price) if p is not None)
        if peak >= t.trailing_arm_at_or_above and price <= peak * (
            1 - t.trailing_percent / _HUNDRED
        ):
            return True
    if t.wake_at is not None and at >= t.wake_at:
        return True
    low, high_band = t.orders_band_low, t.orders_band_high
    return (low is not None and price < low) or (high_band is not None and price > high_band)
