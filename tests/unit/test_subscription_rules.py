"""The subscription lifecycle rules (domain/subscriptions.py) and the plan table (domain/plans.py).

Pure functions, no workflow: every scenario feeds events and clock ticks to the rules and looks
at the state and the transition that come out.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.plans import PLANS, Feature, Plan, limits
from domain.subscriptions import (
    EVENT_MEMORY,
    RENEWAL_GRACE,
    EventKind,
    PaymentProvider,
    ProviderStatus,
    SubscriptionEvent,
    SubscriptionState,
    SubscriptionStatus,
    Transition,
    apply_event,
    close,
    on_clock,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PERIOD_END = T0 + timedelta(days=30)
USER = UUID(int=7)
_ids = itertools.count()


def at(days: float = 0, **delta: float) -> datetime:
    return T0 + timedelta(days=days, **delta)


def event(
    kind: EventKind,
    sub: str | None = "sub_A",
    occurred_at: datetime = T0,
    *,
    provider: PaymentProvider = PaymentProvider.STRIPE,
    event_id: str | None = None,
    **fields: Any,
) -> SubscriptionEvent:
    return SubscriptionEvent(
        provider=provider,
        event_id=event_id or f"evt_{next(_ids)}",
        kind=kind,
        occurred_at=occurred_at,
        subscription_id=sub,
        **fields,
    )


def free() -> SubscriptionState:
    return SubscriptionState(user_id=USER, since=T0)


def subscribed(
    plan: Plan = Plan.PRO,
    sub: str = "sub_A",
    provider: PaymentProvider = PaymentProvider.STRIPE,
    period_end: datetime | None = PERIOD_END,
    **fields: Any,
) -> SubscriptionState:
    state, _ = apply_event(
        free(),
        event(
            EventKind.ACTIVATED,
            sub,
            T0,
            provider=provider,
            plan=plan,
            customer_id="cus_1",
            current_period_end=period_end,
            **fields,
        ),
        now=T0,
    )
    assert state.plan is plan and state.subscription_id == sub
    return state


def same_except_remembered(after: SubscriptionState, before: SubscriptionState) -> bool:
    """Equal but for the remembered event ids (an ignored event is still remembered)."""
    return after.model_dump(exclude={"recent_event_ids"}) == before.model_dump(
        exclude={"recent_event_ids"}
    )


def assert_back_to_free(state: SubscriptionState, ended: str, now: datetime) -> None:
    assert state.plan is Plan.FREE
    assert state.status is SubscriptionStatus.ACTIVE
    assert state.subscription_id is None
    assert state.provider is None
    assert state.current_period_end is None
    assert state.cancel_at_period_end is False
    assert state.since == now
    assert ended in state.ended_subscriptions
    assert state.customer_id == "cus_1"  # kept: the same customer may subscribe again
    assert state.next_deadline() is None


# -- activation --------------------------------------------------------------------------------


def test_paid_checkout_activates_plan_provider_and_period() -> None:
    now = at(minutes=1)
    state, transition = apply_event(
        free(),
        event(
            EventKind.ACTIVATED,
            "sub_A",
            T0,
            plan=Plan.PRO,
            customer_id="cus_1",
            current_period_end=PERIOD_END,
        ),
        now=now,
    )
    assert state.plan is Plan.PRO
    assert state.status is SubscriptionStatus.ACTIVE
    assert state.provider is PaymentProvider.STRIPE
    assert state.subscription_id == "sub_A"
    assert state.customer_id == "cus_1"
    assert state.current_period_end == PERIOD_END
    assert state.cancel_at_period_end is False
    assert state.since == now
    assert state.last_event_at == T0
    assert state.paid
    assert state.next_deadline() == PERIOD_END + RENEWAL_GRACE
    assert transition == Transition(
        from_plan=Plan.FREE,
        to_plan=Plan.PRO,
        from_status=SubscriptionStatus.ACTIVE,
        to_status=SubscriptionStatus.ACTIVE,
        reason="stripe:activated",
        at=now,
    )


def test_mercadopago_one_off_payment_activates_until_its_period_end() -> None:
    state = subscribed(Plan.MAX, "mp1_pay", PaymentProvider.MERCADOPAGO, cancel_at_period_end=True)
    assert state.provider is PaymentProvider.MERCADOPAGO
    assert state.cancel_at_period_end is True
    assert state.next_deadline() == PERIOD_END  # no renewal will come: no grace


@pytest.mark.parametrize("plan", [None, Plan.FREE])
def test_activation_without_a_paid_plan_changes_nothing(plan: Plan | None) -> None:
    before = free()
    state, transition = apply_event(before, event(EventKind.ACTIVATED, plan=plan), now=T0)
    assert transition is None
    assert same_except_remembered(state, before)
    assert state.plan is Plan.FREE


def test_activation_without_a_subscription_id_grants_nothing() -> None:
    # A paid plan no later event could name would never be renewed, canceled or failed.
    before = free()
    state, transition = apply_event(before, event(EventKind.ACTIVATED, None, plan=Plan.PRO), now=T0)
    assert transition is None
    assert state.plan is Plan.FREE
    assert same_except_remembered(state, before)


def test_a_newer_activation_of_the_current_subscription_keeps_since() -> None:
    before = subscribed()
    state, transition = apply_event(
        before,
        event(EventKind.ACTIVATED, "sub_A", at(1), plan=Plan.PRO, current_period_end=None),
        now=at(2),
    )
    assert transition is None
    assert state.since == before.since
    assert state.current_period_end == PERIOD_END  # an activation without a period keeps it
    assert state.last_event_at == at(1)


def test_a_stale_activation_of_the_current_subscription_is_ignored() -> None:
    before, _ = apply_event(subscribed(), event(EventKind.RENEWED, occurred_at=at(5)), now=at(5))
    state, transition = apply_event(
        before, event(EventKind.ACTIVATED, "sub_A", at(1), plan=Plan.MAX), now=at(6)
    )
    assert transition is None
    assert state.plan is Plan.PRO
    assert state.last_event_at == at(5)


# -- renewal and payment failure ---------------------------------------------------------------


def test_renewal_extends_the_period() -> None:
    new_end = PERIOD_END + timedelta(days=31)
    state, transition = apply_event(
        subscribed(),
        event(EventKind.RENEWED, occurred_at=at(30), current_period_end=new_end),
        at(30),
    )
    assert transition is None  # still PRO and active: nothing to project
    assert state.current_period_end == new_end
    assert state.next_deadline() == new_end + RENEWAL_GRACE
    assert state.last_event_at == at(30)


def test_an_event_never_shortens_the_period() -> None:
    state, _ = apply_event(
        subscribed(),
        event(EventKind.UPDATED, occurred_at=at(1), current_period_end=PERIOD_END - timedelta(1)),
        at(1),
    )
    assert state.current_period_end == PERIOD_END


def test_failed_payment_makes_past_due_and_keeps_the_plan() -> None:
    state, transition = apply_event(
        subscribed(), event(EventKind.PAYMENT_FAILED, occurred_at=at(30)), now=at(30)
    )
    assert state.status is SubscriptionStatus.PAST_DUE
    assert state.plan is Plan.PRO
    assert state.paid
    assert state.current_period_end == PERIOD_END
    assert transition is not None
    assert (transition.from_status, transition.to_status) == (
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.PAST_DUE,
    )
    assert (transition.from_plan, transition.to_plan) == (Plan.PRO, Plan.PRO)
    assert transition.reason == "stripe:payment_failed"


def test_renewal_recovers_a_past_due_subscription() -> None:
    past_due, _ = apply_event(
        subscribed(), event(EventKind.PAYMENT_FAILED, occurred_at=at(30)), at(30)
    )
    new_end = PERIOD_END + timedelta(days=31)
    state, transition = apply_event(
        past_due,
        event(EventKind.RENEWED, occurred_at=at(32), current_period_end=new_end),
        now=at(32),
    )
    assert state.status is SubscriptionStatus.ACTIVE
    assert state.plan is Plan.PRO
    assert state.current_period_end == new_end
    assert transition is not None
    assert transition.to_status is SubscriptionStatus.ACTIVE
    assert transition.from_status is SubscriptionStatus.PAST_DUE
    assert transition.reason == "stripe:renewed"


# -- provider's updated record -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "provider_status", "expected"),
    [
        (SubscriptionStatus.PAST_DUE, ProviderStatus.ACTIVE, SubscriptionStatus.ACTIVE),
        (SubscriptionStatus.ACTIVE, ProviderStatus.PAST_DUE, SubscriptionStatus.PAST_DUE),
        (SubscriptionStatus.PAST_DUE, ProviderStatus.PENDING, SubscriptionStatus.PAST_DUE),
        (SubscriptionStatus.ACTIVE, ProviderStatus.PAUSED, SubscriptionStatus.ACTIVE),
        (SubscriptionStatus.PAST_DUE, None, SubscriptionStatus.PAST_DUE),
    ],
)
def test_update_follows_the_provider_status(
    start: SubscriptionStatus, provider_status: ProviderStatus | None, expected: SubscriptionStatus
) -> None:
    before = subscribed().model_copy(update={"status": start})
    state, transition = apply_event(
        before, event(EventKind.UPDATED, occurred_at=at(1), status=provider_status), now=at(1)
    )
    assert state.status is expected
    assert state.plan is Plan.PRO
    assert (transition is None) == (start is expected)


def test_update_with_canceled_status_downgrades_at_once() -> None:
    state, transition = apply_event(
        subscribed(),
        event(EventKind.UPDATED, occurred_at=at(3), status=ProviderStatus.CANCELED),
        now=at(3),
    )
    assert_back_to_free(state, "sub_A", at(3))
    assert transition is not None
    assert (transition.from_plan, transition.to_plan) == (Plan.PRO, Plan.FREE)


def test_update_can_change_the_paid_plan_but_never_to_free() -> None:
    upgraded, transition = apply_event(
        subscribed(), event(EventKind.UPDATED, occurred_at=at(1), plan=Plan.MAX), now=at(1)
    )
    assert upgraded.plan is Plan.MAX
    assert transition is not None and transition.to_plan is Plan.MAX
    state, transition = apply_event(
        upgraded, event(EventKind.UPDATED, occurred_at=at(2), plan=Plan.FREE), now=at(2)
    )
    assert state.plan is Plan.MAX
    assert transition is None


# -- cancellation ------------------------------------------------------------------------------


def stripe_cancel_requested() -> SubscriptionState:
    state, transition = apply_event(
        subscribed(),
        event(EventKind.UPDATED, occurred_at=at(10), cancel_at_period_end=True),
        now=at(10),
    )
    assert transition is None  # access stays: nothing changes yet
    return state


def test_stripe_cancel_keeps_access_until_the_period_end() -> None:
    state = stripe_cancel_requested()
    assert state.plan is Plan.PRO
    assert state.cancel_at_period_end is True
    assert state.next_deadline() == PERIOD_END  # no renewal grace once the user canceled


@pytest.mark.parametrize("before_deadline", [at(10), PERIOD_END - timedelta(seconds=1)])
def test_clock_before_the_period_end_keeps_the_plan(before_deadline: datetime) -> None:
    state = stripe_cancel_requested()
    after, transition = on_clock(state, before_deadline)
    assert after == state
    assert transition is None


@pytest.mark.parametrize("now", [PERIOD_END, PERIOD_END + timedelta(days=40)])
def test_clock_at_or_after_the_period_end_downgrades_a_canceled_subscription(
    now: datetime,
) -> None:
    after, transition = on_clock(stripe_cancel_requested(), now)
    assert_back_to_free(after, "sub_A", now)
    assert transition == Transition(
        from_plan=Plan.PRO,
        to_plan=Plan.FREE,
        from_status=SubscriptionStatus.ACTIVE,
        to_status=SubscriptionStatus.ACTIVE,
        reason="period_ended",
        at=now,
    )


def test_cancel_can_be_undone_before_the_period_end() -> None:
    state, _ = apply_event(
        stripe_cancel_requested(),
        event(EventKind.UPDATED, occurred_at=at(11), cancel_at_period_end=False),
        now=at(11),
    )
    assert state.cancel_at_period_end is False
    assert state.next_deadline() == PERIOD_END + RENEWAL_GRACE
    assert on_clock(state, PERIOD_END)[0].plan is Plan.PRO


def test_mercadopago_cancel_is_immediate() -> None:
    before = subscribed(provider=PaymentProvider.MERCADOPAGO)
    state, transition = apply_event(
        before,
        event(EventKind.CANCELED, occurred_at=at(5), provider=PaymentProvider.MERCADOPAGO),
        now=at(5),
    )
    assert_back_to_free(state, "sub_A", at(5))
    assert transition is not None
    assert transition.reason == "mercadopago:canceled"
    assert (transition.from_plan, transition.to_plan) == (Plan.PRO, Plan.FREE)


def test_deleted_subscription_ends_even_if_its_clock_is_behind() -> None:
    renewed, _ = apply_event(subscribed(), event(EventKind.RENEWED, occurred_at=at(5)), at(5))
    state, _ = apply_event(renewed, event(EventKind.CANCELED, occurred_at=at(4)), now=at(6))
    assert_back_to_free(state, "sub_A", at(6))


# -- renewal grace -----------------------------------------------------------------------------


def test_period_without_renewal_ends_only_after_the_grace() -> None:
    state = subscribed()
    for now in (PERIOD_END, PERIOD_END + RENEWAL_GRACE - timedelta(seconds=1)):
        after, transition = on_clock(state, now)
        assert after == state and transition is None
    deadline = PERIOD_END + RENEWAL_GRACE
    after, transition = on_clock(state, deadline)
    assert_back_to_free(after, "sub_A", deadline)
    assert transition is not None
    assert transition.reason == "renewal_missing"


def test_past_due_without_recovery_ends_after_the_grace() -> None:
    past_due, _ = apply_event(
        subscribed(), event(EventKind.PAYMENT_FAILED, occurred_at=at(30)), at(30)
    )
    after, transition = on_clock(past_due, PERIOD_END + RENEWAL_GRACE)
    assert_back_to_free(after, "sub_A", PERIOD_END + RENEWAL_GRACE)
    assert transition is not None
    assert transition.from_status is SubscriptionStatus.PAST_DUE
    assert transition.to_status is SubscriptionStatus.ACTIVE


def test_late_renewal_inside_the_grace_keeps_the_plan() -> None:
    new_end = PERIOD_END + timedelta(days=31)
    renewed, _ = apply_event(
        subscribed(),
        event(EventKind.RENEWED, occurred_at=at(31), current_period_end=new_end),
        now=at(32),
    )
    after, transition = on_clock(renewed, PERIOD_END + RENEWAL_GRACE)
    assert after == renewed and transition is None


def test_free_or_periodless_states_have_no_deadline() -> None:
    assert free().next_deadline() is None
    assert on_clock(free(), at(1000)) == (free(), None)
    no_period = subscribed(period_end=None)
    assert no_period.next_deadline() is None
    assert on_clock(no_period, at(1000)) == (no_period, None)


# -- duplicates --------------------------------------------------------------------------------


def test_duplicate_event_id_changes_nothing() -> None:
    first, _ = apply_event(
        subscribed(),
        event(EventKind.PAYMENT_FAILED, occurred_at=at(30), event_id="evt_dup"),
        at(30),
    )
    # The same id again, even with other content and a newer clock: acknowledged, ignored.
    again, transition = apply_event(
        first,
        event(EventKind.CANCELED, occurred_at=at(31), event_id="evt_dup"),
        now=at(31),
    )
    assert again == first
    assert transition is None


def test_ignored_events_are_remembered_as_seen() -> None:
    state, _ = apply_event(subscribed(), event(EventKind.RENEWED, "sub_other", event_id="e1"), T0)
    assert "stripe:e1" in state.recent_event_ids


def test_event_memory_keeps_only_the_newest_ids() -> None:
    state = subscribed()
    for i in range(EVENT_MEMORY + 5):
        state, _ = apply_event(
            state, event(EventKind.UPDATED, occurred_at=at(minutes=i), event_id=f"m{i}"), at()
        )
    assert len(state.recent_event_ids) == EVENT_MEMORY
    assert state.recent_event_ids[-1] == f"stripe:m{EVENT_MEMORY + 4}"
    assert "stripe:m0" not in state.recent_event_ids
    assert "stripe:m5" in state.recent_event_ids


# -- order -------------------------------------------------------------------------------------


def test_stale_payment_failure_after_renewal_is_ignored() -> None:
    renewed, _ = apply_event(subscribed(), event(EventKind.RENEWED, occurred_at=at(31)), at(31))
    state, transition = apply_event(
        renewed, event(EventKind.PAYMENT_FAILED, occurred_at=at(30)), now=at(32)
    )
    assert state.status is SubscriptionStatus.ACTIVE
    assert state.last_event_at == at(31)
    assert transition is None
    assert same_except_remembered(state, renewed)


def test_stale_update_does_not_undo_a_newer_cancel_request() -> None:
    canceled = stripe_cancel_requested()
    state, _ = apply_event(
        canceled,
        event(EventKind.UPDATED, occurred_at=at(9), cancel_at_period_end=False),
        now=at(11),
    )
    assert state.cancel_at_period_end is True
    assert same_except_remembered(state, canceled)


def test_event_at_the_same_instant_as_the_last_is_applied() -> None:
    state, _ = apply_event(subscribed(), event(EventKind.PAYMENT_FAILED, occurred_at=T0), T0)
    assert state.status is SubscriptionStatus.PAST_DUE


@pytest.mark.parametrize(
    "kind",
    [EventKind.RENEWED, EventKind.PAYMENT_FAILED, EventKind.UPDATED, EventKind.CANCELED],
)
@pytest.mark.parametrize("sub", ["sub_other", None])
def test_events_for_another_subscription_are_ignored(kind: EventKind, sub: str | None) -> None:
    before = subscribed()
    state, transition = apply_event(
        before,
        event(kind, sub, at(1), status=ProviderStatus.CANCELED, plan=Plan.MAX),
        now=at(1),
    )
    assert transition is None
    assert same_except_remembered(state, before)


# -- never resurrect ---------------------------------------------------------------------------


def canceled_at_day_5() -> SubscriptionState:
    state, _ = apply_event(subscribed(), event(EventKind.CANCELED, occurred_at=at(5)), at(5))
    assert state.plan is Plan.FREE
    return state


def test_older_update_after_cancel_does_not_resurrect() -> None:
    before = canceled_at_day_5()
    state, transition = apply_event(
        before,
        event(
            EventKind.UPDATED,
            occurred_at=at(3),
            status=ProviderStatus.ACTIVE,
            plan=Plan.PRO,
            current_period_end=PERIOD_END,
        ),
        now=at(6),
    )
    assert transition is None
    assert same_except_remembered(state, before)


@pytest.mark.parametrize(
    "kind", [EventKind.UPDATED, EventKind.RENEWED, EventKind.PAYMENT_FAILED, EventKind.ACTIVATED]
)
def test_no_later_event_resurrects_an_ended_subscription(kind: EventKind) -> None:
    before = canceled_at_day_5()
    state, transition = apply_event(
        before,
        event(
            kind,
            occurred_at=at(40),
            status=ProviderStatus.ACTIVE,
            plan=Plan.PRO,
            current_period_end=PERIOD_END + timedelta(days=40),
        ),
        now=at(40),
    )
    assert transition is None
    assert state.plan is Plan.FREE and state.subscription_id is None
    assert same_except_remembered(state, before)


def test_subscription_ended_by_the_clock_is_not_resurrected_by_a_late_renewal() -> None:
    ended, _ = on_clock(stripe_cancel_requested(), PERIOD_END)
    state, _ = apply_event(
        ended, event(EventKind.RENEWED, occurred_at=PERIOD_END + timedelta(hours=1)), PERIOD_END
    )
    assert state.plan is Plan.FREE and state.subscription_id is None


def test_a_new_subscription_after_a_downgrade_starts_fresh() -> None:
    ended, _ = on_clock(stripe_cancel_requested(), PERIOD_END)
    new_end = PERIOD_END + timedelta(days=30)
    state, transition = apply_event(
        ended,
        event(EventKind.ACTIVATED, "sub_B", PERIOD_END, plan=Plan.MAX, current_period_end=new_end),
        now=PERIOD_END + timedelta(hours=1),
    )
    assert state.plan is Plan.MAX
    assert state.subscription_id == "sub_B"
    assert state.cancel_at_period_end is False
    assert state.current_period_end == new_end
    assert state.customer_id == "cus_1"  # remembered from before, the event named none
    assert transition is not None
    assert (transition.from_plan, transition.to_plan) == (Plan.FREE, Plan.MAX)


# -- upgrade -----------------------------------------------------------------------------------


def upgraded_to_max() -> SubscriptionState:
    new_end = at(45)
    state, transition = apply_event(
        subscribed(),
        event(EventKind.ACTIVATED, "sub_B", at(15), plan=Plan.MAX, current_period_end=new_end),
        now=at(15),
    )
    assert transition is not None
    assert (transition.from_plan, transition.to_plan) == (Plan.PRO, Plan.MAX)
    return state


def test_upgrade_pro_to_max_replaces_the_old_subscription() -> None:
    state = upgraded_to_max()
    assert state.plan is Plan.MAX
    assert state.subscription_id == "sub_B"
    assert state.current_period_end == at(45)
    assert state.since == at(15)
    assert state.ended_subscriptions == ["sub_A"]
    assert state.next_deadline() == at(45) + RENEWAL_GRACE


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (EventKind.CANCELED, None),  # the superseded subscription's own deletion
        (EventKind.UPDATED, ProviderStatus.CANCELED),
        (EventKind.PAYMENT_FAILED, None),
        (EventKind.RENEWED, None),
        (EventKind.ACTIVATED, ProviderStatus.ACTIVE),
    ],
)
def test_events_of_the_superseded_subscription_change_nothing(
    kind: EventKind, status: ProviderStatus | None
) -> None:
    before = upgraded_to_max()
    state, transition = apply_event(
        before, event(kind, "sub_A", at(16), status=status, plan=Plan.PRO), now=at(16)
    )
    assert transition is None
    assert same_except_remembered(state, before)


def test_switching_provider_takes_the_new_provider_and_customer() -> None:
    state, _ = apply_event(
        subscribed(),
        event(
            EventKind.ACTIVATED,
            "mp_pre_1",
            at(3),
            provider=PaymentProvider.MERCADOPAGO,
            plan=Plan.PRO,
            customer_id="mp_payer",
            current_period_end=at(33),
        ),
        now=at(3),
    )
    assert state.provider is PaymentProvider.MERCADOPAGO
    assert state.customer_id == "mp_payer"
    assert state.subscription_id == "mp_pre_1"
    assert "sub_A" in state.ended_subscriptions


def test_a_new_subscription_does_not_inherit_the_replaced_ones_period() -> None:
    # The old period's end is not the new subscription's deadline: ending it there would take
    # a paying user's plan away early. Without a known period there is no deadline until the
    # provider (renewal, update, reconciliation) tells one.
    state, _ = apply_event(
        subscribed(),
        event(EventKind.ACTIVATED, "sub_B", at(15), plan=Plan.MAX, current_period_end=None),
        now=at(15),
    )
    assert state.subscription_id == "sub_B"
    assert state.current_period_end is None
    assert on_clock(state, PERIOD_END + RENEWAL_GRACE)[0].plan is Plan.MAX


# -- account closed ----------------------------------------------------------------------------


def test_closing_records_the_transition() -> None:
    state, transition = close(subscribed(), at(2))
    assert state.status is SubscriptionStatus.CLOSED
    assert state.since == at(2)
    assert transition == Transition(
        from_plan=Plan.PRO,
        to_plan=Plan.PRO,
        from_status=SubscriptionStatus.ACTIVE,
        to_status=SubscriptionStatus.CLOSED,
        reason="account_deleted",
        at=at(2),
    )
    free_closed, free_transition = close(free(), at(2))
    assert free_closed.status is SubscriptionStatus.CLOSED
    assert free_transition is not None and free_transition.to_plan is Plan.FREE


@pytest.mark.parametrize("kind", list(EventKind))
def test_closed_account_ignores_every_event(kind: EventKind) -> None:
    closed, _ = close(subscribed(), at(2))
    for sub in ("sub_A", "sub_B"):
        state, transition = apply_event(
            closed,
            event(
                kind,
                sub,
                at(3),
                plan=Plan.MAX,
                status=ProviderStatus.CANCELED,
                current_period_end=at(90),
            ),
            now=at(3),
        )
        assert state == closed  # not even remembered
        assert transition is None


def test_closed_account_ignores_the_clock() -> None:
    closed, _ = close(stripe_cancel_requested(), at(2))
    assert closed.next_deadline() is None
    for now in (PERIOD_END, PERIOD_END + RENEWAL_GRACE, at(365)):
        state, transition = on_clock(closed, now)
        assert state == closed
        assert transition is None


# -- plans -------------------------------------------------------------------------------------


def test_the_plan_table_has_one_row_per_plan() -> None:
    assert set(PLANS) == set(Plan)
    for plan in Plan:
        assert limits(plan) is PLANS[plan]
        assert limits(plan).plan is plan
    assert [plan.paid for plan in Plan] == [False, True, True]


def test_prices_are_exact_decimals() -> None:
    prices = {plan: limits(plan).monthly_price_brl for plan in Plan}
    assert all(isinstance(price, Decimal) for price in prices.values())
    assert prices == {Plan.FREE: Decimal("0"), Plan.PRO: Decimal("19.90"), Plan.MAX: Decimal("97")}
    assert str(prices[Plan.PRO]) == "19.90"
    assert str(prices[Plan.MAX]) == "97.00"


def test_context_and_message_limits_grow_with_the_plan() -> None:
    free_, pro, max_ = (limits(p) for p in Plan)
    assert (free_.max_contexts, pro.max_contexts, max_.max_contexts) == (1, 3, None)
    assert (free_.chat_messages_per_day, pro.chat_messages_per_day) == (10, 100)
    assert max_.chat_messages_per_day is None
    assert (free_.history_days, pro.history_days, max_.history_days) == (30, 90, None)
    bots = [limits(p).max_bots for p in Plan]
    assert all(b is not None and b > 0 for b in bots)
    assert bots == sorted(bots)  # type: ignore[type-var]


def test_within_counts_one_more_item() -> None:
    free_, max_ = limits(Plan.FREE), limits(Plan.MAX)
    assert free_.within(free_.max_contexts, 0)
    assert not free_.within(free_.max_contexts, 1)
    assert limits(Plan.PRO).within(3, 2) and not limits(Plan.PRO).within(3, 3)
    assert max_.within(max_.max_contexts, 10_000)


def test_features_per_plan() -> None:
    free_, pro, max_ = (limits(p) for p in Plan)
    assert free_.features == {Feature.DASHBOARD, Feature.BASIC_SMARTBOTS}
    assert free_.features < pro.features < max_.features
    for feature in (Feature.CANDLE_BOTS, Feature.DCA_BOTS, Feature.STANDARD_INDICATORS):
        assert pro.allows(feature) and not free_.allows(feature)
    assert pro.allows(Feature.MARKET_COMPARISON)
    for feature in (Feature.PDF_EXPORT, Feature.ADVANCED_METRICS, Feature.ADVANCED_INDICATORS):
        assert max_.allows(feature) and not pro.allows(feature)
    assert max_.features == set(Feature)


def test_plan_limits_are_immutable() -> None:
    with pytest.raises(ValueError, match="frozen"):
        limits(Plan.FREE).max_contexts = 5  # type: ignore[misc]


# -- property: any order, any duplicates -------------------------------------------------------

SUBS = [None, "sub_A", "sub_B", "sub_C"]
MINUTES = 60 * 24 * 90

_event_steps = st.builds(
    lambda kind, sub, minute, plan, status, end, cancel, provider, eid, now: (
        SubscriptionEvent(
            provider=provider,
            event_id=f"e{eid}",
            kind=kind,
            occurred_at=at(minutes=minute),
            plan=plan,
            subscription_id=sub,
            status=status,
            current_period_end=None if end is None else at(minutes=end),
            cancel_at_period_end=cancel,
        ),
        at(minutes=now),
    ),
    kind=st.sampled_from(EventKind),
    sub=st.sampled_from(SUBS),
    minute=st.integers(0, MINUTES),
    plan=st.sampled_from([None, *Plan]),
    status=st.sampled_from([None, *ProviderStatus]),
    end=st.none() | st.integers(0, MINUTES),
    cancel=st.sampled_from([None, True, False]),
    provider=st.sampled_from(PaymentProvider),
    eid=st.integers(0, 40),  # a small id space: some ids collide with other content
    now=st.integers(0, MINUTES),
)
_clock_steps = st.tuples(st.just("clock"), st.integers(0, 2 * MINUTES).map(lambda m: at(minutes=m)))
_close_steps = st.tuples(st.just("close"), st.integers(0, MINUTES).map(lambda m: at(minutes=m)))


@st.composite
def _histories(draw: st.DrawFn) -> list[tuple[Any, datetime]]:
    steps = draw(st.lists(_event_steps | _clock_steps, max_size=30))
    if steps:  # exact redeliveries of some steps, then any order
        steps += draw(st.lists(st.sampled_from(steps), max_size=10))
    if draw(st.integers(0, 9)) == 0:
        steps.append(draw(_close_steps))
    return draw(st.permutations(steps))


def _run(
    start: SubscriptionState, steps: list[tuple[Any, datetime]]
) -> tuple[SubscriptionState, list[Transition | None]]:
    state, transitions, ever_ended = start, [], set(start.ended_subscriptions)
    for what, now in steps:
        before = state
        if what == "clock":
            state, transition = on_clock(state, now)
        elif what == "close":
            state, transition = close(state, now)
        else:
            state, transition = apply_event(state, what, now)
        transitions.append(transition)
        # (a) an ended subscription never becomes the current one again
        assert state.subscription_id is None or state.subscription_id not in ever_ended
        ever_ended |= set(state.ended_subscriptions)
        # (c) no subscription, no paid plan
        if state.subscription_id is None:
            assert state.plan is Plan.FREE
        if state.paid:
            assert state.provider is not None
        changed = (before.plan, before.status) != (state.plan, state.status)
        assert (transition is not None) == changed
        if before.status is SubscriptionStatus.CLOSED:
            assert state == before
    return state, transitions


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps=_histories(), start_paid=st.booleans())
def test_any_history_never_resurrects_and_is_deterministic(
    steps: list[tuple[Any, datetime]], start_paid: bool
) -> None:
    start = subscribed() if start_paid else free()
    first = _run(start, steps)
    second = _run(start, steps)  # (b) same start, same events: same outcome
    assert first == second
