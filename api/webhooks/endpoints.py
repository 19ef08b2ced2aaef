"""Payment webhooks: verify → store under (provider, event id) → signal-with-start the user's
subscription workflow → 200. A repeat is acknowledged and changes nothing; the workflow
decides what an event means (ordering, resurrection) — the webhook only delivers it."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import dataclass

import structlog
from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from adapters.db.models import PaymentCustomer, PaymentEventRecord, User
from adapters.db.repositories import AuditRepository
from adapters.payments.events import ONE_OFF_PREFIX, Routed, route_mercadopago, route_stripe
from adapters.payments.gateways import PaymentGateways
from adapters.payments.models import (
    InvalidSignature,
    PaymentEvent,
    PaymentProviderError,
    UnreadablePayload,
)
from adapters.temporal import TEMPORAL_CALL_ERRORS
from api.deps import PaymentsDep, SessionDep, TemporalDep, utcnow
from api.errors import ApiError, error_responses
from api.subscriptions.workflow_calls import WorkflowClosed, start_subscription
from domain.accounts import AuditAction
from domain.subscriptions import EventKind
from workflows.subscription import SubscriptionWorkflow

log = structlog.get_logger(__name__)

router = APIRouter(
    prefix="/api/webhooks", tags=["webhooks"], responses=error_responses(400, 500, 503)
)


class WebhookAck(BaseModel):
    received: bool = True
    outcome: str  # signaled | duplicate | ignored: <reason>


@dataclass(frozen=True)
class _Inbound:
    event: PaymentEvent
    routed: Routed | None
    ignored: str = "not a subscription event"  # the outcome's reason when routed is None


def _refuse(reason: str) -> ApiError:
    return ApiError(
        400,
        "invalid_signature",
        f"The webhook signature could not be verified ({reason}).",
        {"reason": reason},
    )


async def _owner(
    session: AsyncSession, provider: str, routed: Routed
) -> tuple[uuid.UUID | None, bool]:
    """Whom the event concerns: the routed user, else the user the customer belongs to; and
    whether that account is closed."""
    candidate: uuid.UUID | None = None
    if routed.user_id:
        try:
            candidate = uuid.UUID(routed.user_id)
        except ValueError:
            candidate = None
    if candidate is None and routed.customer_id:
        candidate = await session.scalar(
            select(PaymentCustomer.user_id).where(
                PaymentCustomer.provider == provider,
                PaymentCustomer.customer_id == routed.customer_id,
            )
        )
    user = await session.get(User, candidate) if candidate is not None else None
    if user is None:
        return None, False
    return user.id, user.deleted_at is not None


# Stored and committed, not yet delivered to the workflow: a provider retry delivers it again.
PENDING = "pending"
CLOSED = "ignored: account closed"
# What the provider goes on charging for unless it is canceled.
_CHARGING = (EventKind.ACTIVATED, EventKind.RENEWED)


async def _stop_charging(
    session: AsyncSession, payments: PaymentGateways, user_id: uuid.UUID, routed: Routed
) -> str:
    """A closed account's checkout was paid (or renewed) after the deletion, when its workflow
    can no longer cancel it: cancel it at the provider now, so nothing charges again. A provider
    outage is a 503 before anything is stored, so the provider delivers the event again; a
    one-off payment (PIX, boleto) or a refused cancel is left to support, with an alert."""
    event = routed.event
    if event.kind not in _CHARGING or event.subscription_id is None:
        return CLOSED
    if not event.subscription_id.startswith(ONE_OFF_PREFIX):
        try:
            await payments.cancel_now(event.provider, event.subscription_id)
        except PaymentProviderError as exc:
            if exc.retryable:
                raise ApiError(
                    503, "provider_unavailable", "Could not cancel at the provider; retry."
                ) from None
            log.error("closed account's subscription not canceled", error=exc.message)
        else:
            log.warning("closed account's subscription canceled at the provider")
            return "canceled: account closed"
    await AuditRepository(session).record(
        AuditAction.SUBSCRIPTION_ALERT,
        user_id=user_id,
        ip=None,
        user_agent=None,
        at=utcnow(),
        kind="paid_after_account_closed",
        subscription_id=event.subscription_id,
    )
    return "ignored: account closed, paid (support refunds)"


async def _accept(
    session: AsyncSession, temporal: Client, payments: PaymentGateways, inbound: _Inbound
) -> WebhookAck:
    """Store the event and commit, then signal: no database transaction is held open across
    the Temporal call. A stored event whose signal failed stays `pending` and the provider's
    retry signals it again (the workflow drops a second copy by event id)."""
    event, routed = inbound.event, inbound.routed
    provider = event.provider.value
    stored = await session.scalar(
        select(PaymentEventRecord).where(
            PaymentEventRecord.provider == provider, PaymentEventRecord.event_id == event.event_id
        )
    )
    if stored is not None and (stored.outcome != PENDING or routed is None):
        return WebhookAck(outcome="duplicate")
    if stored is None:
        user_id, closed = await _owner(session, provider, routed) if routed else (None, False)
        if routed is None:
            outcome = f"ignored: {inbound.ignored}"
        elif user_id is None:
            outcome = "ignored: unknown customer"
        elif closed:
            outcome = await _stop_charging(session, payments, user_id, routed)
        else:
            outcome = PENDING
        stored = PaymentEventRecord(
            provider=provider,
            event_id=event.event_id,
            type=event.type[:80],
            user_id=user_id,
            outcome=outcome,
            received_at=utcnow(),
        )
        session.add(stored)
        try:
            await session.flush()  # the unique (provider, event id) decides between racing copies
        except IntegrityError:
            await session.rollback()
            return WebhookAck(outcome="duplicate")
        if routed is None or outcome != PENDING:
            log.info("payment event ignored", provider=provider, type=event.type, outcome=outcome)
            return WebhookAck(outcome=outcome)
        if routed.customer_id and routed.event.kind is EventKind.ACTIVATED:
            await session.merge(
                PaymentCustomer(provider=provider, customer_id=routed.customer_id, user_id=user_id)
            )
        await session.commit()
    assert routed is not None and stored.user_id is not None
    stored.outcome = await _signal(temporal, stored.user_id, routed)
    if stored.outcome == CLOSED:
        # Closed between the store and the signal: the workflow can no longer cancel.
        stored.outcome = await _stop_charging(session, payments, stored.user_id, routed)
    log.info(
        "payment event delivered",
        provider=provider,
        type=event.type,
        kind=routed.event.kind.value,
        outcome=stored.outcome,
    )
    return WebhookAck(outcome=stored.outcome)


async def _signal(temporal: Client, user_id: uuid.UUID, routed: Routed) -> str:
    """Signal-with-start the user's workflow (bounded); the event's outcome."""
    try:
        await start_subscription(
            temporal, user_id, SubscriptionWorkflow.payment_event.__name__, routed.event
        )
    except WorkflowClosed:
        return CLOSED
    except TEMPORAL_CALL_ERRORS as exc:
        log.error("could not signal subscription workflow", error=str(exc))
        raise ApiError(503, "service_unavailable", "Try again later.") from None
    return "signaled"


async def _route(route: Awaitable[Routed | None], event: PaymentEvent) -> _Inbound:
    try:
        return _Inbound(event, await route)
    except UnreadablePayload as exc:
        # Signed, so it is the provider's: acknowledged (a retry would read no better) and
        # recorded under its id, but it cannot change anyone's plan.
        log.warning("payment event unreadable", provider=event.provider.value, error=exc.message)
        return _Inbound(event, None, "unreadable event")
    except PaymentProviderError as exc:
        log.warning("provider lookup failed", provider=event.provider.value, error=exc.message)
        if exc.retryable:
            # The provider could not be asked about its own event: 5xx, so it retries.
            raise ApiError(
                503, "provider_unavailable", "Could not confirm the event; retry."
            ) from None
        # The provider does not know what its notification names: nothing to act on.
        return _Inbound(event, None)


@router.post("/stripe", response_model=WebhookAck)
async def stripe_webhook(
    request: Request, session: SessionDep, temporal: TemporalDep, payments: PaymentsDep
) -> WebhookAck:
    """Stripe events, verified on the raw body with the endpoint secret (Stripe-Signature,
    timestamp tolerance 300 s either way). A bad, stale or missing signature, or a signed body
    that is not an event (id, type, data.object), is a 400 `invalid_signature` naming the
    reason. A signed event whose object we cannot read (a field of another type, a date past
    2106) is acknowledged, recorded and ignored (`ignored: unreadable event`): Stripe would
    only retry the same bytes for three days."""
    try:
        event = payments.stripe.verify_webhook(
            await request.body(), request.headers.get("stripe-signature")
        )
    except InvalidSignature as exc:
        raise _refuse(exc.reason) from None
    inbound = await _route(route_stripe(event, payments.stripe), event)
    return await _accept(session, temporal, payments, inbound)


@router.post("/mercadopago", response_model=WebhookAck)
async def mercadopago_webhook(
    request: Request, session: SessionDep, temporal: TemporalDep, payments: PaymentsDep
) -> WebhookAck:
    """Mercado Pago notifications, verified by x-signature over the documented manifest
    (ts within 300 s either way), then confirmed by fetching the payment or preapproval they
    name. Duplicates are keyed on what the signature covers (data.id, x-request-id, ts), not on
    the unsigned notification id in the body."""
    try:
        event = payments.mercadopago.verify_webhook(
            request.headers, request.query_params, await request.body()
        )
    except InvalidSignature as exc:
        raise _refuse(exc.reason) from None
    inbound = await _route(route_mercadopago(event, payments.mercadopago), event)
    return await _accept(session, temporal, payments, inbound)
