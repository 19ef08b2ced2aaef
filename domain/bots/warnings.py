"""Warnings a bot gives its user before its exits act: the price has come most of the way
(`NEAR_SHARE`) from the position's average cost to its take profit, or to its stop loss. Each
once per position (`RiskState.warned`, emptied when the position closes); the market feed
wakes the bot at those levels (`WarnTrigger`), as it does at the exits themselves."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from domain.bots.risk import Observation, Position, RiskSettings, RiskState, _Data
from domain.bots.risk_rules import sell_levels
from domain.market import Money

NEAR_SHARE = Decimal("0.8")  # of the way from the average cost to the exit


class Warning(StrEnum):
    TAKE_PROFIT_NEAR = "take_profit_near"
    STOP_LOSS_NEAR = "stop_loss_near"


class WarnTrigger(_Data):
    """The prices at which the bot has a warning to give (None: none that way)."""

    at_or_above: Money | None = None
    at_or_below: Money | None = None


def _levels(
    settings: RiskSettings, position: Position, volatility_percent: Decimal | None
) -> dict[Warning, tuple[Decimal, Decimal]]:
    """Each warning's (level, exit) for the position: where it is given, where the exit acts."""
    if position.quantity <= 0:
        return {}
    average = position.average_price
    levels = sell_levels(settings, position, volatility_percent)
    # The stop that acts first: the soft one (it sells once its window holds), else the hard.
    stop = max((s for s in (levels.soft_stop, levels.hard_stop) if s is not None), default=None)
    found: dict[Warning, tuple[Decimal, Decimal]] = {}
    if levels.take_profit is not None:
        near = average + (levels.take_profit - average) * NEAR_SHARE
        found[Warning.TAKE_PROFIT_NEAR] = (near, levels.take_profit)
    if stop is not None:
        found[Warning.STOP_LOSS_NEAR] = (average - (average - stop) * NEAR_SHARE, stop)
    return found


def warn_trigger(
    settings: RiskSettings,
    state: RiskState,
    position: Position,
    volatility_percent: Decimal | None = None,
) -> WarnTrigger | None:
    """The levels of the warnings not given yet for this position; None: nothing to watch."""
    levels = {
        w: near
        for w, (near, _) in _levels(settings, position, volatility_percent).items()
        if w.value not in state.warned
    }
    if not levels or state.tripped is not None:
        return None
    return WarnTrigger(
        at_or_above=levels.get(Warning.TAKE_PROFIT_NEAR),
        at_or_below=levels.get(Warning.STOP_LOSS_NEAR),
    )


def due_warnings(
    settings: RiskSettings,
    state: RiskState,
    position: Position,
    observation: Observation,
    symbol: str,
) -> dict[Warning, str]:
    """The warnings to give now, each with its message: the price (the best bid, what a sale
    would get) is past the warning's level and not yet at the exit itself."""
    price = observation.bid or observation.price
    due: dict[Warning, str] = {}
    for warning, (near, exit_level) in _levels(
        settings, position, observation.volatility_percent
    ).items():
        if warning.value in state.warned:
            continue
        if warning is Warning.TAKE_PROFIT_NEAR and near <= price < exit_level:
            due[warning] = f"{symbol} at {price} is near the take profit at {exit_level:f}"
        elif warning is Warning.STOP_LOSS_NEAR and exit_level < price <= near:
            due[warning] = f"{symbol} at {price} is near the stop loss at {exit_level:f}"
    return due
