"""Login throttling: a hard limit per IP, growing delays per account (never a lock-out).

Each attempt is claimed before the password is checked, in one atomic statement per counter,
and committed at once: concurrent attempts each see the others' claims. A claim counts as a
failure in advance; a correct password takes it back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.models import ThrottleKind
from adapters.db.throttles import Throttles
from adapters.settings import Settings
from api.ratelimit import too_many
from domain.accounts import AuditAction

AuditThrottled = Callable[[AuditAction, str], Awaitable[None]]


class LoginGuard:
    def __init__(
        self, session: AsyncSession, settings: Settings, ip: str, audit: AuditThrottled
    ) -> None:
        self.session = session
        self.settings = settings
        self.ip = ip
        self.audit = audit
        self.throttles = Throttles(session)

    async def claim(self, email: str, now: datetime) -> None:
        """Allow one password check for `email` from this IP, or refuse with 429."""
        per_ip = await self.throttles.hit(
            ThrottleKind.LOGIN_IP,
            self.ip,
            limit=self.settings.login_max_failures,
            window=self.settings.login_window,
            now=now,
        )
        verdict = per_ip
        if per_ip.allowed:
            verdict = await self.throttles.backoff(
                ThrottleKind.LOGIN_ACCOUNT,
                email,
                delays=self.settings.login_delays,
                forget_after=self.settings.login_window,
                now=now,
            )
            if not verdict.allowed:  # nothing was tried: this IP keeps its budget
                await self.throttles.refund(ThrottleKind.LOGIN_IP, self.ip)
        if not verdict.allowed:
            await self.audit(AuditAction.LOGIN_THROTTLED, email)
        await self.session.commit()
        if not verdict.allowed:
            raise too_many(
                "too_many_login_attempts",
                "Too many failed logins. Try again later.",
                verdict.retry_after,
            )

    async def succeeded(self, email: str) -> None:
        await self.throttles.clear(ThrottleKind.LOGIN_ACCOUNT, email)
        await self.throttles.refund(ThrottleKind.LOGIN_IP, self.ip)
