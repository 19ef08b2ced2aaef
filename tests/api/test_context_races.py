"""Pause, resume and delete of one trading context racing each other: every answer is a clean
200, 204 or 404, never a 500 (it was `StaleDataError`, 7 in 960 tries)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.models import ContextStatus, PauseReason, TradingContext
from tests.conftest import assert_error, bearer

ROUNDS = 40


async def _context(
    sessions: async_sessionmaker[AsyncSession], user_id: uuid.UUID, status: ContextStatus
) -> uuid.UUID:
    async with sessions() as session:
        context = TradingContext(
            user_id=user_id,
            coin="BTC",
            fiat="BRL",
            exchange="paper",
            status=status,
            paused_reason=PauseReason.USER if status == ContextStatus.PAUSED else None,
        )
        session.add(context)
        await session.commit()
        return context.id


@pytest.mark.parametrize(
    ("action", "start"), [("pause", ContextStatus.ACTIVE), ("resume", ContextStatus.PAUSED)]
)
async def test_a_state_change_racing_a_delete_is_never_a_500(
    api: httpx.AsyncClient,
    login: Callable[..., Any],
    sessions: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    action: str,
    start: ContextStatus,
) -> None:
    _, tokens = await login()
    headers = bearer(tokens)
    user_id = uuid.UUID((await api.get("/api/auth/me", headers=headers)).json()["id"])
    seen: Counter[tuple[int, int]] = Counter()
    for round_ in range(ROUNDS):
        path = f"/api/contexts/{await _context(sessions, user_id, start)}"
        change = api.post(f"{path}/{action}", headers=headers)
        delete = api.delete(path, headers=headers)
        # Both orders of arrival, so each side gets to be the one that loses.
        pair = (change, delete) if round_ % 2 else (delete, change)
        first, second = await asyncio.gather(*pair)
        changed, deleted = (first, second) if round_ % 2 else (second, first)
        assert deleted.status_code == 204, deleted.text
        if changed.status_code != 200:
            assert_error(changed, 404, "context_not_found")
        seen[(changed.status_code, deleted.status_code)] += 1
    left = await db.scalar(select(func.count()).select_from(TradingContext))
    assert left == 0, seen


async def test_two_deletes_racing_answer_204_then_404(
    api: httpx.AsyncClient,
    login: Callable[..., Any],
    sessions: async_sessionmaker[AsyncSession],
    db: AsyncSession,
) -> None:
    _, tokens = await login()
    headers = bearer(tokens)
    user_id = uuid.UUID((await api.get("/api/auth/me", headers=headers)).json()["id"])
    for _ in range(ROUNDS // 2):
        path = f"/api/contexts/{await _context(sessions, user_id, ContextStatus.ACTIVE)}"
        answers = await asyncio.gather(
            api.delete(path, headers=headers), api.delete(path, headers=headers)
        )
        assert sorted(r.status_code for r in answers) == [204, 404], [r.text for r in answers]
