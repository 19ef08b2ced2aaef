"""Rate limits at the API edge: 429 with Retry-After, counted in the database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.models import ThrottleKind
from adapters.db.throttles import Throttles
from api.deps import CurrentUser, SessionDep, SettingsDep, utcnow
from api.errors import ApiError

HOUR = timedelta(hours=1)


def too_many(code: str, message: str, retry_after: int) -> ApiError:
    return ApiError(
        429,
        code,
        message,
        {"retry_after_seconds": retry_after},
        headers={"Retry-After": str(retry_after)},
    )


async def limit_per_hour(
    session: AsyncSession, kind: ThrottleKind, key: str, limit: int, what: str
) -> None:
    """Count one request against `limit` per hour for `key`, committed at once so that a
    request failing later (and rolled back) still counts; refuse with 429 past the limit."""
    verdict = await Throttles(session).hit(kind, key, limit=limit, window=HOUR, now=utcnow())
    await session.commit()
    if not verdict.allowed:
        raise too_many(
            "too_many_requests",
            f"Too many {what}. Try again in {verdict.retry_after} seconds.",
            verdict.retry_after,
        )


async def limit_checkouts(session: SessionDep, settings: SettingsDep, user: CurrentUser) -> None:
    """Each checkout opens a session at the payment provider: a loop must not open thousands."""
    await limit_per_hour(
        session,
        ThrottleKind.CHECKOUT_USER,
        str(user.id),
        settings.checkout_max_per_hour,
        "checkouts",
    )
