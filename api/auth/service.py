"""Accounts and sessions: registration, login with throttling, refresh-token rotation."""

from __future__ import annotations

import math
import uuid
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy

from adapters.db.models import ConsentKind, RefreshToken, RefreshTokenStatus, User
from adapters.db.repositories import (
    AuditRepository,
    ConsentRepository,
    LoginFailureRepository,
    RefreshTokenRepository,
    UserRepository,
)
from adapters.settings import Settings
from adapters.temporal import TEMPORAL_CALL_ERRORS
from api.auth.schemas import LoginRequest, RegisterRequest, TokenPair, UpdateMeRequest
from api.deps import ClientInfo, utcnow
from api.errors import ApiError
from api.legal.documents import CURRENT_VERSION
from api.security import (
    create_access_token,
    hash_password,
    new_refresh_token,
    refresh_token_hash,
    verify_password,
)
from domain.accounts import AuditAction, normalise_email, password_problems
from domain.subscriptions import SubscriptionState
from workflows import TaskQueue
from workflows.subscription import (
    SubscriptionInput,
    SubscriptionWorkflow,
    subscription_workflow_id,
)

log = structlog.get_logger(__name__)


def invalid_credentials() -> ApiError:
    # A new exception per raise: a shared instance would carry one request's traceback into
    # the next.
    return ApiError(401, "invalid_credentials", "E-mail or password is incorrect.")


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
        self.failures = LoginFailureRepository(session)

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
        if problems := password_problems(request.password, email=request.email, name=request.name):
            raise weak_password(problems)
        if await self.users.get_by_email(request.email) is not None:
            raise ApiError(409, "email_taken", "An account with this e-mail already exists.")

        now = utcnow()
        user = await self.users.add(
            User(
                email=request.email,
                name=request.name,
                password_hash=hash_password(request.password),
                created_at=now,
                updated_at=now,
            )
        )
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
        # The user row is flushed but not committed: if Temporal refuses, the whole
        # registration rolls back, so no account exists without its subscription workflow.
        handle = await self._start_subscription(user.id)
        structlog.contextvars.bind_contextvars(user_id=str(user.id), workflow_id=handle.id)
        log.info("user registered")
        return user, handle.id

    async def _start_subscription(
        self, user_id: uuid.UUID
    ) -> WorkflowHandle[SubscriptionWorkflow, SubscriptionState]:
        try:
            return await self.temporal.start_workflow(
                SubscriptionWorkflow.run,
                SubscriptionInput(user_id=user_id),
                id=subscription_workflow_id(user_id),
                task_queue=TaskQueue.ACCOUNTS,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        except TEMPORAL_CALL_ERRORS as exc:
            log.error("temporal unavailable at registration", error=str(exc))
            raise ApiError(
                503,
                "service_unavailable",
                "Registration is temporarily unavailable. Please try again shortly.",
            ) from None

    # -- login and sessions ---------------------------------------------------------------------

    async def login(self, request: LoginRequest) -> TokenPair:
        email = normalise_email(request.email)
        now = utcnow()
        await self._refuse_when_throttled(email, now)
        user = await self.users.get_by_email(email)
        # Unknown, deleted and wrong-password logins look alike, in answer and in time.
        known = user if user is not None and user.deleted_at is None else None
        password_ok = verify_password(known.password_hash if known else None, request.password)
        if known is None or not password_ok:
            await self.failures.record(email, self.client.ip, now)
            await self._audit(AuditAction.LOGIN_FAILED, user.id if user else None, email=email)
            # Commit the failure even though the request fails: the limit must count it.
            await self.session.commit()
            raise invalid_credentials()
        await self.failures.clear_account(email)
        await self._audit(AuditAction.LOGIN_SUCCEEDED, known.id)
        return await self._issue(known.id, family_id=uuid.uuid4(), now=now)

    async def _refuse_when_throttled(self, email: str, now: datetime) -> None:
        limit = self.settings.login_max_failures
        window = self.settings.login_window
        retry_after = 0.0
        for key in ({"email": email}, {"ip": self.client.ip}):
            recent = await self.failures.recent(since=now - window, limit=limit, **key)
            if len(recent) >= limit:
                # When the oldest of the last `limit` failures leaves the window, one try opens.
                retry_after = max(retry_after, (recent[-1] + window - now).total_seconds())
        if retry_after > 0:
            await self._audit(AuditAction.LOGIN_THROTTLED, None, email=email)
            await self.session.commit()
            seconds = math.ceil(retry_after)
            raise ApiError(
                429,
                "too_many_login_attempts",
                "Too many failed logins. Try again later.",
                {"retry_after_seconds": seconds},
                headers={"Retry-After": str(seconds)},
            )

    async def _issue(self, user_id: uuid.UUID, *, family_id: uuid.UUID, now: datetime) -> TokenPair:
        token = new_refresh_token()
        await self.tokens.add(
            RefreshToken(
                user_id=user_id,
                family_id=family_id,
                token_hash=refresh_token_hash(token),
                status=RefreshTokenStatus.ACTIVE,
                created_at=now,
                expires_at=now + self.settings.refresh_token_ttl,
                ip=self.client.ip,
                user_agent=self.client.user_agent,
            )
        )
        return TokenPair(
            access_token=create_access_token(self.settings, user_id, now),
            refresh_token=token,
            expires_in=int(self.settings.access_token_ttl.total_seconds()),
        )

    async def refresh(self, refresh_token: str) -> TokenPair:
        now = utcnow()
        stored = await self.tokens.get_by_hash(refresh_token_hash(refresh_token))
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
        stored = await self.tokens.get_by_hash(refresh_token_hash(refresh_token))
        if stored is None:
            raise ApiError(401, "invalid_refresh_token", "The refresh token is not valid.")
        await self.tokens.revoke_family(stored.family_id)
        await self._audit(AuditAction.LOGOUT, stored.user_id, family_id=str(stored.family_id))

    # -- profile --------------------------------------------------------------------------------

    async def update_me(self, user: User, request: UpdateMeRequest) -> User:
        changes = request.model_dump(exclude_unset=True, exclude={"current_password"})
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            raise ApiError(422, "nothing_to_update", "Send at least one field to change.")
        sensitive = {"email", "new_password"} & changes.keys()
        if sensitive and not verify_password(user.password_hash, request.current_password or ""):
            raise ApiError(
                403,
                "current_password_required",
                "Changing the e-mail or the password needs the current password.",
                {"fields": sorted(sensitive)},
            )
        if "email" in changes and changes["email"] != user.email:
            if await self.users.get_by_email(changes["email"]) is not None:
                raise ApiError(409, "email_taken", "An account with this e-mail already exists.")
            user.email = changes["email"]
        if "name" in changes:
            if not changes["name"].strip():
                raise ApiError(422, "validation_error", "The name must not be blank.")
            user.name = changes["name"].strip()
        if "new_password" in changes:
            if problems := password_problems(
                changes["new_password"], email=user.email, name=user.name
            ):
                raise weak_password(problems)
            user.password_hash = hash_password(changes["new_password"])
            # A new password ends every other session.
            await self.tokens.revoke_all(user.id)
            await self._audit(AuditAction.PASSWORD_CHANGED, user.id)
        user.updated_at = utcnow()
        await self._audit(AuditAction.PROFILE_UPDATED, user.id, fields=sorted(changes))
        await self.session.flush()
        return user
