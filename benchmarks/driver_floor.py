"""The floor under an authenticated read: what one database round trip costs the API process.

    .venv/bin/python -m benchmarks.driver_floor [--calls 20000] [--concurrency 50]

Runs, in this process with uvloop, `--concurrency` tasks issuing the smallest query the API's
hot read makes (one row by primary key) straight through the driver, with no SQLAlchemy and no
HTTP: asyncpg on a pool of 10 connections to the local PostgreSQL (BENCH_POSTGRES_URL), and
aiosqlite on one connection to a file. It reports this process's CPU time per call (user +
system, from `resource`), which is what the call takes away from serving requests on the same
core; wall time is printed too but moves with the machine's load.

Compared with `benchmarks.api`'s bare endpoint (~75 µs of CPU for a whole HTTP request), it
shows how much of the issue 9 goal (half the bare requests/s, so ~150 µs per authenticated
read, all told) a single round trip leaves.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiosqlite
import asyncpg  # type: ignore[import-untyped]
import uvloop

POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
_TABLE = "driver_floor_bench"


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _drive(call: Callable[[], Awaitable[object]], calls: int, concurrency: int) -> str:
    async def worker(count: int) -> None:
        for _ in range(count):
            await call()

    for _ in range(500):  # warm-up: statement caches, pool
        await call()
    cpu, wall = _cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
    done = calls // concurrency * concurrency
    cpu, wall = _cpu_seconds() - cpu, time.perf_counter() - wall
    return f"{cpu / done * 1e6:6.1f} µs CPU/call, {done / wall:8,.0f} calls/s"


async def postgres(calls: int, concurrency: int) -> str:
    pool = await asyncpg.create_pool(POSTGRES_URL, min_size=10, max_size=10)
    table = f"{_TABLE}_{uuid.uuid4().hex[:8]}"
    try:
        await pool.execute(f"CREATE TABLE {table} (id uuid PRIMARY KEY, name text)")
        key = uuid.uuid4()
        await pool.execute(f"INSERT INTO {table} VALUES ($1, 'BTC-BRL')", key)
        query = f"SELECT id, name FROM {table} WHERE id = $1"
        pooled = await _drive(lambda: pool.fetch(query, key), calls, concurrency)
        async with pool.acquire() as connection:  # the driver alone, no pool checkout
            direct = await _drive(lambda: connection.fetch(query, key), calls, 1)
        return f"{pooled}\n  one connection, serial: {direct}"
    finally:
        await pool.execute(f"DROP TABLE IF EXISTS {table}")
        await pool.close()


async def sqlite(calls: int, concurrency: int) -> str:
    with tempfile.TemporaryDirectory() as folder:
        async with aiosqlite.connect(Path(folder) / "floor.db") as db:
            await db.execute(f"CREATE TABLE {_TABLE} (id text PRIMARY KEY, name text)")
            key = str(uuid.uuid4())
            await db.execute(f"INSERT INTO {_TABLE} VALUES (?, 'BTC-BRL')", (key,))
            await db.commit()
            query = f"SELECT id, name FROM {_TABLE} WHERE id = ?"
            return await _drive(lambda: db.execute_fetchall(query, (key,)), calls, concurrency)


async def _main(calls: int, concurrency: int) -> None:
    print(f"asyncpg, pool of 10:      {await postgres(calls, concurrency)}")
    print(f"aiosqlite, one thread:    {await sqlite(calls, concurrency)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    uvloop.run(_main(args.calls, args.concurrency))


if __name__ == "__main__":
    main()
