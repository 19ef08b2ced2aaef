"""Provider events → the domain's `SubscriptionEvent`, with the user each one is about.

Stripe events are trusted once their signature checks (they carry the object). Mercado Pago
notifications are only hints: the resource they name is fetched through the API and the
event is built from what the API says.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adapters.payments.mercadopago import MercadoPagoGateway, parse_external_reference, parse_time
from adapters.payments.models import (
    PaymentEvent,
    ProviderSubscription,
    ProviderSubscriptionStatus,
)
from adapters.payments.stripe import StripeGateway
from adapters.payments.stripe_objects import StripeCheckoutSession, StripeInvoice, read
from domain.plans import Plan
from domain.subscriptions import (
    EventKind,
    PaymentProvider,
    ProviderStatus,
    SubscriptionEvent,
)

_STATUS = {
    ProviderSubscriptionStatus.ACTIVE: ProviderStatus.ACTIVE,
    ProviderSubscriptionStatus.PAST_DUE: ProviderStatus.PAST_DUE,
    ProviderSubscriptionStatus.CANCELED: ProviderStatus.CANCELED,
    ProviderSubscriptionStatus.PENDING: ProviderStatus.PENDING,
    ProviderSubscriptionStatus.PAUSED: ProviderStatus.PAUSED,
}


# Subscription ids we give one-off payments (PIX, boleto), which have no provider subscription.
ONE_OFF_PREFIX = "payment:"


@dataclass(frozen=True)
class Routed:
    """A domain event and whom it concerns. `user_id` may be None: the caller then looks the
    customer up."""

    event: SubscriptionEvent
    user_id: str | None
    customer_id: str | None


def _plan(value: object) -> Plan | None:
    try:
        return Plan(str(value)) if value else None
    except ValueError:
        return None


def add_months(moment: datetime, months: int) -> datetime:
    """Same day `months` later, clamped to the month's end (Jan 31 + 1 → Feb 28/29)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _from_subscription(
    subscription: ProviderSubscription, event_id: str, kind: EventKind, occurred_at: datetime
) -> SubscriptionEvent:
    return SubscriptionEvent(
        provider=PaymentProvider(subscription.provider.value),
        event_id=event_id,
        kind=kind,
        occurred_at=occurred_at,
        plan=_plan(subscription.plan),
        subscription_id=subscription.subscription_id,
        customer_id=subscription.customer_id,
        status=_STATUS[subscription.status],
        current_period_end=subscription.current_period_end,
        cancel_at_period_end=subscription.cancel_at_period_end,
    )


def reconciliation_event(subscription: ProviderSubscription, at: datetime) -> SubscriptionEvent:
    """What the provider holds now, as the newest event (`at` is workflow time)."""
    kind = (
        EventKind.CANCELED
        if subscription.status is ProviderSubscriptionStatus.CANCELED
        else EventKind.UPDATED
    )
    return _from_subscription(
        subscription, f"reconcile:{subscription.subscription_id}:{at.isoformat()}", kind, at
    )


# -- Stripe ------------------------------------------------------------------------------------


async def route_stripe(event: PaymentEvent, gateway: StripeGateway) -> Routed | None:
    """None for event types that do not concern a subscription; `UnreadablePayload` for an
    object of such a type that we cannot read."""
    created = event.created or datetime.now(UTC)
    if event.type == "checkout.session.completed":
        session = read(StripeCheckoutSession, event.data, "Stripe checkout session")
        if session.mode != "subscription" or session.subscription_id is None:
            return None
        # The session names the subscription; its period and plan come from the API, so the
        # activation is complete even when the subscription's own events arrive later.
        subscription = await gateway.get_subscription(session.subscription_id)
        activated = _from_subscription(subscription, event.event_id, EventKind.ACTIVATED, created)
        user = session.client_reference_id or (session.metadata or {}).get("user_id")
        return Routed(activated, user, session.customer_id or subscription.customer_id)
    if event.type.startswith("customer.subscription."):
        seen = gateway.subscription_from_event(event)
        if seen is None:
            return None
        kind = (
            EventKind.CANCELED
            if event.type == "customer.subscription.deleted"
            else EventKind.UPDATED
        )
        routed = _from_subscription(seen, event.event_id, kind, created)
        return Routed(routed, seen.user_id, seen.customer_id)
    if event.type in ("invoice.paid", "invoice.payment_failed"):
        invoice = read(StripeInvoice, event.data, "Stripe invoice")
        if invoice.subscription_id is None:
            return None
        paid = event.type == "invoice.paid"
        invoice_event = SubscriptionEvent(
            provider=PaymentProvider.STRIPE,
            event_id=event.event_id,
            kind=EventKind.RENEWED if paid else EventKind.PAYMENT_FAILED,
            occurred_at=created,
            plan=_plan(invoice.metadata.get("plan")),
            subscription_id=invoice.subscription_id,
            customer_id=invoice.customer_id,
            current_period_end=invoice.period_end if paid else None,
        )
        return Routed(invoice_event, invoice.metadata.get("user_id"), invoice.customer_id)
    return None


