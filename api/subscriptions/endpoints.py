"""Plans, the user's subscription, checkout and cancel.

Reads come from the database projection of the user's subscription workflow, so they keep
answering while workers restart; commands go to the workflow, each with a time limit."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError

from adapters.contexts import ContextRepository
from adapters.db.models import User
from adapters.payments.events import ONE_OFF_PREFIX
from adapters.payments.models import PaymentProviderError
from adapters.subscriptions import SubscriptionStore
from adapters.temporal import TEMPORAL_CALL_ERRORS
from api.deps import CurrentUser, PaymentsDep, SessionDep, SettingsDep, TemporalDep, utcnow
from api.errors import ApiError, error_responses
from api.ratelimit import limit_checkouts
from api.subscriptions.workflow_calls import (
    WorkflowClosed,
    start_subscription,
)
from domain.market import Money
from domain.plans import PLANS, Feature, Plan, PlanLimits
from domain.subscriptions import (
    CheckoutInFlight,
    CheckoutMethod,
    PaymentProvider,
    SubscriptionState,
    SubscriptionStatus,
)
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
    backtests_per_day: int
    backtest_days: int = Field(description="the longest period one backtest covers")
    features: list[Feature]


def _plan_public(limits: PlanLimits) -> PlanPublic:
    return PlanPublic(**limits.model_dump(exclude={"features"}), features=sorted(limits.features))


class Usage(BaseModel):
    contexts: int


class SubscriptionSummary(BaseModel):
    """The user's plan as they may see it (the workflow's bookkeeping stays inside)."""

    plan: Plan
    status: SubscriptionStatus
    since: datetime
    provider: PaymentProvider | None
    current_period_end: datetime | None
    cancel_at_period_end: bool

    @classmethod
    def of(cls, state: SubscriptionState) -> SubscriptionSummary:
        return cls.model_validate(state.model_dump(include=set(cls.model_fields)))


class SubscriptionPublic(SubscriptionSummary):
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


# The cancel Update waits at most this long for the workflow (which itself answers "busy"
# after CANCEL_UPDATE_WAIT); then the request answers 504.
CANCEL_UPDATE_TIMEOUT = 25.0


async def stored_subscription(session: AsyncSession, user: User) -> SubscriptionState:
    """The user's subscription as the database projection holds it."""
    return await SubscriptionStore(session).load_or_free(user)


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


async def _public(session: AsyncSession, state: SubscriptionState) -> SubscriptionPublic:
    return SubscriptionPublic(
        **SubscriptionSummary.of(state).model_dump(),
        limits=_plan_public(PLANS[state.plan]),
        usage=Usage(contexts=await ContextRepository(session).count(state.user_id)),
    )


@router.get("/me", response_model=SubscriptionPublic, responses=error_responses(401))
async def my_subscription(user: CurrentUser, session: SessionDep) -> SubscriptionPublic:
    """The user's subscription (from the database projection of its workflow), with limits
    and usage."""
    return await _public(session, await stored_subscription(session, user))


@router.post(
    "/checkout",
    status_code=201,
    response_model=CheckoutPublic,
    responses=error_responses(401, 409, 429, 502),
    dependencies=[Depends(limit_checkouts)],  # per user and hour: 429 with Retry-After
)
async def checkout(
    body: CheckoutRequest,
    user: CurrentUser,
    session: SessionDep,
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
    state = await stored_subscription(session, user)
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
                success_url=f"{base}/app/plans?checkout=paid&session_id={{CHECKOUT_SESSION_ID}}",
                cancel_url=f"{base}/app/plans?checkout=canceled",
                customer_id=state.customer_id if state.provider is PaymentProvider.STRIPE else None,
                idempotency_key=key,
            )
        else:
            created = await payments.mercadopago.create_checkout(
                str(user.id),
                user.email,
                body.plan.value,
                body.method,
                back_url=f"{base}/app/plans?checkout=mercadopago",
                idempotency_key=key,
            )
    except PaymentProviderError as exc:
        raise _provider_failed(exc) from None
    await _watch_checkout(temporal, user.id, body, created.checkout_id)
    return CheckoutPublic(
        provider=body.provider, checkout_id=created.checkout_id, checkout_url=created.checkout_url
    )


async def _watch_checkout(
    temporal: TemporalDep, user_id: uuid.UUID, body: CheckoutRequest, checkout_id: str
) -> None:
    """Tell the workflow a checkout is in flight, so it asks the provider if the payment's
    webhook never comes. Best effort: the webhook remains the main path."""
    watched = CheckoutInFlight(
        provider=body.provider,
        checkout_id=checkout_id,
        plan=body.plan,
        method=CheckoutMethod(body.method) if body.method else None,
        started_at=utcnow(),
    )
    try:
        await start_subscription(
            temporal, user_id, SubscriptionWorkflow.checkout_started.__name__, watched
        )
    except (WorkflowClosed, *TEMPORAL_CALL_ERRORS) as exc:
        log.warning("checkout not watched by the workflow", error=str(exc))


@router.post(
    "/cancel",
    response_model=SubscriptionPublic,
    responses=error_responses(401, 409, 502, 503, 504),
)
async def cancel(
    user: CurrentUser,
    temporal: TemporalDep,
    payments: PaymentsDep,
    session: SessionDep,
) -> SubscriptionPublic:
    """Stripe: access continues to the end of the paid period, then FREE. Mercado Pago: the
    preapproval is cancelled and the plan is FREE at once. A PIX/boleto month already ends by
    itself. 503 when the subscription service cannot be reached and 504 when it does not
    answer in time: the provider has the cancellation then (`details.provider_canceled`), and
    the plan shows it shortly."""
    state = await stored_subscription(session, user)
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
    handle = temporal.get_workflow_handle(subscription_workflow_id(user.id))
    request = CancelRequest(
        provider=state.provider,
        subscription_id=state.subscription_id,
        at_period_end=state.provider is PaymentProvider.STRIPE,
    )
    try:
        async with asyncio.timeout(CANCEL_UPDATE_TIMEOUT):
            updated = await handle.execute_update(SubscriptionWorkflow.cancel, request)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == "SubscriptionBusy":
            raise _cancel_pending(504) from None
        raise ApiError(
            409, "no_paid_subscription", "There is no paid subscription to cancel."
        ) from None
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        # Our time limit (the client turns its cancellation into the latter) or Temporal's.
        raise _cancel_pending(504) from None
    except TEMPORAL_CALL_ERRORS as exc:
        # The provider has it; its webhook will bring the same change.
        log.error("cancel update failed; the provider's event will follow", error=str(exc))
        raise _cancel_pending(503) from None
    return await _public(session, updated)


def _cancel_pending(status: int) -> ApiError:
    return ApiError(
        status,
        "subscription_update_pending" if status == 504 else "service_unavailable",
        "The provider accepted the cancellation; your plan will show it shortly.",
        {"provider_canceled": True},
    )
