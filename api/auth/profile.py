"""The signed-in user's own account: name, e-mail (verified before use) and password."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import structlog
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from adapters.db.models import User
from adapters.db.outbox import Outbox
from api.auth.schemas import UpdateMeRequest
from api.auth.service import AccountService, email_taken, weak_password
from api.deps import utcnow
from api.errors import ApiError
from api.security import (
    check_new_password,
    hash_password,
    new_opaque_token,
    opaque_token_hash,
    verify_password,
)
from domain.accounts import AuditAction

log = structlog.get_logger(__name__)

EMAIL_TOKEN_TTL = timedelta(hours=24)


def invalid_email_token() -> ApiError:
    return ApiError(
        400,
        "invalid_verification_token",
        "This verification link is not valid or has expired. Request the change again.",
    )


class ProfileService(AccountService):
    async def update_me(
        self, user: User, request: UpdateMeRequest, session_id: uuid.UUID | None
    ) -> User:
        """`session_id`: the caller's login, kept when a credential change ends the others."""
        changes = request.model_dump(exclude_unset=True, exclude={"current_password"})
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            raise ApiError(422, "nothing_to_update", "Send at least one field to change.")
        now = utcnow()
        sensitive = {"email", "new_password"} & changes.keys()
        if sensitive:
            await self._check_current_password(user, request.current_password, sensitive, now)
        if "name" in changes:
            if not changes["name"].strip():
                raise ApiError(422, "validation_error", "The name must not be blank.")
            user.name = changes["name"].strip()
        if "new_password" in changes:
            if problems := await check_new_password(
                changes["new_password"], email=user.email, name=user.name
            ):
                raise weak_password(problems)
            user.password_hash = await hash_password(changes["new_password"])
            await self._audit(AuditAction.PASSWORD_CHANGED, user.id)
        if changes.get("email", user.email) != user.email:
            await self._request_email_change(user, changes["email"], now)
        if sensitive:
            # Whoever else holds a session (perhaps the reason for the change) loses it.
            await self.tokens.revoke_all(user.id, keep_family=session_id)
        user.updated_at = now
        await self._audit(AuditAction.PROFILE_UPDATED, user.id, fields=sorted(changes))
        await self.session.flush()
        return user

    async def _check_current_password(
        self, user: User, current: str | None, fields: set[str], now: datetime
    ) -> None:
        # Throttled like a login: the current password is a credential worth guessing.
        await self.guard.claim(user.email, now)
        if not await verify_password(user.password_hash, current or ""):
            raise ApiError(
                403,
                "current_password_required",
                "Changing the e-mail or the password needs the current password.",
                {"fields": sorted(fields)},
            )
        await self.guard.succeeded(user.email)

    async def _request_email_change(self, user: User, email: str, now: datetime) -> None:
        if await self.users.get_by_email(email) is not None:
            raise email_taken()
        token = new_opaque_token()
        # A new request replaces an older one: only the latest link works.
        user.pending_email = email
        user.pending_email_token_hash = opaque_token_hash(token)
        user.pending_email_expires_at = now + EMAIL_TOKEN_TTL
        outbox = Outbox(self.session)
        await outbox.write(
            email,
            "Confirm your new Crypteras e-mail",
            "Confirm this address for your Crypteras account within 24 hours:\n"
            f"{self.settings.public_base_url}/verify-email?token={token}\n"
            f'(API: POST /api/auth/verify-email {{"token": "{token}"}})\n'
            "If you did not ask for this, ignore this mail.",
            now,
        )
        await outbox.write(
            user.email,
            "Your Crypteras e-mail is being changed",
            f"A change of your account's e-mail to {email} was requested. It takes effect "
            "once confirmed from that address. If this was not you, change your password.",
            now,
        )
        await self._audit(AuditAction.EMAIL_CHANGE_REQUESTED, user.id)

    async def verify_email(self, token: str) -> User:
        now = utcnow()
        token_hash = opaque_token_hash(token)
        user = await self.users.get_by_pending_email_token(token_hash)
        if user is None or user.deleted_at is not None or user.pending_email is None:
            raise invalid_email_token()
        if user.pending_email_expires_at is None or user.pending_email_expires_at <= now:
            raise invalid_email_token()
        new_email = user.pending_email
        if await self.users.get_by_email(new_email) is not None:
            raise email_taken()
        try:
            async with self.session.begin_nested():
                # Single use: of two requests with one token, only one finds it still there.
                result = await self.session.execute(
                    update(User)
                    .where(User.id == user.id, User.pending_email_token_hash == token_hash)
                    .values(
                        email=new_email,
                        pending_email=None,
                        pending_email_token_hash=None,
                        pending_email_expires_at=None,
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
        except IntegrityError:  # taken meanwhile by a registration
            raise email_taken() from None
        if not result.rowcount:  # type: ignore[attr-defined]
            raise invalid_email_token()
        await self.session.refresh(user)
        await self._audit(AuditAction.EMAIL_VERIFIED, user.id)
        log.info("e-mail change verified", user_id=str(user.id))
        return user
