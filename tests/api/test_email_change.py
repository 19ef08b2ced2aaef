"""A new e-mail is verified before it is the login; credential changes end other sessions
(issue 8, item 10)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.models import MailOutbox, User
from tests.conftest import assert_error, bearer


async def request_change(
    api: httpx.AsyncClient, body: dict[str, Any], tokens: dict[str, Any], email: str
) -> httpx.Response:
    return await api.put(
        "/api/auth/me",
        json={"email": email, "current_password": body["password"]},
        headers=bearer(tokens),
    )


async def mailed_token(db: AsyncSession, to: str) -> str:
    mail = await db.scalar(
        select(MailOutbox).where(MailOutbox.to == to).order_by(MailOutbox.created_at.desc())
    )
    assert mail is not None, f"no mail to {to}"
    match = re.search(r"token=([\w-]+)", mail.body)
    assert match
    return match.group(1)


async def log_in(api: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await api.post("/api/auth/login", json={"email": email, "password": password})


async def test_a_new_email_is_the_login_only_once_verified(
    api: httpx.AsyncClient, login: Callable[..., Any], db: AsyncSession
) -> None:
    body, tokens = await login()
    new = "verified-new@example.com"
    pending = await request_change(api, body, tokens, new)
    assert pending.json()["email"] == body["email"]
    assert pending.json()["pending_email"] == new
    # Not usable before verification; the old address still logs in and is told of it.
    assert_error(await log_in(api, new, body["password"]), 401, "invalid_credentials")
    assert (await log_in(api, body["email"], body["password"])).status_code == 200
    notice = await db.scalar(select(MailOutbox).where(MailOutbox.to == body["email"]))
    assert notice is not None and new in notice.body and "token" not in notice.body

    token = await mailed_token(db, new)
    stored = await db.scalar(select(User.pending_email_token_hash))
    assert stored is not None and token not in stored  # only its hash is kept
    verified = await api.post("/api/auth/verify-email", json={"token": token})
    assert verified.status_code == 200, verified.text
    assert verified.json()["email"] == new and verified.json()["pending_email"] is None
    assert (await log_in(api, new, body["password"])).status_code == 200
    assert_error(await log_in(api, body["email"], body["password"]), 401, "invalid_credentials")
    # Single use.
    again = await api.post("/api/auth/verify-email", json={"token": token})
    assert_error(again, 400, "invalid_verification_token")


async def test_an_expired_or_replaced_token_is_refused(
    api: httpx.AsyncClient, login: Callable[..., Any], db: AsyncSession
) -> None:
    body, tokens = await login()
    await request_change(api, body, tokens, "first@example.com")
    first = await mailed_token(db, "first@example.com")
    await request_change(api, body, tokens, "second@example.com")
    replaced = await api.post("/api/auth/verify-email", json={"token": first})
    assert_error(replaced, 400, "invalid_verification_token")
    second = await mailed_token(db, "second@example.com")
    await db.execute(
        update(User).values(pending_email_expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    await db.commit()
    expired = await api.post("/api/auth/verify-email", json={"token": second})
    assert_error(expired, 400, "invalid_verification_token")


async def test_an_address_taken_before_verification_is_refused(
    api: httpx.AsyncClient,
    login: Callable[..., Any],
    register: Callable[..., Any],
    db: AsyncSession,
) -> None:
    body, tokens = await login()
    await request_change(api, body, tokens, "contested@example.com")
    token = await mailed_token(db, "contested@example.com")
    await register(email="contested@example.com")
    taken = await api.post("/api/auth/verify-email", json={"token": token})
    assert_error(taken, 409, "email_taken")


async def test_an_email_change_ends_the_other_sessions_but_not_the_callers(
    api: httpx.AsyncClient, login: Callable[..., Any]
) -> None:
    body, tokens = await login()
    other = (await log_in(api, body["email"], body["password"])).json()
    assert (await request_change(api, body, tokens, "moved@example.com")).status_code == 200
    ended = await api.post("/api/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert_error(ended, 401, "refresh_token_reused")
    kept = await api.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert kept.status_code == 200, kept.text


async def test_the_verification_token_is_not_logged(
    api: httpx.AsyncClient, login: Callable[..., Any], db: AsyncSession, captured_log: Any
) -> None:
    body, tokens = await login()
    await request_change(api, body, tokens, "logged@example.com")
    token = await mailed_token(db, "logged@example.com")
    text = captured_log.getvalue()
    assert "mail written to the outbox" in text
    assert token not in text
