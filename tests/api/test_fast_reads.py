"""`GET /api/contexts` on the read path (api/reads.py): one Core statement on the API's read
engine, the token's verified claims remembered. What that must keep: the caller's contexts
only, oldest first; a deleted or unknown caller refused at once, although its token was
remembered; and a pooled connection the server dropped costs no request (the read engine does
not ping at checkout)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from adapters.db.engine import create_read_engine
from adapters.db.models import ContextStatus, PauseReason, TradingContext, User
from adapters.settings import Settings
from api.app import create_app
from api.deps import Services
from api.security import create_access_token
from tests.conftest import assert_error, bearer


@pytest.fixture
async def read_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_read_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def reads_api(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    workers: list[Worker],
    db: AsyncSession,
    read_engine: AsyncEngine,
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with a read engine of its own, as `crypteras api` builds it."""
    app = create_app(settings, Services.build(settings, sessions, temporal, read_engine))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 51000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _caller(api: httpx.AsyncClient, login: Callable[..., Any]) -> tuple[uuid.UUID, dict]:
    _, tokens = await login()
    headers = bearer(tokens)
    return uuid.UUID((await api.get("/api/auth/me", headers=headers)).json()["id"]), headers


async def test_the_callers_contexts_only_oldest_first(
    api: httpx.AsyncClient,
    reads_api: httpx.AsyncClient,
    login: Callable[..., Any],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    user_id, headers = await _caller(api, login)
    other_id, _ = await _caller(api, login)
    assert (await reads_api.get("/api/contexts", headers=headers)).json() == []
    start = datetime(2026, 1, 5, 12, tzinfo=UTC)
    async with sessions() as session:
        # Stored newest first, so an unordered read would show it.
        for coin, exchange, age in (
            ("SOL", "paper", 0),
            ("ETH", "binance", 1),
            ("BTC", "paper", 2),
        ):
            paused = coin == "ETH"
            session.add(
                TradingContext(
                    user_id=user_id,
                    coin=coin,
                    fiat="BRL",
                    exchange=exchange,
                    status=ContextStatus.PAUSED if paused else ContextStatus.ACTIVE,
                    paused_reason=PauseReason.USER if paused else None,
                    created_at=start - timedelta(days=age),
                )
            )
        session.add(TradingContext(user_id=other_id, coin="ADA", fiat="BRL", exchange="paper"))
        await session.commit()
    response = await reads_api.get("/api/contexts", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(c["name"], c["symbol"], c["status"], c["paused_reason"]) for c in body] == [
        ("BTC-BRL-Paper", "BTC-BRL", "active", None),
        ("ETH-BRL-Binance", "ETH-BRL", "paused", "user"),
        ("SOL-BRL-Paper", "SOL-BRL", "active", None),
    ]
    assert datetime.fromisoformat(body[0]["created_at"]) == start - timedelta(days=2)
    # The same answer as the write path's model of a context gives, field for field.
    one = await api.get(f"/api/contexts/{body[1]['id']}", headers=headers)
    assert one.json() == body[1]


async def test_a_deleted_caller_is_refused_at_once(
    api: httpx.AsyncClient,
    reads_api: httpx.AsyncClient,
    login: Callable[..., Any],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    user_id, headers = await _caller(api, login)
    assert (await reads_api.get("/api/contexts", headers=headers)).status_code == 200
    async with sessions() as session:
        await session.execute(
            update(User).where(User.id == user_id).values(deleted_at=datetime.now(UTC))
        )
        await session.commit()
    refused = await reads_api.get("/api/contexts", headers=headers)
    assert_error(refused, 401, "invalid_token")
    assert refused.headers["www-authenticate"] == "Bearer"


async def test_a_well_signed_token_for_no_user_is_refused(
    reads_api: httpx.AsyncClient, settings: Settings
) -> None:
    token = create_access_token(settings, uuid.uuid4(), datetime.now(UTC), uuid.uuid4())
    refused = await reads_api.get("/api/contexts", headers={"Authorization": f"Bearer {token}"})
    assert_error(refused, 401, "invalid_token")
    assert_error(await reads_api.get("/api/contexts"), 401, "not_authenticated")
    garbled = {"Authorization": "Bearer not-a-token"}
    assert_error(await reads_api.get("/api/contexts", headers=garbled), 401, "invalid_token")


async def test_a_connection_the_server_dropped_costs_no_request(
    api: httpx.AsyncClient,
    reads_api: httpx.AsyncClient,
    login: Callable[..., Any],
    read_engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    _, headers = await _caller(api, login)
    assert (await reads_api.get("/api/contexts", headers=headers)).status_code == 200
    # The one pooled read connection, idle in the pool, is cut from under it.
    async with read_engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        if read_engine.dialect.name == "postgresql":
            backend = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    assert read_engine.pool.checkedin() == 1  # type: ignore[attr-defined]
    if read_engine.dialect.name == "postgresql":
        async with sessions() as session:
            await session.execute(
                text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": backend}
            )
    else:
        await driver.close()
    response = await reads_api.get("/api/contexts", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == []
