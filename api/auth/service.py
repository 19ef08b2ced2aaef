"""Accounts and sessions: registration, login with throttling, refresh-token rotation."""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from adapters.db.models import ConsentKind, RefreshToken, RefreshTokenStatus, User
from adapters.db.repositories import (
    AuditRepository,
    ConsentRepository,
    RefreshTokenRepository,
    UserRepository,
)
from adapters.settings import Settings
from adapters.temporal import TEMPORAL_CALL_ERRORS
from api.auth.schemas import LoginRequest, RegisterRequest, TokenPair
from api.auth.throttling import LoginGuard
from api.deps import ClientInfo, utcnow
from api.errors import ApiError
from api.legal.documents import CURRENT_VERSION
from api.security import (
    check_new_password,
    create_access_token,
    hash_password,
    new_opaque_token,
    opaque_token_hash,
    verify_password,
)
from api.subscriptions.workflow_calls import WorkflowClosed, start_subscription
from domain.accounts import AuditAction, normalise_email
from workflows.subscription import subscription_workflow_id

log = structlog.get_logger(__name__)


def invalid_credentials() -> ApiError:
    # A new exception per raise: a shared instance would carry one request's traceback into
    # the next.
    return ApiError(401, "invalid_credentials", "E-mail or password is incorrect.")


def email_taken() -> ApiError:
    return ApiError(409, "email_taken", "An account with this e-mail already exists.")


def weak_password(problems: list[str]) -> ApiError:
    return ApiError(
        422,
        "weak_password",
        "The password " + "; ".join(problems) + ".",
        {"problems": problems},
    )


