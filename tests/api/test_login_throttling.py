"""Login throttling: a hard limit per IP that forged headers cannot dodge, growing delays per
account that never lock the owner out, and one atomic check-and-count (issue 8, item 9), also
for `PUT /api/auth/me`'s current password (item 10)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.models import AuditEvent, Throttle, ThrottleKind
from tests.api.conftest import ClientAt
from tests.conftest import assert_error, bearer

WRONG = "Wrong-password-1"
# Delays long enough that a slow test machine never sees one run out by itself.
SLOW = {"login_first_delay_seconds": 60, "login_max_delay_seconds": 600}


def seconds(response: httpx.Response, nominal: int) -> None:
    """A 429 asking to wait `nominal` seconds, less the little time the test took."""
    assert_error(response, 429, "too_many_login_attempts")
    assert nominal - 10 <= int(response.headers["Retry-After"]) <= nominal


async def open_delay(db: AsyncSession, kind: ThrottleKind = ThrottleKind.LOGIN_ACCOUNT) -> None:
    """Let the current delay run out, as time passing would."""
    await db.execute(
        update(Throttle)
        .where(Throttle.kind == kind)
        .values(next_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    await db.commit()


async def attempt(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def test_rotating_forwarded_headers_does_not_dodge_the_ip_limit(
    client_at: ClientAt, register: Callable[..., Any]
) -> None:
    body, _ = await register()
    attacker = client_at("198.51.100.20")
    for n in range(10):
        response = await attacker.post(
            "/api/auth/login",
            json={"email": f"guess{n}@example.com", "password": WRONG},
            headers={"X-Forwarded-For": f"192.0.2.{n}", "CF-Connecting-IP": f"192.0.2.{n}"},
        )
        assert_error(response, 401, "invalid_credentials")
    blocked = await attacker.post(
        "/api/auth/login",
        json={"email": body["email"], "password": body["password"]},
        headers={"X-Forwarded-For": "192.0.2.200", "CF-Connecting-IP": "192.0.2.200"},
    )
    error = assert_error(blocked, 429, "too_many_login_attempts")
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    assert error["details"]["retry_after_seconds"] == int(blocked.headers["Retry-After"])
    # Another address is not affected.
    assert (await attempt(client_at("198.51.100.21"), body["email"], body["password"])).is_success


async def test_the_ip_limit_ends_with_its_window(
    client_at: ClientAt, register: Callable[..., Any], db: AsyncSession
) -> None:
    body, _ = await register()
    client = client_at("198.51.100.22")
    for n in range(10):
        await attempt(client, f"guess{n}@example.com", WRONG)
    assert (await attempt(client, body["email"], body["password"])).status_code == 429
    await db.execute(
        update(Throttle)
        .where(Throttle.kind == ThrottleKind.LOGIN_IP)
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    await db.commit()
    assert (await attempt(client, body["email"], body["password"])).status_code == 200


async def test_concurrent_attempts_are_each_counted(
    client_at: ClientAt, register: Callable[..., Any], db: AsyncSession
) -> None:
    body, _ = await register()
    client = client_at("198.51.100.23")
    responses = await asyncio.gather(*(attempt(client, body["email"], WRONG) for _ in range(100)))
    statuses = Counter(response.status_code for response in responses)
    # Before: each request read the count before any wrote it, and most were checked.
    assert set(statuses) == {401, 429}, statuses
    assert 3 <= statuses[401] <= 10, statuses  # the free failures, never past the IP limit
    failed = await db.scalar(select(func.count()).where(AuditEvent.action == "login_failed"))
    assert failed == statuses[401]


async def test_failures_slow_an_account_down_but_the_owner_gets_in_after_the_delay(
    client_at: ClientAt, register: Callable[..., Any], db: AsyncSession
) -> None:
    body, _ = await register()
    email, password = body["email"], body["password"]
    # Three failures from three addresses: the per-account rule holds on its own.
    for n in range(3):
        wrong = await attempt(client_at(f"192.0.2.{n + 1}", **SLOW), email, WRONG)
        assert wrong.status_code == 401
    owner = client_at("192.0.2.99", **SLOW)
    seconds(await attempt(owner, email, password), 60)
    await open_delay(db)
    assert (await attempt(client_at("192.0.2.4", **SLOW), email, WRONG)).status_code == 401
    seconds(await attempt(owner, email, password), 120)  # doubled
    await open_delay(db)
    assert (await attempt(owner, email, password)).status_code == 200
    # A success starts the count again: the next failure is not delayed.
    assert (await attempt(owner, email, WRONG)).status_code == 401
    assert (await attempt(owner, email, password)).status_code == 200


async def test_the_delay_never_exceeds_its_cap(
    client_at: ClientAt, register: Callable[..., Any], db: AsyncSession
) -> None:
    body, _ = await register()
    for n in range(12):
        wrong = await attempt(client_at(f"192.0.2.{n + 1}", **SLOW), body["email"], WRONG)
        assert wrong.status_code == 401
        await open_delay(db)
    await attempt(client_at("192.0.2.50", **SLOW), body["email"], WRONG)
    # LOGIN_MAX_DELAY_SECONDS, never a lock-out for good.
    seconds(await attempt(client_at("192.0.2.51", **SLOW), body["email"], body["password"]), 600)


async def test_current_password_guesses_are_throttled_like_logins(
    client_at: ClientAt, register: Callable[..., Any]
) -> None:
    body, _ = await register()
    api = client_at("192.0.2.70", **SLOW)
    tokens = (await attempt(api, body["email"], body["password"])).json()
    for _ in range(3):
        guess = await api.put(
            "/api/auth/me",
            json={"new_password": "Another-Strong-77", "current_password": WRONG},
            headers=bearer(tokens),
        )
        assert_error(guess, 403, "current_password_required")
    slowed = await api.put(
        "/api/auth/me",
        json={"new_password": "Another-Strong-77", "current_password": body["password"]},
        headers=bearer(tokens),
    )
    seconds(slowed, 60)
