"""The bot's risk mechanisms, table-driven: settings, circuit breaker, sanity check, stops,
trailing, adaptive sell, auto-cancel, emergency sell, and the triggers a market feed reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.bots.risk import (
    Action,
    CircuitBreaker,
    CircuitBreakerTrip,
    Observation,
    Position,
    RefusalReason,
    RestingOrder,
    RiskSettings,
    RiskState,
    SellReason,
    TripReason,
)
from domain.bots.risk_rules import (
    emergency_sell,
    evaluate,
    record_trade_result,
    reset_circuit_breaker,
    triggers,
    triggers_fired,
)
from domain.market import Side

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
HELD = Position(quantity=D("0.5"), average_price=D(100))
FLAT = Position(quantity=D(0), average_price=D(0))


def settings(**parts: dict[str, Any]) -> RiskSettings:
    """Default settings with some mechanisms changed; sanity check off unless given, so the
    stop tables below are not refused as price jumps."""
    return RiskSettings.model_validate({"sanity_check": {"enabled": False}, **parts})


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(
    risk: RiskSettings,
    observations: list[Observation],
    position: Position = HELD,
    state: RiskState | None = None,
    orders: tuple[RestingOrder, ...] = (),
) -> list[tuple[Action, SellReason | RefusalReason | None]]:
    """Evaluate a sequence of observations, carrying the state; each decision's action and
    reason."""
    state = state or RiskState()
    out: list[tuple[Action, SellReason | RefusalReason | None]] = []
    for observation in observations:
        decision, state = evaluate(risk, state, position, observation, orders)
        out.append((decision.action, decision.sell_reason or decision.refusal))
    return out


def obs(price: str, seconds: float = 0, **more: str) -> Observation:
    return Observation.model_validate({"price": price, "at": at(seconds), **more})


HOLD = (Action.HOLD, None)


# -- settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "losses", "percent"),
    [
        ({}, 5, D(10)),  # moderate is the default
        ({"preset": "conservative"}, 3, D(5)),
        ({"preset": "moderate"}, 5, D(10)),
        ({"preset": "aggressive"}, 8, D(15)),
        ({"preset": "aggressive", "max_consecutive_losses": 8}, 8, D(15)),
        (
            {"preset": "custom", "max_consecutive_losses": 2, "max_daily_loss_percent": "1.5"},
            2,
            D("1.5"),
        ),
    ],
)
def test_circuit_breaker_presets_fill_their_limits(
    given: dict[str, Any], losses: int, percent: D
) -> None:
    breaker = CircuitBreaker.model_validate(given)
    assert (breaker.max_consecutive_losses, breaker.max_daily_loss_percent) == (losses, percent)


@pytest.mark.parametrize(
    ("given", "named"),
    [
        (
            {"circuit_breaker": {"preset": "custom", "max_consecutive_losses": 3}},
            "max_daily_loss_percent",
        ),
        ({"circuit_breaker": {"preset": "moderate", "max_daily_loss_percent": "20"}}, "custom"),
        ({"circuit_breaker": {"preset": "reckless"}}, "circuit_breaker"),
        ({"stop_loss": {"soft_percent": "5", "hard_percent": "4"}}, "hard_percent"),
        ({"stop_loss": {"soft_percent": None, "hard_percent": None}}, "stop_loss"),
        ({"stop_loss": {"hard_percent": "100"}}, "hard_percent"),
        ({"take_profit": {"percent": "0"}}, "percent"),
        ({"adaptive_sell": {"min_factor": "3"}}, "min_factor"),
        ({"auto_cancel": {"drift": "5"}}, "drift"),  # misspelt: refused, not defaulted
    ],
)
def test_invalid_settings_are_refused_naming_the_field(given: dict[str, Any], named: str) -> None:
    with pytest.raises(ValidationError) as error:
        RiskSettings.model_validate(given)
    assert named in str(error.value)


def test_settings_travel_as_json_with_decimal_strings() -> None:
    risk = RiskSettings()
    text = risk.model_dump_json()
    assert '"percent":"3"' in text and "3.0" not in text
    assert RiskSettings.model_validate_json(text) == risk


# -- circuit breaker ----------------------------------------------------------------------

SEED_SEQUENCE = ["-2", "-1.5", "1", "-2", "-1.8", "-2.5", "-1.2", "-2"]


@pytest.mark.parametrize(
    ("preset", "counts", "trips_at"),
    [
        # The seed's sequence: the win resets the count, the fifth loss after it trips.
        ("moderate", [1, 2, 0, 1, 2, 3, 4, 5], 7),
        ("conservative", [1, 2, 0, 1, 2, 3, 4, 5], 5),
        ("aggressive", [1, 2, 0, 1, 2, 3, 4, 5], None),
    ],
)
def test_circuit_breaker_trips_on_consecutive_losses(
    preset: str, counts: list[int], trips_at: int | None
) -> None:
    breaker = CircuitBreaker.model_validate({"preset": preset})
    state = RiskState()
    for i, pnl in enumerate(SEED_SEQUENCE):
        state = record_trade_result(breaker, state, D(pnl), at(i * 60), allocation=D(1000))
        assert state.consecutive_losses == counts[i]
        tripped_now = trips_at is not None and i >= trips_at
        assert (state.tripped is not None) == tripped_now, (i, state.tripped)
        if tripped_now:
            assert state.tripped is not None
            assert state.tripped.reason is TripReason.CONSECUTIVE_LOSSES
            assert state.tripped.at == at(trips_at * 60)  # the first trip is kept
    assert state.day_realized_pnl == D("-12.0")  # 1.2 % of 1,000: the daily limit is far


@pytest.mark.parametrize(
    ("allocation", "pnls", "trips_at"),
    [
        (D(100), ["-4", "1", "-3", "-4"], 3),  # net -10: 10 % of 100, only two in a row
        (D(100), ["-4", "1", "-3", "-3.99"], None),  # net -9.99 stays under
        (D(200), ["-4", "1", "-3", "-4"], None),  # the limit is a share of the allocation
        (D(50), ["-5"], 0),
    ],
)
def test_circuit_breaker_trips_on_the_days_realized_loss(
    allocation: D, pnls: list[str], trips_at: int | None
) -> None:
    breaker = CircuitBreaker.model_validate({"preset": "moderate"})
    state = RiskState()
    for i, pnl in enumerate(pnls):
        state = record_trade_result(breaker, state, D(pnl), at(i), allocation)
        if trips_at is not None and i >= trips_at:
            assert state.tripped is not None
            assert state.tripped.reason is TripReason.DAILY_LOSS
            assert "10%" in state.tripped.detail
        else:
            assert state.tripped is None


def test_the_daily_loss_counts_per_utc_day() -> None:
    breaker = CircuitBreaker.model_validate({"preset": "moderate"})
    late = datetime(2026, 12, 7, 23, 59, tzinfo=UTC)
    state = record_trade_result(breaker, RiskState(), D(-9), late, D(100))
    state = record_trade_result(breaker, state, D(-2), late + timedelta(minutes=2), D(100))
    assert state.tripped is None
    assert (state.day, state.day_realized_pnl) == (late.date() + timedelta(days=1), D(-2))


def test_only_a_reset_clears_a_tripped_breaker() -> None:
    breaker = CircuitBreaker.model_validate({"preset": "conservative"})
    state = RiskState()
    for pnl in ["-1", "-1", "-1", "5", "5"]:
        state = record_trade_result(breaker, state, D(pnl), T0, D(1000))
    assert state.tripped is not None  # wins after the trip do not resume the bot
    decision, _ = evaluate(settings(), state, HELD, obs("200"))
    assert (decision.action, decision.refusal) == (Action.REFUSE, RefusalReason.CIRCUIT_BREAKER)
    assert triggers(settings(), state, HELD) == triggers(settings(), state, FLAT)
    state = reset_circuit_breaker(state)
    assert (state.tripped, state.consecutive_losses, state.day_realized_pnl) == (None, 0, 0)
    state = record_trade_result(breaker, state, D(-1), T0, D(1000))
    assert state.tripped is None


def test_a_break_even_trade_neither_resets_nor_extends_the_losses() -> None:
    breaker = CircuitBreaker.model_validate({"preset": "conservative"})
    state = RiskState()
    counts = []
    for pnl in ["-1", "0", "-1", "-1"]:
        state = record_trade_result(breaker, state, D(pnl), T0, D(1000))
        counts.append(state.consecutive_losses)
    assert counts == [1, 1, 2, 3]
    assert state.tripped is not None and state.tripped.reason is TripReason.CONSECUTIVE_LOSSES


def test_a_disabled_breaker_never_trips() -> None:
    breaker = CircuitBreaker.model_validate({"enabled": False})
    state = RiskState()
    for _ in range(10):
        state = record_trade_result(breaker, state, D(-50), T0, D(100))
    assert (state.tripped, state.consecutive_losses) == (None, 10)


# -- sells: take profit, stops, trailing, adaptive ------------------------------------------


@pytest.mark.parametrize(
    ("observation", "expected"),
    [
        (obs("103"), (Action.SELL, SellReason.TAKE_PROFIT)),  # 3 % over the average 100
        (obs("102.99"), HOLD),
        (obs("104", bid="102.9", ask="104"), HOLD),  # a sale gets the bid
        (obs("90"), (Action.SELL, SellReason.STOP_LOSS_HARD)),
        (obs("90.01"), HOLD),  # under the soft stop: its window starts
        (obs("95.01"), HOLD),
    ],
)
def test_take_profit_and_hard_stop(
    observation: Observation, expected: tuple[Action, SellReason | None]
) -> None:
    decision, _ = evaluate(settings(), RiskState(), HELD, observation)
    assert (decision.action, decision.sell_reason) == expected
    if decision.action is Action.SELL:
        assert decision.sell_quantity == HELD.quantity


SOFT = "95"  # 5 % under the average: the default soft stop, 60 s confirmation
SOFT_STOP = (Action.SELL, SellReason.STOP_LOSS_SOFT)


@pytest.mark.parametrize(
    ("sequence", "expected"),
    [
        ([(SOFT, 0), ("94", 30), ("94.5", 60)], [HOLD, HOLD, SOFT_STOP]),
        ([(SOFT, 0), ("94", 59.9)], [HOLD, HOLD]),
        # A recovery seen in between starts the window again.
        ([(SOFT, 0), ("95.5", 30), ("94", 60), ("94", 119)], [HOLD] * 4),
        ([(SOFT, 0), ("95.5", 30), ("94", 60), ("94", 120)], [HOLD, HOLD, HOLD, SOFT_STOP]),
    ],
)
def test_soft_stop_sells_only_after_its_confirmation_window(
    sequence: list[tuple[str, float]], expected: list[tuple[Action, SellReason | None]]
) -> None:
    assert run(settings(), [obs(p, s) for p, s in sequence]) == expected


def test_a_recovery_the_bot_slept_through_restarts_the_soft_window() -> None:
    sequence = [obs(SOFT, 0), obs("94", 60, high="96"), obs("94", 100), obs("94", 120)]
    assert run(settings(), sequence) == [HOLD, HOLD, HOLD, SOFT_STOP]


def test_a_soft_stop_with_no_window_sells_at_once() -> None:
    risk = settings(stop_loss={"confirmation_seconds": 0})
    assert run(risk, [obs("94.9")]) == [SOFT_STOP]


TRAILING = {"trailing_stop": {"enabled": True, "activation_percent": "2", "trail_percent": "1"}}
TRAIL = (Action.SELL, SellReason.TRAILING_STOP)


@pytest.mark.parametrize(
    ("prices", "expected"),
    [
        # Not armed below 102: a 1 % fall from 101.5 does not sell.
        (["101.5", "100.4"], [HOLD, HOLD]),
        # Arms at 102, follows the peak to 104, sells at 1 % under it (102.96).
        (["102", "104", "103.5", "102.96"], [HOLD, HOLD, HOLD, TRAIL]),
        (["102", "104", "103.5", "102.97"], [HOLD] * 4),
    ],
)
def test_trailing_stop_arms_after_a_gain_and_follows_the_peak(
    prices: list[str], expected: list[tuple[Action, SellReason | None]]
) -> None:
    risk = settings(take_profit={"enabled": False}, **TRAILING)
    assert run(risk, [obs(p, i) for i, p in enumerate(prices)]) == expected


def test_trailing_stop_counts_a_peak_seen_between_observations() -> None:
    risk = settings(take_profit={"enabled": False}, **TRAILING)
    assert run(risk, [obs("101"), obs("103", 60, high="105")]) == [HOLD, TRAIL]


@pytest.mark.parametrize(
    ("volatility", "take_profit_at", "hard_stop_at"),
    [
        (None, "103", "90"),  # no volatility known: the configured targets
        ("3", "103", "90"),  # the reference volatility: unchanged
        ("6", "106", "80"),  # twice as wild: twice as wide
        ("1.5", "101.5", "95"),  # calmer: narrower
        ("0.3", "101.5", "95"),  # kept within min_factor 0.5
        ("30", "106", "80"),  # and max_factor 2
    ],
)
def test_adaptive_sell_scales_the_targets_with_volatility(
    volatility: str | None, take_profit_at: str, hard_stop_at: str
) -> None:
    risk = settings(adaptive_sell={"enabled": True}, stop_loss={"soft_percent": None})
    more = {} if volatility is None else {"volatility_percent": volatility}
    tp, hard = D(take_profit_at), D(hard_stop_at)

    def action(price: D) -> tuple[Action, SellReason | None]:
        decision, _ = evaluate(risk, RiskState(), HELD, obs(str(price), **more))
        return decision.action, decision.sell_reason

    assert action(tp) == (Action.SELL, SellReason.TAKE_PROFIT)
    assert action(tp - D("0.01")) == HOLD
    assert action(hard) == (Action.SELL, SellReason.STOP_LOSS_HARD)
    assert action(hard + D("0.01")) == HOLD


# -- sanity check -------------------------------------------------------------------------

SANE = {"sanity_check": {"max_price_jump_percent": "10", "max_spread_percent": "2"}}
JUMP = (Action.REFUSE, RefusalReason.PRICE_JUMP)
SPREAD = (Action.REFUSE, RefusalReason.WIDE_SPREAD)


@pytest.mark.parametrize(
    ("sequence", "expected"),
    [
        ([obs("100"), obs("110", 10)], [HOLD, HOLD]),  # 10 % is the limit, not over it
        ([obs("100"), obs("110.1", 10)], [HOLD, JUMP]),
        ([obs("100"), obs("89", 10)], [HOLD, JUMP]),
        # A spike and its return are both refused; a lasting level is accepted next time.
        ([obs("100"), obs("120", 10), obs("100", 20), obs("100", 30)], [HOLD, JUMP, JUMP, HOLD]),
        ([obs("100"), obs("120", 10), obs("120", 20)], [HOLD, JUMP, HOLD]),
        # A previous price older than the window is no reference.
        ([obs("100"), obs("120", 301)], [HOLD, HOLD]),
        ([obs("100", bid="99", ask="101")], [HOLD]),  # 2 % of the mid 100
        ([obs("100", bid="99", ask="101.1")], [SPREAD]),
        ([obs("100", ask="101")], [SPREAD]),  # an empty side is no market to trade on
    ],
)
def test_sanity_check_refuses_price_jumps_and_wide_spreads(
    sequence: list[Observation], expected: list[tuple[Action, RefusalReason | None]]
) -> None:
    assert run(settings(**SANE), sequence, position=FLAT) == expected


def test_a_jump_is_measured_from_the_readers_previous_look_when_it_is_newer() -> None:
    """A bot that slept since its last look (beyond the window) is woken by its feed on a spike:
    the feed's previous read, seconds old, is the reference; an older one is not."""
    slept = RiskState(last_price=D(100), last_price_at=T0)
    spike = obs("120", 3600).model_copy(update={"previous_price": D(100), "previous_at": at(3598)})
    decision, _ = evaluate(settings(**SANE), slept, FLAT, spike)
    assert (decision.action, decision.refusal) == JUMP
    lasting = spike.model_copy(update={"previous_price": D(119), "previous_at": at(3598)})
    assert evaluate(settings(**SANE), slept, FLAT, lasting)[0].action is Action.HOLD
    # The bot's own look is newer than the reader's: it stays the reference.
    recent = RiskState(last_price=D(120), last_price_at=at(3599))
    assert evaluate(settings(**SANE), recent, FLAT, spike)[0].action is Action.HOLD


