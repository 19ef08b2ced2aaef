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
from adapters.payments.events import Routed, route_mercadopago, route_stripe
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


async def _user_for(session: AsyncSession, provider: str, routed: Routed) -> uuid.UUID | None:
    """The routed user if it is a live account, else the user the customer belongs to."""
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
    if candidate is None:
        return None
    user = await session.get(User, candidate)
    return user.id if user is not None and user.deleted_at is None else None


# Stored and committed, not yet delivered to the workflow: a provider retry delivers it again.
PENDING = "pending"


async def _accept(session: AsyncSession, temporal: Client, inbound: _Inbound) -> WebhookAck:
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
        user_id = await _user_for(session, provider, routed) if routed else None
        if routed is None:
            outcome = f"ignored: {inbound.ignored}"
        elif user_id is None:
            outcome = "ignored: unknown customer"
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
        if routed is None or user_id is None:
            log.info("payment event ignored", provider=provider, type=event.type, outcome=outcome)
            return WebhookAck(outcome=outcome)
        if routed.customer_id and routed.event.kind is EventKind.ACTIVATED:
            await session.merge(
                PaymentCustomer(provider=provider, customer_id=routed.customer_id, user_id=user_id)
            )
        await session.commit()
    assert routed is not None and stored.user_id is not None
    stored.outcome = await _signal(temporal, stored.user_id, routed)
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
        return "ignored: account closed"
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
    return await _accept(session, temporal, inbound)


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
    return await _accept(session, temporal, inbound)
