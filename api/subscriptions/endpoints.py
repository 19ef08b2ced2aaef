"""Plans, the user's subscription (live from its workflow), checkout and cancel."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Header
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import WorkflowUpdateFailedError

from adapters.contexts import ContextRepository
from adapters.payments.events import ONE_OFF_PREFIX
from adapters.payments.models import PaymentProviderError
from adapters.temporal import TEMPORAL_CALL_ERRORS
from api.deps import CurrentUser, PaymentsDep, SessionDep, SettingsDep, TemporalDep
from api.errors import ApiError, error_responses
from domain.market import Money
from domain.plans import PLANS, Feature, Plan, PlanLimits
from domain.subscriptions import PaymentProvider, SubscriptionState, SubscriptionStatus
from workflows.subscription import CancelRequest, SubscriptionWorkflow, subscription_workflow_id

log = structlog.get_logger(__name__)

router = APIRouter(
    prefix="/api/subscriptions", tags=["subscriptions"], responses=error_responses(422, 500)
)


class PlanPublic(BaseModel):
    plan: Plan
    name: str
    monthly_price_brl: Money
    max_contexts: int | None = Field(description="None: unlimited")
    max_bots: int | None
    chat_messages_per_day: int | None
    history_days: int | None
    features: list[Feature]


def _plan_public(limits: PlanLimits) -> PlanPublic:
    return PlanPublic(**limits.model_dump(exclude={"features"}), features=sorted(limits.features))


class Usage(BaseModel):
    contexts: int


class SubscriptionPublic(BaseModel):
    plan: Plan
    status: SubscriptionStatus
    since: datetime
    provider: PaymentProvider | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    limits: PlanPublic
    usage: Usage


class CheckoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: Literal[Plan.PRO, Plan.MAX]
    provider: PaymentProvider
    method: Literal["card", "pix", "boleto"] | None = Field(
        default=None, description="Mercado Pago only: card (monthly), pix or boleto (one month)"
    )


class CheckoutPublic(BaseModel):
    provider: PaymentProvider
    checkout_id: str
    checkout_url: str


async def live_subscription(temporal: TemporalDep, user_id: uuid.UUID) -> SubscriptionState:
    handle = temporal.get_workflow_handle_for(
        SubscriptionWorkflow.run, subscription_workflow_id(user_id)
    )
    try:
        return await handle.query(SubscriptionWorkflow.state)
    except TEMPORAL_CALL_ERRORS as exc:
        log.error("subscription query failed", error=str(exc))
        raise ApiError(
            503, "service_unavailable", "The subscription service is unavailable right now."
        ) from None


def _provider_failed(exc: PaymentProviderError) -> ApiError:
    return ApiError(
        502 if exc.retryable else 422,
        "payment_provider_error",
        f"The payment provider refused or failed: {exc.message}",
        {"retryable": exc.retryable},
    )


@router.get("/plans", response_model=list[PlanPublic])
async def plans() -> list[PlanPublic]:
    """Every plan with its monthly price (BRL, as a decimal string), limits and features."""
    return [_plan_public(limits) for limits in PLANS.values()]


@router.get("/me", response_model=SubscriptionPublic, responses=error_responses(401, 503))
async def my_subscription(
    user: CurrentUser, temporal: TemporalDep, session: SessionDep
) -> SubscriptionPublic:
    """The live state of the user's subscription workflow, with limits and usage."""
    state = await live_subscription(temporal, user.id)
    return SubscriptionPublic(
        plan=state.plan,
        status=state.status,
        since=state.since,
        provider=state.provider,
        current_period_end=state.current_period_end,
        cancel_at_period_end=state.cancel_at_period_end,
        limits=_plan_public(PLANS[state.plan]),
        usage=Usage(contexts=await ContextRepository(session).count(user.id)),
    )


@router.post(
    "/checkout",
    status_code=201,
    response_model=CheckoutPublic,
    responses=error_responses(401, 409, 502, 503),
)
async def checkout(
    body: CheckoutRequest,
    user: CurrentUser,
    temporal: TemporalDep,
    payments: PaymentsDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> CheckoutPublic:
    """Start paying for PRO or MAX: answers the provider's page to send the user to. The plan
    changes when the provider confirms the payment (webhook). Send `Idempotency-Key` to make a
    retried request return the same checkout."""
    if body.method is not None and body.provider is not PaymentProvider.MERCADOPAGO:
        raise ApiError(422, "method_not_supported", "Payment methods are for Mercado Pago.")
    state = await live_subscription(temporal, user.id)
    if state.plan is body.plan and not state.cancel_at_period_end:
        raise ApiError(409, "already_subscribed", f"You are already on {body.plan.value}.")
    key = idempotency_key or uuid.uuid4().hex
    base = settings.public_base_url
    try:
        if body.provider is PaymentProvider.STRIPE:
            created = await payments.stripe.create_checkout(
                str(user.id),
                user.email,
                body.plan.value,
                success_url=f"{base}/billing/success?session_id={{CHECKOUT_SESSION_ID}}",
                cancel_url=f"{base}/billing/canceled",
                customer_id=state.customer_id if state.provider is PaymentProvider.STRIPE else None,
                idempotency_key=key,
            )
        else:
            created = await payments.mercadopago.create_checkout(
                str(user.id),
                user.email,
                body.plan.value,
                body.method,
                back_url=f"{base}/billing/return",
                idempotency_key=key,
            )
    except PaymentProviderError as exc:
        raise _provider_failed(exc) from None
    return CheckoutPublic(
        provider=body.provider, checkout_id=created.checkout_id, checkout_url=created.checkout_url
    )


@router.post(
    "/cancel", response_model=SubscriptionPublic, responses=error_responses(401, 409, 502, 503)
)
async def cancel(
    user: CurrentUser,
    temporal: TemporalDep,
    payments: PaymentsDep,
    session: SessionDep,
) -> SubscriptionPublic:
    """Stripe: access continues to the end of the paid period, then FREE. Mercado Pago: the
    preapproval is cancelled and the plan is FREE at once. A PIX/boleto month already ends by
    itself."""
    state = await live_subscription(temporal, user.id)
    if not state.paid or state.provider is None or state.subscription_id is None:
        raise ApiError(409, "no_paid_subscription", "There is no paid subscription to cancel.")
    if state.subscription_id.startswith(ONE_OFF_PREFIX) or state.cancel_at_period_end:
        raise ApiError(
            409,
            "already_ending",
            "This subscription already ends at the end of its paid period.",
            {
                "current_period_end": state.current_period_end.isoformat()
                if state.current_period_end
                else None
            },
        )
    try:
        if state.provider is PaymentProvider.STRIPE:
            await payments.stripe.cancel_at_period_end(state.subscription_id)
        else:
            await payments.mercadopago.cancel(state.subscription_id)
    except PaymentProviderError as exc:
        raise _provider_failed(exc) from None
    handle = temporal.get_workflow_handle_for(
        SubscriptionWorkflow.run, subscription_workflow_id(user.id)
    )
    request = CancelRequest(
        provider=state.provider,
        subscription_id=state.subscription_id,
        at_period_end=state.provider is PaymentProvider.STRIPE,
    )
    try:
        await handle.execute_update(SubscriptionWorkflow.cancel, request)
    except WorkflowUpdateFailedError:
        raise ApiError(
            409, "no_paid_subscription", "There is no paid subscription to cancel."
        ) from None
    except TEMPORAL_CALL_ERRORS as exc:
        # The provider has it; its webhook will bring the same change shortly.
        log.error("cancel update failed; the provider's event will follow", error=str(exc))
    return await my_subscription(user, temporal, session)