class AccountService:
    def __init__(
        self, session: AsyncSession, settings: Settings, temporal: Client, client: ClientInfo
    ) -> None:
        self.session = session
        self.settings = settings
        self.temporal = temporal
        self.client = client
        self.users = UserRepository(session)
        self.tokens = RefreshTokenRepository(session)
        self.consents = ConsentRepository(session)
        self.audit = AuditRepository(session)
        self.guard = LoginGuard(session, settings, client.ip, self._audit_throttled)

    async def _audit(
        self, action: AuditAction, user_id: uuid.UUID | None, **details: object
    ) -> None:
        await self.audit.record(
            action,
            user_id=user_id,
            ip=self.client.ip,
            user_agent=self.client.user_agent,
            at=utcnow(),
            **details,
        )

    async def _audit_throttled(self, action: AuditAction, email: str) -> None:
        await self._audit(action, None, email=email)

    # -- registration -------------------------------------------------------------------------

    async def register(self, request: RegisterRequest) -> tuple[User, str]:
        missing = [
            field
            for field, accepted in (
                ("terms_accepted", request.terms_accepted),
                ("privacy_accepted", request.privacy_accepted),
            )
            if not accepted
        ]
        if missing:
            raise ApiError(
                422,
                "consent_required",
                "The terms of use and the privacy policy must be accepted to register.",
                {"fields": missing},
            )
        if problems := await check_new_password(
            request.password, email=request.email, name=request.name
        ):
            raise weak_password(problems)
        if await self.users.get_by_email(request.email) is not None:
            raise email_taken()

        now = utcnow()
        try:
            user = await self.users.add(
                User(
                    email=request.email,
                    name=request.name,
                    password_hash=await hash_password(request.password),
                    created_at=now,
                    updated_at=now,
                )
            )
        except IntegrityError:  # the same e-mail registered by a request running alongside
            raise email_taken() from None
        for kind, granted in (
            (ConsentKind.TERMS, True),
            (ConsentKind.PRIVACY, True),
            (ConsentKind.MARKETING, request.marketing_accepted),
        ):
            await self.consents.record(
                user.id,
                kind,
                granted,
                document_version=CURRENT_VERSION[kind],
                ip=self.client.ip,
                user_agent=self.client.user_agent,
                at=now,
            )
        await self._audit(AuditAction.REGISTERED, user.id)
        # Committed before the workflow starts, so a failed commit leaves no orphan workflow.
        # If Temporal is down the account still exists: its workflow starts (from the
        # projection) with the first signal that needs it, and reads come from the database.
        await self.session.commit()
        workflow_id = subscription_workflow_id(user.id)
        try:
            await start_subscription(self.temporal, user.id)
        except (WorkflowClosed, *TEMPORAL_CALL_ERRORS) as exc:
            log.warning("subscription workflow not started at registration", error=str(exc))
        structlog.contextvars.bind_contextvars(user_id=str(user.id), workflow_id=workflow_id)
        log.info("user registered")
        return user, workflow_id

    # -- login and sessions ---------------------------------------------------------------------

    async def login(self, request: LoginRequest) -> TokenPair:
        email = normalise_email(request.email)
        now = utcnow()
        await self.guard.claim(email, now)
        user = await self.users.get_by_email(email)
        # Unknown, deleted and wrong-password logins look alike, in answer and in time.
        known = user if user is not None and user.deleted_at is None else None
        password_ok = await verify_password(
            known.password_hash if known else None, request.password
        )
        if known is None or not password_ok:
            await self._audit(AuditAction.LOGIN_FAILED, user.id if user else None, email=email)
            await self.session.commit()  # the audit row survives the failed request
            raise invalid_credentials()
        await self.guard.succeeded(email)
        await self._audit(AuditAction.LOGIN_SUCCEEDED, known.id)
        return await self._issue(known.id, family_id=uuid.uuid4(), now=now)

    async def _issue(self, user_id: uuid.UUID, *, family_id: uuid.UUID, now: datetime) -> TokenPair:
        token = new_opaque_token()
        await self.tokens.add(
            RefreshToken(
                user_id=user_id,
                family_id=family_id,
                token_hash=opaque_token_hash(token),
                status=RefreshTokenStatus.ACTIVE,
                created_at=now,
                expires_at=now + self.settings.refresh_token_ttl,
                ip=self.client.ip,
                user_agent=self.client.user_agent,
            )
        )
        return TokenPair(
            access_token=create_access_token(self.settings, user_id, now, family_id),
            refresh_token=token,
            expires_in=int(self.settings.access_token_ttl.total_seconds()),
        )

    async def refresh(self, refresh_token: str) -> TokenPair:
        now = utcnow()
        stored = await self.tokens.get_by_hash(opaque_token_hash(refresh_token))
        invalid = ApiError(401, "invalid_refresh_token", "The refresh token is not valid.")
        if stored is None:
            raise invalid
        if stored.status != RefreshTokenStatus.ACTIVE or not await self.tokens.mark_used(
            stored.id, now
        ):
            # A rotated token presented again: it may have been stolen. End every session of
            # this login, the thief's and the owner's alike.
            await self.tokens.revoke_family(stored.family_id)
            if stored.status != RefreshTokenStatus.REVOKED:
                await self._audit(
                    AuditAction.REFRESH_REUSE, stored.user_id, family_id=str(stored.family_id)
                )
            await self.session.commit()
            raise ApiError(
                401,
                "refresh_token_reused",
                "This refresh token was already used or revoked; its sessions have been ended. "
                "Please log in again.",
            )
        if stored.expires_at <= now:
            raise ApiError(401, "refresh_token_expired", "The refresh token has expired.")
        user = await self.users.get(stored.user_id)
        if user is None or user.deleted_at is not None:
            raise invalid
        await self._audit(AuditAction.TOKEN_REFRESHED, user.id, family_id=str(stored.family_id))
        return await self._issue(user.id, family_id=stored.family_id, now=now)

    async def logout(self, refresh_token: str) -> None:
        stored = await self.tokens.get_by_hash(opaque_token_hash(refresh_token))
        if stored is None:
            raise ApiError(401, "invalid_refresh_token", "The refresh token is not valid.")
        await self.tokens.revoke_family(stored.family_id)
        await self._audit(AuditAction.LOGOUT, stored.user_id, family_id=str(stored.family_id))
