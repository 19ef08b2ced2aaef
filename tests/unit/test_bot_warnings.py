"""The warnings before a bot's exits act: given 80 % of the way from the average cost to the
take profit or to the first stop, once each per position, never once the exit itself is
reached (the exit acts instead), none without a position or with a tripped breaker."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from domain.bots.risk import (
    CircuitBreakerTrip,
    Observation,
    Position,
    RiskSettings,
    RiskState,
    TripReason,
)
from domain.bots.warnings import Warning, due_warnings, warn_trigger

AT = datetime(2026, 12, 7, 12, tzinfo=UTC)
HELD = Position(quantity=Decimal("0.01"), average_price=Decimal(100))
# Take profit 10 %; soft stop 5 %, hard 10 %: the soft one acts first.
SETTINGS = RiskSettings.model_validate(
    {"take_profit": {"percent": "10"}, "stop_loss": {"soft_percent": "5", "hard_percent": "10"}}
)


def due(price: str, state: RiskState = RiskState(), position: Position = HELD) -> set[Warning]:
    seen = Observation(price=Decimal(price), bid=Decimal(price), at=AT)
    return set(due_warnings(SETTINGS, state, position, seen, "BTC-BRL"))


def test_the_levels_are_four_fifths_of_the_way_to_each_exit() -> None:
    trigger = warn_trigger(SETTINGS, RiskState(), HELD)
    assert trigger is not None
    assert (trigger.at_or_above, trigger.at_or_below) == (Decimal(108), Decimal(96))


def test_a_warning_is_due_between_its_level_and_its_exit_only() -> None:
    assert due("107.99") == set()
    assert due("108") == {Warning.TAKE_PROFIT_NEAR}
    assert due("109.99") == {Warning.TAKE_PROFIT_NEAR}
    assert due("110") == set()  # the take profit sells
    assert due("96") == {Warning.STOP_LOSS_NEAR}
    assert due("95.01") == {Warning.STOP_LOSS_NEAR}
    assert due("95") == set()  # under the soft stop: its window runs
    assert due("100") == set()


def test_each_warning_once_per_position() -> None:
    warned = RiskState(warned=frozenset({Warning.TAKE_PROFIT_NEAR.value}))
    assert due("109", warned) == set()
    assert due("96", warned) == {Warning.STOP_LOSS_NEAR}
    trigger = warn_trigger(SETTINGS, warned, HELD)
    assert trigger is not None and trigger.at_or_above is None
    both = RiskState(warned=frozenset(w.value for w in Warning))
    assert warn_trigger(SETTINGS, both, HELD) is None


def test_nothing_to_warn_of_without_a_position_exits_or_with_a_tripped_breaker() -> None:
    flat = Position(quantity=Decimal(0), average_price=Decimal(0))
    assert warn_trigger(SETTINGS, RiskState(), flat) is None and due("108", position=flat) == set()
    off = RiskSettings.model_validate(
        {"take_profit": {"enabled": False}, "stop_loss": {"enabled": False}}
    )
    assert warn_trigger(off, RiskState(), HELD) is None
    trip = CircuitBreakerTrip(reason=TripReason.CONSECUTIVE_LOSSES, at=AT, detail="3")
    assert warn_trigger(SETTINGS, RiskState(tripped=trip), HELD) is None
