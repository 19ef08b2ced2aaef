"""The engines on a real PostgreSQL server: none runs the JIT; when the server drops a
connection, the API's pool pings at checkout and never hands the dead one out; a worker's pool
does not ping, fails the one unit of work that met it (an activity, retried whole) and
replaces it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters.db.engine import create_engine, create_read_engine

SERVER = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
async def admin() -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(SERVER, isolation_level="AUTOCOMMIT")
    yield engine
    await engine.dispose()


async def pooled_backend(engine: AsyncEngine) -> int:
    """The server process behind the pool's connection (back in the pool afterwards)."""
    async with engine.connect() as conn:
        pid = await conn.scalar(text("SELECT pg_backend_pid()"))
    assert isinstance(pid, int)
    return pid


async def drop(admin: AsyncEngine, pid: int) -> None:
    async with admin.connect() as conn:
        assert await conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


async def test_the_api_pool_never_hands_out_a_connection_the_server_dropped(
    admin: AsyncEngine,
) -> None:
    engine = create_engine(SERVER)
    try:
        dropped = await pooled_backend(engine)
        await drop(admin, dropped)
        assert await pooled_backend(engine) != dropped  # the ping found it dead
    finally:
        await engine.dispose()


async def test_a_worker_pool_fails_one_unit_of_work_on_a_dropped_connection_and_replaces_it(
    admin: AsyncEngine,
) -> None:
    engine = create_engine(SERVER, pool_size=2)
    try:
        dropped = await pooled_backend(engine)
        await drop(admin, dropped)
        with pytest.raises(DBAPIError) as failed:  # no ping: the attempt that meets it fails
            await pooled_backend(engine)
        assert failed.value.connection_invalidated
        assert await pooled_backend(engine) != dropped  # the retry gets a new connection
    finally:
        await engine.dispose()


async def test_every_engine_runs_without_the_jit() -> None:
    """The API's, a worker's and the read engine's connections: PostgreSQL's JIT compiled the
    dashboard's aggregates again on every run (benchmarks/README.md, "dashboard")."""
    for engine in (
        create_engine(SERVER),
        create_engine(SERVER, pool_size=1),
        create_read_engine(SERVER),
    ):
        try:
            async with engine.connect() as conn:
                assert await conn.scalar(text("SHOW jit")) == "off"
        finally:
            await engine.dispose()
