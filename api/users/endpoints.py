"""The user's own account: profile with plan, LGPD export and deletion."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import structlog
from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict
from temporalio.service import RPCError, RPCStatusCode

from adapters.db.repositories import (
    AuditRepository,
    ConsentRepository,
    RefreshTokenRepository,
)
from adapters.temporal import TEMPORAL_CALL_ERRORS
from api.auth.schemas import UserPublic
from api.deps import ClientInfoDep, CurrentUser, SessionDep, TemporalDep, utcnow
from api.errors import ApiError, error_responses
from api.legal.endpoints import ConsentPublic
from api.subscriptions.endpoints import live_subscription
from domain.accounts import AuditAction
from domain.subscriptions import SubscriptionState
from workflows.subscription import (
    CloseAccount,
    SubscriptionWorkflow,
    subscription_workflow_id,
)

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/api/users", tags=["users"], responses=error_responses(401, 422, 500))


class MePublic(UserPublic):
    subscription: SubscriptionState


class SessionExport(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    family_id: uuid.UUID
    status: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    ip: str | None
    user_agent: str | None


class AuditExport(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    action: str
    ip: str | None
    user_agent: str | None
    details: dict[str, Any]
    at: datetime


class UserExport(BaseModel):
    """Everything Crypteras holds about the user (LGPD art. 18): secrets are never included."""

    exported_at: datetime
    profile: UserPublic
    subscription: SubscriptionState | None
    consents: list[ConsentPublic]
    sessions: list[SessionExport]
    security_events: list[AuditExport]


@router.get("/me", response_model=MePublic, responses=error_responses(503))
async def read_me(user: CurrentUser, temporal: TemporalDep) -> MePublic:
    """Profile and the live state of the user's subscription workflow."""
    return MePublic(
        **UserPublic.model_validate(user).model_dump(),
        subscription=await live_subscription(temporal, user.id),
    )


@router.get("/me/export", response_model=UserExport)
async def export_me(
    user: CurrentUser, session: SessionDep, temporal: TemporalDep, client: ClientInfoDep
) -> UserExport:
    """A complete JSON copy of the user's data (LGPD portability)."""
    audit = AuditRepository(session)
    now = utcnow()
    await audit.record(
        AuditAction.DATA_EXPORTED,
        user_id=user.id,
        ip=client.ip,
        user_agent=client.user_agent,
        at=now,
    )
    try:
        subscription: SubscriptionState | None = await live_subscription(temporal, user.id)
    except ApiError:
        subscription = None  # the export must not depend on Temporal being up
    return UserExport(
        exported_at=now,
        profile=UserPublic.model_validate(user),
        subscription=subscription,
        consents=[
            ConsentPublic.model_validate(r)
            for r in await ConsentRepository(session).history(user.id)
        ],
        sessions=[
            SessionExport.model_validate(t)
            for t in await RefreshTokenRepository(session).list_for_user(user.id)
        ],
        security_events=[AuditExport.model_validate(e) for e in await audit.list_for_user(user.id)],
    )


@router.delete("/me", status_code=204, responses=error_responses(503))
async def delete_me(
    user: CurrentUser, session: SessionDep, temporal: TemporalDep, client: ClientInfoDep
) -> Response:
    """Soft delete: login is refused from now on and every session ends; the data is kept for the
    legal retention period. The subscription workflow is closed."""
    now = utcnow()
    user.deleted_at = now
    await RefreshTokenRepository(session).revoke_all(user.id)
    await AuditRepository(session).record(
        AuditAction.ACCOUNT_DELETED,
        user_id=user.id,
        ip=client.ip,
        user_agent=client.user_agent,
        at=now,
    )
    await session.flush()
    handle = temporal.get_workflow_handle(subscription_workflow_id(user.id))
    try:
        await handle.signal(SubscriptionWorkflow.close_account, CloseAccount(reason="user_deleted"))
    except TEMPORAL_CALL_ERRORS as exc:
        if isinstance(exc, RPCError) and exc.status is RPCStatusCode.NOT_FOUND:
            # Already closed by an earlier attempt whose commit failed: nothing left to do.
            return Response(status_code=204)
        log.error("could not close subscription", error=str(exc))
        raise ApiError(
            503, "service_unavailable", "Account deletion is unavailable right now; try again."
        ) from None
    return Response(status_code=204)
