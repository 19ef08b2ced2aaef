"""The subscription lifecycle as pure rules: provider events in, the user's plan out.

The SubscriptionWorkflow holds one `SubscriptionState` and feeds it every payment event (from
webhooks, from reconciliation, from the user's cancel) through `apply_event`, and the clock
through `on_clock`. Deterministic: the same code runs inside the workflow and in unit tests.

Ordering: providers deliver at least once and not in order, so events are ordered by the
provider object's own clock (`occurred_at`), duplicates are dropped by id, and a subscription
that ended never comes back to life by a late event.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, Field

from domain.plans import Plan

# Past the paid period without a renewal we ask the provider before taking access away: a
# renewal event may be late or lost. After the grace, a silent provider means downgrade.
RENEWAL_GRACE = timedelta(days=3)
# A paid subscription is compared with the provider's own record this often (drift repair;
# webhooks are the main path, and every deadline is checked with the provider first).
RECONCILE_EVERY = timedelta(days=7)
# Remembered event ids, for duplicate detection inside the workflow (the database keeps all).
EVENT_MEMORY = 200
# A provider command that failed (an old subscription left uncanceled) is tried again this often.
PROVIDER_RETRY_EVERY = timedelta(hours=1)
# A checkout the user started is looked up at the provider this often, so a lost payment event
# is repaired; after the watch a checkout nobody paid is forgotten (boleto clears in ~3 days).
CHECKOUT_CHECK_EVERY = timedelta(hours=1)
CHECKOUT_WATCH_FOR = timedelta(days=4)


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    PAST_DUE = "past_due"  # a renewal charge failed; access stays while the provider retries
    CLOSED = "closed"  # the account was deleted


class PaymentProvider(StrEnum):
    STRIPE = "stripe"
    MERCADOPAGO = "mercadopago"


class EventKind(StrEnum):
    ACTIVATED = "activated"  # a checkout was paid: the plan starts
    RENEWED = "renewed"  # a renewal charge succeeded: the period moves on
    PAYMENT_FAILED = "payment_failed"  # a renewal charge failed
    UPDATED = "updated"  # the provider's subscription record changed (status, period, cancel)
    CANCELED = "canceled"  # the subscription ended: back to FREE now


class ProviderStatus(StrEnum):
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    PENDING = "pending"
    PAUSED = "paused"


class SubscriptionEvent(BaseModel):
    provider: PaymentProvider
    event_id: str
    kind: EventKind
    occurred_at: datetime  # the provider object's clock, not arrival time
    plan: Plan | None = None
    subscription_id: str | None = None
    customer_id: str | None = None
    status: ProviderStatus | None = None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool | None = None


class CheckoutMethod(StrEnum):
    CARD = "card"
    PIX = "pix"
    BOLETO = "boleto"


class CheckoutInFlight(BaseModel):
    """A checkout created at the provider and not yet seen paid or expired."""

    provider: PaymentProvider
    checkout_id: str
    plan: Plan
    method: CheckoutMethod | None = None
    started_at: datetime


class Transition(BaseModel):
    """A change of plan or status worth projecting, auditing and acting on."""

    from_plan: Plan
    to_plan: Plan
    from_status: SubscriptionStatus
    to_status: SubscriptionStatus
    reason: str
    at: datetime


class SubscriptionState(BaseModel):
    user_id: UUID
    plan: Plan = Plan.FREE
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE
    since: datetime
    provider: PaymentProvider | None = None
    customer_id: str | None = None
    subscription_id: str | None = None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False
    last_event_at: datetime | None = None
    # Checked (provider ids) so late events of an ended subscription change nothing.
    ended_subscriptions: list[str] = Field(default_factory=list)
    recent_event_ids: list[str] = Field(default_factory=list)

    @property
    def paid(self) -> bool:
        return self.plan.paid

    def next_deadline(self) -> datetime | None:
        """When the clock must be looked at again (`on_clock`), or None."""
        closed = self.status is SubscriptionStatus.CLOSED
        if closed or not self.paid or self.current_period_end is None:
            return None
        if self.cancel_at_period_end:
            return self.current_period_end
        return self.current_period_end + RENEWAL_GRACE


def _downgrade(state: SubscriptionState, reason: str, now: datetime) -> SubscriptionState:
    ended = state.ended_subscriptions
    if state.subscription_id and state.subscription_id not in ended:
        ended = [*ended, state.subscription_id]
    return state.model_copy(
        update={
            "plan": Plan.FREE,
            "status": SubscriptionStatus.ACTIVE,
            "since": now,
            "provider": None,
            "customer_id": state.customer_id,  # kept: the same customer may subscribe again
            "subscription_id": None,
            "current_period_end": None,
            "cancel_at_period_end": False,
            "ended_subscriptions": ended[-EVENT_MEMORY:],
        }
    )


def _transition(
    before: SubscriptionState, after: SubscriptionState, reason: str, now: datetime
) -> Transition | None:
    if (before.plan, before.status) == (after.plan, after.status):
        return None
    return Transition(
        from_plan=before.plan,
        to_plan=after.plan,
        from_status=before.status,
        to_status=after.status,
        reason=reason,
        at=now,
    )


def event_key(event: SubscriptionEvent) -> str:
    """Event ids are unique per provider, not across providers."""
    return f"{event.provider}:{event.event_id}"


def apply_event(
    state: SubscriptionState, event: SubscriptionEvent, now: datetime
) -> tuple[SubscriptionState, Transition | None]:
    """The state after `event`; unchanged for duplicates, stale and foreign events."""
    key = event_key(event)
    if state.status is SubscriptionStatus.CLOSED or key in state.recent_event_ids:
        return state, None
    remembered = state.model_copy(
        update={"recent_event_ids": [*state.recent_event_ids, key][-EVENT_MEMORY:]}
    )
    after = _decide(remembered, event, now)
    if after is None:
        return remembered, None
    return after, _transition(state, after, f"{event.provider}:{event.kind}", now)


def _decide(
    state: SubscriptionState, event: SubscriptionEvent, now: datetime
) -> SubscriptionState | None:
    sub_id = event.subscription_id
    if sub_id and sub_id in state.ended_subscriptions:
        return None  # never resurrect an ended subscription
    current = sub_id is not None and sub_id == state.subscription_id
    if event.kind is EventKind.ACTIVATED:
        if sub_id is None or event.plan is None or not event.plan.paid:
            return None  # a paid plan needs a subscription that later events can name
        if current and state.last_event_at and event.occurred_at < state.last_event_at:
            return None
        period_end = event.current_period_end
        ended = state.ended_subscriptions
        if state.subscription_id and not current:
            ended = [*ended, state.subscription_id][-EVENT_MEMORY:]  # replaced: an upgrade
        return state.model_copy(
            update={
                "ended_subscriptions": ended,
                "plan": event.plan,
                "status": SubscriptionStatus.ACTIVE,
                "since": now if not current else state.since,
                "provider": event.provider,
                "customer_id": event.customer_id or state.customer_id,
                "subscription_id": sub_id,
                # A replacing subscription does not inherit the replaced one's period end.
                "current_period_end": period_end or (state.current_period_end if current else None),
                "cancel_at_period_end": bool(event.cancel_at_period_end),
                "last_event_at": event.occurred_at,
            }
        )
    if not current:
        return None  # about a subscription this user is not on (an old or other one)
    if event.kind is EventKind.CANCELED:
        return _downgrade(state, "canceled", now)
    if state.last_event_at and event.occurred_at < state.last_event_at:
        return None  # older than what we already know
    update: dict[str, object] = {"last_event_at": event.occurred_at}
    if event.current_period_end and (
        state.current_period_end is None or event.current_period_end > state.current_period_end
    ):
        update["current_period_end"] = event.current_period_end
    if event.cancel_at_period_end is not None:
        update["cancel_at_period_end"] = event.cancel_at_period_end
    if event.plan is not None and event.plan.paid:
        update["plan"] = event.plan
    if event.kind is EventKind.RENEWED:
        update["status"] = SubscriptionStatus.ACTIVE
    elif event.kind is EventKind.PAYMENT_FAILED:
        update["status"] = SubscriptionStatus.PAST_DUE
    elif event.kind is EventKind.UPDATED and event.status is not None:
        if event.status is ProviderStatus.CANCELED:
            return _downgrade(state, "canceled", now)
        if event.status is ProviderStatus.ACTIVE:
            update["status"] = SubscriptionStatus.ACTIVE
        elif event.status is ProviderStatus.PAST_DUE:
            update["status"] = SubscriptionStatus.PAST_DUE
    return state.model_copy(update=update)


def on_clock(
    state: SubscriptionState, now: datetime
) -> tuple[SubscriptionState, Transition | None]:
    """At a deadline: a period that was set to end has ended; a period long past without any
    renewal is over. (The workflow asks the provider first, so this is the last word.)"""
    deadline = state.next_deadline()
    if deadline is None or now < deadline:
        return state, None
    reason = "period_ended" if state.cancel_at_period_end else "renewal_missing"
    after = _downgrade(state, reason, now)
    return after, _transition(state, after, reason, now)


def close(
    state: SubscriptionState, now: datetime, *, canceled_at_provider: str | None = None
) -> tuple[SubscriptionState, Transition | None]:
    """The account is deleted. `canceled_at_provider` names the subscription the API canceled
    just before: when it is the current one, the account closes on FREE."""
    current = state.subscription_id is not None and state.subscription_id == canceled_at_provider
    base = _downgrade(state, "account_deleted", now) if current else state
    after = base.model_copy(update={"status": SubscriptionStatus.CLOSED, "since": now})
    return after, _transition(state, after, "account_deleted", now)
