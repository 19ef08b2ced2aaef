"""Engines and the session factory for PostgreSQL (asyncpg) and SQLite (aiosqlite).

The API has two pools: the write engine behind its sessions, and a read engine for the Core
reads of hot routes (api/reads.py), in autocommit and without a ping per checkout.
"""

from __future__ import annotations

import contextlib
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

# A pooled connection older than this is replaced at checkout: server-side idle timeouts and
# proxies never get to cut one under us.
_RECYCLE_SECONDS = 1800
# Connections an API process keeps open. Over them a pool opens more for a burst and closes
# each again on return (a new PostgreSQL connection is milliseconds): the write engine may, the
# read engine queues instead, as a read holds its connection for one round trip only.
_WRITE_POOL = {"pool_size": 10, "max_overflow": 20, "pool_recycle": _RECYCLE_SECONDS}
_READ_POOL = {"pool_size": 10, "max_overflow": 0, "pool_recycle": _RECYCLE_SECONDS}
# SQLite reads are short and each aiosqlite connection is a thread: behind one, reads queue in
# order; over several, each waits on the GIL hand-offs between the threads (p95 2x worse at 4,
# benchmarks/README.md).
_SQLITE_READERS = 1
# PostgreSQL compiles a query it estimates as costly with LLVM first: 7-11 ms of the
# dashboard's 32 ms aggregate over 50,000 orders (benchmarks/README.md, "dashboard"), spent on
# every run. Our queries are short and indexed; none gains from it.
_NO_JIT: dict[str, Any] = {"connect_args": {"server_settings": {"jit": "off"}}}


def create_engine(url: str, *, pool_size: int | None = None) -> AsyncEngine:
    """The write engine. On PostgreSQL the API's pool pings each connection at checkout, to
    find one the server dropped (restart, failover) before a request's transaction starts on
    it: a request that failed halfway could not simply be retried.

    `pool_size` (a worker process: its activity slots, bounded) is then every connection the
    pool opens: an activity beyond it waits for one (up to the pool's 30 s timeout) instead of
    opening more, so the database sees at most `pool_size` per worker process. A worker does
    not ping: its activities are retried whole, so a dropped connection costs one attempt
    (and the pool replaces it), where a ping costs three round trips at every checkout (8 %
    of a worker's time at 20,000 bots, benchmarks/README.md)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        if pool_size is None:
            return create_async_engine(url, pool_pre_ping=True, **_WRITE_POOL, **_NO_JIT)
        pool = {**_WRITE_POOL, "pool_size": pool_size, "max_overflow": 0}
        return create_async_engine(url, pool_pre_ping=False, **pool, **_NO_JIT)
    return _sqlite_engine(url)


def create_read_engine(url: str) -> AsyncEngine:
    """The read engine, for statements that need no transaction. PostgreSQL: autocommit (no
    BEGIN and ROLLBACK round trips around a read) and no ping at checkout (a round trip per
    read); a read on a connection the server dropped is retried once instead
    (api/reads.py). SQLite: its own connections in autocommit, `query_only`, with nothing to
    roll back when they return to the pool (each rollback is a hop to the connection's
    thread); WAL lets them read while the write engine writes."""
    if make_url(url).get_backend_name() != "sqlite":
        return create_async_engine(url, isolation_level="AUTOCOMMIT", **_READ_POOL, **_NO_JIT)
    return _sqlite_engine(
        url,
        read_only=True,
        isolation_level="AUTOCOMMIT",
        pool_reset_on_return=None,
        pool_size=_SQLITE_READERS,
        max_overflow=0,
    )


def shared_read_engine(engine: AsyncEngine) -> AsyncEngine:
    """The write engine's pool used for reads, where no read engine of its own was made (an
    app built around a test's session factory): autocommit on PostgreSQL; SQLite's driver
    opens no transaction for a SELECT anyway."""
    if engine.dialect.name == "sqlite":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def _sqlite_engine(url: str, *, read_only: bool = False, **options: Any) -> AsyncEngine:
    database = make_url(url).database
    if database and database != ":memory:":
        _create_private(Path(database))
    engine = create_async_engine(url, connect_args={"timeout": 30}, **options)

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Enforce foreign keys; WAL lets the API and the worker read while one writes.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()
        dbapi_connection.create_function("decimal_total", 1, decimal_total, deterministic=True)

    return engine


def decimal_total(joined: str | None) -> str | None:
    """SQLite's half of `adapters.db.sums.exact_sum`: the exact sum of comma-joined decimal
    texts (None: no row, as SUM gives NULL)."""
    if joined is None:
        return None
    return format(sum((Decimal(value) for value in joined.split(",")), Decimal(0)), "f")


def _create_private(path: Path) -> None:
    """The database holds password hashes and sealed keys: a folder we create is 0700 and a new
    file 0600 (SQLite gives its -wal and -shm files the same mode). Existing ones are left as
    their owner set them."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def dialect_insert(session: AsyncSession, model: type[Any]) -> Any:
    """INSERT into `model`'s table in the session's dialect: PostgreSQL's or SQLite's construct,
    both with the ON CONFLICT clauses the idempotent writes use."""
    postgres = session.get_bind().dialect.name == "postgresql"
    return (postgresql.insert if postgres else sqlite.insert)(model)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