# -- Mercado Pago ------------------------------------------------------------------------------


async def route_mercadopago(event: PaymentEvent, gateway: MercadoPagoGateway) -> Routed | None:
    """Fetch what the notification names and decide from that. None: nothing to act on."""
    object_id = event.object_id
    if not object_id:
        return None
    if event.type == "subscription_preapproval":
        subscription = await gateway.get_preapproval(object_id)
        occurred = subscription.updated_at or event.created or datetime.now(UTC)
        kind = {
            ProviderSubscriptionStatus.ACTIVE: EventKind.ACTIVATED,
            ProviderSubscriptionStatus.CANCELED: EventKind.CANCELED,
        }.get(subscription.status)
        if kind is None:
            return None  # pending or paused: nothing changes for the user yet
        return Routed(
            _from_subscription(subscription, event.event_id, kind, occurred),
            subscription.user_id,
            subscription.customer_id,
        )
    if event.type == "subscription_authorized_payment":
        invoice = await gateway.get_authorized_payment(object_id)
        payment_id = (invoice.get("payment") or {}).get("id")
        if not payment_id:
            return None
        payment = await gateway.get_payment(str(payment_id))
    elif event.type == "payment":
        payment = await gateway.get_payment(object_id)
    else:
        return None
    return await _route_payment(event, payment, gateway)


async def _route_payment(
    event: PaymentEvent, payment: dict[str, Any], gateway: MercadoPagoGateway
) -> Routed | None:
    user_id, _ = parse_external_reference(payment.get("external_reference"))
    approved = payment.get("status") == "approved"
    occurred = parse_time(payment.get("date_last_updated") or payment.get("date_created"))
    occurred = occurred or event.created or datetime.now(UTC)
    interaction = (payment.get("point_of_interaction") or {}).get("transaction_data") or {}
    preapproval_id = interaction.get("subscription_id") or (payment.get("metadata") or {}).get(
        "preapproval_id"
    )
    if preapproval_id:
        # A monthly charge of a card subscription: the period comes from the preapproval.
        subscription = await gateway.get_preapproval(str(preapproval_id))
        kind = EventKind.RENEWED if approved else EventKind.PAYMENT_FAILED
        renewal = _from_subscription(subscription, event.event_id, kind, occurred)
        return Routed(renewal, user_id or subscription.user_id, subscription.customer_id)
    if not approved:
        return None  # a failed one-off payment changes nothing: the user may try again
    return Routed(one_off_activation(payment, event.event_id, occurred), user_id, None)


def one_off_activation(
    payment: dict[str, Any], event_id: str, occurred: datetime
) -> SubscriptionEvent:
    """An approved PIX or boleto payment pays one month; nothing renews it, so it ends at the
    period's end."""
    _, plan_name = parse_external_reference(payment.get("external_reference"))
    paid_at = parse_time(payment.get("date_approved")) or occurred
    return SubscriptionEvent(
        provider=PaymentProvider.MERCADOPAGO,
        event_id=event_id,
        kind=EventKind.ACTIVATED,
        occurred_at=occurred,
        plan=_plan(plan_name),
        subscription_id=f"{ONE_OFF_PREFIX}{payment['id']}",
        status=ProviderStatus.ACTIVE,
        current_period_end=add_months(paid_at, 1),
        cancel_at_period_end=True,
    )


def activation_event(
    subscription: ProviderSubscription, event_id: str, at: datetime
) -> SubscriptionEvent:
    """A paid checkout found at the provider (reconciliation of a lost webhook)."""
    return _from_subscription(subscription, event_id, EventKind.ACTIVATED, at)