@pytest.mark.parametrize("given", [{"price": "0"}, {"price": "1", "bid": "0"}])
def test_an_observation_has_positive_prices(given: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Observation.model_validate({"at": T0, **given})


def test_a_refusal_wins_over_a_sell_and_says_why() -> None:
    state = RiskState(last_price=D(100), last_price_at=T0)
    decision, new = evaluate(settings(**SANE), state, HELD, obs("80", 5))
    assert (decision.action, decision.refusal) == JUMP  # the hard stop waits for a sane price
    assert "20.00%" in decision.detail
    assert (new.last_price, new.last_price_at) == (D(80), at(5))


# -- auto-cancel, and the orders a sale cancels ---------------------------------------------

BUY_94 = RestingOrder(client_order_id="b94", side=Side.BUY, price=D(94))
BUY_96 = RestingOrder(client_order_id="b96", side=Side.BUY, price=D(96))
SELL_106 = RestingOrder(client_order_id="s106", side=Side.SELL, price=D(106))
SELL_104 = RestingOrder(client_order_id="s104", side=Side.SELL, price=D(104))


@pytest.mark.parametrize(
    ("observation", "orders", "cancelled"),
    [
        (obs("100", bid="100", ask="100.5"), (BUY_94, BUY_96), ("b94",)),  # 6 % under the bid
        (obs("100", bid="100", ask="100.5"), (SELL_104,), ()),  # 3.48 % over the ask
        (obs("100", bid="100", ask="100.5"), (SELL_106,), ("s106",)),  # 5.47 %
        (obs("100", bid="99.5", ask="100"), (SELL_106,), ("s106",)),  # 6 % over the ask
        (obs("102"), (BUY_96, SELL_106), ("b96",)),  # no book: the last price
        (obs("100"), (), ()),
    ],
)
def test_auto_cancel_names_the_orders_that_drifted(
    observation: Observation, orders: tuple[RestingOrder, ...], cancelled: tuple[str, ...]
) -> None:
    decision, _ = evaluate(settings(), RiskState(), FLAT, observation, orders)
    expected = Action.CANCEL if cancelled else Action.HOLD
    assert (decision.action, decision.cancel_order_ids) == (expected, cancelled)
    off = settings(auto_cancel={"enabled": False})
    assert evaluate(off, RiskState(), FLAT, observation, orders)[0].action is Action.HOLD


def test_a_sale_cancels_the_open_sells_and_the_drifted_orders_first() -> None:
    buy_99 = RestingOrder(client_order_id="b99", side=Side.BUY, price=D(99))
    orders = (BUY_94, buy_99, SELL_104)
    decision, _ = evaluate(settings(), RiskState(), HELD, obs("103"), orders)
    assert (decision.action, decision.sell_reason) == (Action.SELL, SellReason.TAKE_PROFIT)
    assert decision.cancel_order_ids == ("b94", "s104")


def test_emergency_sell_cancels_everything_and_sells_the_whole_position() -> None:
    decision = emergency_sell(HELD, (BUY_96, SELL_104))
    assert decision.action is Action.EMERGENCY_SELL
    assert decision.sell_reason is SellReason.EMERGENCY
    assert (decision.cancel_order_ids, decision.sell_quantity) == (("b96", "s104"), D("0.5"))


def test_a_closed_position_forgets_its_peak_and_soft_window() -> None:
    state = RiskState(peak_price=D(120), soft_stop_since=T0)
    _, new = evaluate(settings(), state, FLAT, obs("100"))
    assert (new.peak_price, new.soft_stop_since) == (None, None)


# -- triggers -----------------------------------------------------------------------------


def test_triggers_of_the_default_settings() -> None:
    t = triggers(settings(), RiskState(), HELD, (BUY_96,))
    assert (t.sell_at_or_above, t.sell_at_or_below, t.soft_stop_at_or_below) == (103, 90, 95)
    assert (t.trailing_arm_at_or_above, t.wake_at) == (None, None)
    assert t.orders_band_low == D(96) / D("1.05") and t.orders_band_high == D(96) / D("0.95")
    pending = triggers(settings(), RiskState(soft_stop_since=T0), HELD)
    assert (pending.soft_stop_at_or_below, pending.wake_at) == (None, at(60))
    assert triggers_fired(pending, D(94), at(59)) is False
    assert triggers_fired(pending, D(94), at(60)) is True


def test_the_feed_follows_the_trailing_peak_between_publications() -> None:
    risk = settings(take_profit={"enabled": False}, **TRAILING)
    t = triggers(risk, RiskState(peak_price=D(101)), HELD)
    assert triggers_fired(t, D(103), T0) is False  # armed, 103 is the peak
    assert triggers_fired(t, D(103), T0, high=D(105)) is True  # 1 % under 105 is 103.95


PRICES = [D(p) / 4 for p in range(340, 440)]  # 85 to 109.75 by 0.25


@pytest.mark.parametrize(
    ("risk", "state", "orders"),
    [
        (settings(), RiskState(), ()),
        (settings(), RiskState(soft_stop_since=T0), ()),
        (settings(take_profit={"enabled": False}, **TRAILING), RiskState(peak_price=D(104)), ()),
        (settings(**TRAILING), RiskState(peak_price=D(100)), (BUY_94, SELL_104)),
        (settings(adaptive_sell={"enabled": True}), RiskState(), (BUY_96,)),
    ],
)
def test_triggers_fire_exactly_where_the_bot_would_act(
    risk: RiskSettings, state: RiskState, orders: tuple[RestingOrder, ...]
) -> None:
    """The feed's cheap check and the bot's own decision agree at every price: the feed wakes
    the bot when, and only when, it would sell, cancel, or start its soft-stop window (a
    recovery during the window waits for `wake_at`: the observation's `high` tells it)."""
    volatility = D(6) if risk.adaptive_sell.enabled else None
    published = triggers(risk, state, HELD, orders, volatility)
    for price in PRICES:
        observation = Observation(price=price, at=at(10), volatility_percent=volatility)
        decision, new = evaluate(risk, state, HELD, observation, orders)
        starts_window = state.soft_stop_since is None and new.soft_stop_since is not None
        acts = decision.action is not Action.HOLD or starts_window
        fired = triggers_fired(published, price, at(10))
        assert fired == acts, (price, decision)


def _decimals(low: int, high: int) -> st.SearchStrategy[D]:
    return st.decimals(low, high, places=2, allow_nan=False, allow_infinity=False)


def _near(price: D, low: int, high: int) -> st.SearchStrategy[D]:
    """A price `low` to `high` percent away from `price`, where the levels are."""
    return _decimals(low, high).map(lambda move: (price * (100 + move) / 100).quantize(D("0.01")))


@st.composite
def _cases(draw: st.DrawFn) -> tuple[RiskSettings, RiskState, Position, D, list[Any]]:
    """Settings, state, position and open orders; the test sweeps the price across them."""
    soft = draw(st.none() | _decimals(1, 30))
    hard = draw(st.none() | _decimals(1, 30)) if soft is None else soft + draw(_decimals(1, 30))
    risk = settings(
        take_profit={"enabled": draw(st.booleans()), "percent": draw(_decimals(1, 20))},
        stop_loss={
            "enabled": soft is not None or hard is not None,
            "soft_percent": soft,
            "hard_percent": hard,
            "confirmation_seconds": draw(st.integers(0, 120)),
        },
        trailing_stop={
            "enabled": draw(st.booleans()),
            "activation_percent": draw(_decimals(1, 10)),
            "trail_percent": draw(_decimals(1, 10)),
        },
        adaptive_sell={"enabled": draw(st.booleans())},
        auto_cancel={"drift_percent": draw(_decimals(1, 20))},
    )
    average = draw(_decimals(50, 150))
    trip = CircuitBreakerTrip(reason=TripReason.DAILY_LOSS, at=T0, detail="test")
    state = RiskState(
        peak_price=draw(st.none() | _near(average, -10, 30)),
        soft_stop_since=draw(st.none() | st.integers(0, 200).map(lambda s: at(-s))),
        tripped=draw(st.sampled_from([None] * 5 + [trip])),
    )
    position = Position(quantity=draw(_decimals(0, 2)), average_price=average)
    order = st.builds(
        RestingOrder,
        client_order_id=st.text("abc", min_size=1, max_size=4),
        side=st.sampled_from(Side),
        price=_near(average, -25, 25),
    )
    high_percent = draw(st.none() | _decimals(0, 20))
    return risk, state, position, high_percent, draw(st.lists(order, max_size=2))


@hypothesis_settings(max_examples=150)
@given(_cases(), st.none() | _decimals(1, 10))
def test_the_feed_never_sleeps_through_an_action_of_the_bot(
    case: tuple[RiskSettings, RiskState, Position, D | None, list[RestingOrder]],
    volatility: D | None,
) -> None:
    """Whatever the settings, state and price: when the bot would sell, cancel or start its
    soft-stop window, its published triggers fire; they fire otherwise only at the end of a
    soft-stop window (the bot then learns from `high` whether the price recovered)."""
    risk, state, position, high_percent, orders = case
    published = triggers(risk, state, position, orders, volatility)
    for step in range(-50, 41):  # the price from half the average to 140 % of it
        price = (position.average_price * (100 + step) / 100).quantize(D("0.01"))
        high = None if high_percent is None else price * (100 + high_percent) / 100
        observation = Observation(price=price, at=T0, high=high, volatility_percent=volatility)
        decision, new = evaluate(risk, state, position, observation, orders)
        starts_window = state.soft_stop_since is None and new.soft_stop_since is not None
        acts = decision.action in (Action.SELL, Action.CANCEL) or starts_window
        fired = triggers_fired(published, price, T0, high)
        assert fired or not acts, (price, decision, published)
        if fired and not acts:
            assert published.wake_at is not None and published.wake_at <= T0, (price, published)
