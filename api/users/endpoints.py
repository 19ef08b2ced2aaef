"""The user's own account: profile with plan, LGPD export and deletion."""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from fastapi import APIRouter, Response
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.repositories import AuditRepository, RefreshTokenRepository
from adapters.payments.events import ONE_OFF_PREFIX
from adapters.payments.gateways import PaymentGateways
from adapters.payments.models import PaymentProviderError
from adapters.temporal import TEMPORAL_CALL_ERRORS
from api.auth.schemas import UserPublic
from api.deps import ClientInfoDep, CurrentUser, PaymentsDep, SessionDep, TemporalDep, utcnow
from api.errors import ApiError, error_responses
from api.subscriptions.endpoints import SubscriptionSummary, stored_subscription
from api.subscriptions.workflow_calls import WorkflowClosed, start_subscription
from api.users.export import UserExport, build_export
from domain.accounts import AuditAction
from domain.subscriptions import SubscriptionState
from workflows.subscription import CloseAccount, SubscriptionWorkflow

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/api/users", tags=["users"], responses=error_responses(401, 422, 500))


class MePublic(UserPublic):
    subscription: SubscriptionSummary


@router.get("/me", response_model=MePublic)
async def read_me(user: CurrentUser, session: SessionDep) -> MePublic:
    """Profile and subscription, from the database (the projection of the subscription
    workflow): it answers while Temporal or the workers restart."""
    state = await stored_subscription(session, user)
    return MePublic(
        **UserPublic.model_validate(user).model_dump(), subscription=SubscriptionSummary.of(state)
    )


@router.get("/me/export", response_model=UserExport)
async def export_me(user: CurrentUser, session: SessionDep, client: ClientInfoDep) -> UserExport:
    """Everything Crypteras holds about the user, as JSON (LGPD access and portability); the
    schema is `UserExport` (docs/lgpd-export.md). Secrets are never included and exchange keys
    are masked. The export itself is recorded in the audit trail it returns."""
    now = utcnow()
    await AuditRepository(session).record(
        AuditAction.DATA_EXPORTED,
        user_id=user.id,
        ip=client.ip,
        user_agent=client.user_agent,
        at=now,
    )
    return await build_export(session, user, await stored_subscription(session, user), now)


@router.delete("/me", status_code=204, responses=error_responses(502, 503))
async def delete_me(
    user: CurrentUser,
    session: SessionDep,
    temporal: TemporalDep,
    payments: PaymentsDep,
    client: ClientInfoDep,
) -> Response:
    """Soft delete: login is refused from now on and every session ends; the data is kept for the
    legal retention period. A paid subscription is canceled at the provider first, at once and
    with no further charge; when the provider cannot be reached (503) or refuses (502), nothing
    changes. The subscription workflow is closed after the deletion is committed."""
    subscription = await stored_subscription(session, user)
    canceled = await _cancel_paid_subscription(payments, subscription)
    now, user_id = utcnow(), user.id
    user.deleted_at = now
    await RefreshTokenRepository(session).revoke_all(user.id)
    await AuditRepository(session).record(
        AuditAction.ACCOUNT_DELETED,
        user_id=user.id,
        ip=client.ip,
        user_agent=client.user_agent,
        at=now,
        canceled_subscription=canceled,
    )
    # Committed before the workflow hears of it: a failed commit leaves the workflow as it was.
    await session.commit()
    close = CloseAccount(reason="user_deleted", canceled_subscription_id=canceled)
    try:
        await start_subscription(
            temporal, user_id, SubscriptionWorkflow.close_account.__name__, close
        )
    except WorkflowClosed:
        pass  # closed by an earlier attempt
    except TEMPORAL_CALL_ERRORS as exc:
        # The account is deleted and nothing is billed any more; the workflow keeps its
        # state until support closes it from the alert.
        log.error("could not close subscription workflow", error=str(exc))
        await _alert_unclosed(session, user_id, now)
    return Response(status_code=204)


async def _cancel_paid_subscription(
    payments: PaymentGateways, subscription: SubscriptionState
) -> str | None:
    """Cancel the user's paid subscription at the provider now; the id canceled, or None."""
    sub_id, provider = subscription.subscription_id, subscription.provider
    if not subscription.paid or sub_id is None or provider is None:
        return None
    if sub_id.startswith(ONE_OFF_PREFIX):
        return sub_id  # a PIX or boleto month: nothing at the provider charges again
    try:
        await payments.cancel_now(provider, sub_id)
    except PaymentProviderError as exc:
        log.warning("subscription not canceled; deletion refused", error=exc.message)
        if exc.retryable:
            raise ApiError(
                503,
                "payment_provider_unavailable",
                "Your paid subscription could not be canceled at the payment provider right "
                "now, so the account was not deleted. Please try again shortly.",
            ) from None
        raise ApiError(
            502,
            "payment_provider_error",
            "The payment provider refused to cancel your subscription, so the account was not "
            "deleted. Please contact support.",
        ) from None
    return sub_id


async def _alert_unclosed(session: AsyncSession, user_id: uuid.UUID, at: datetime) -> None:
    await AuditRepository(session).record(
        AuditAction.SUBSCRIPTION_ALERT,
        user_id=user_id,
        ip=None,
        user_agent=None,
        at=at,
        kind="close_account_not_delivered",
        message="the subscription workflow was not told the account is deleted",
    )
