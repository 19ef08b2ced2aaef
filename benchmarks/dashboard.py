"""The dashboard's reads at 100 concurrent users, against a bare FastAPI endpoint, under wrk.

    .venv/bin/python -m benchmarks.dashboard [--database sqlite|postgres|both] [--users 200]
        [--orders-per-user 100000] [--duration 10] [--connections 100] [--cache-seconds 60]
        [--reseed] [--profile DIR]

For each database it seeds (benchmarks/dashboard_seed.py) `--users` users on MAX with 50 bots
and `--orders-per-user` orders each over 400 days, with fills, closed trades and alerts, and
keeps the seeded database for the next run (a SQLite file in the temporary folder, a
PostgreSQL database on BENCH_POSTGRES_URL, both named by the sizes; `--reseed` builds it
again). Then it starts, as benchmarks.api does (uvicorn, one process, production mode, JSON
request log to /dev/null), the bare app and the API twice: with the dashboard cache
(DASHBOARD_CACHE_SECONDS=`--cache-seconds`, 60 as in production) and without (0). The
summary, performance (day) and metrics are measured on both; health, orders and alerts,
which the cache never holds, on the second. wrk drives each endpoint with `--connections`
connections for `--duration` seconds, every request with the next user's token (so the cache
is per user, as in production; the bare app gets the same requests). The warm-up is a first
view per user with the cache (so the measurement reads what the cache holds), of a few users
without; after each measurement it waits for the server to finish what wrk left queued.

Goals (issue 13): a cached read's p95 within 2x the bare p95; every uncached read's p95 under
200 ms. It exits 1 unless both hold.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.db.engine import create_engine
from adapters.db.migrate import upgrade
from adapters.settings import Settings
from api.security import create_access_token
from benchmarks.api import JWT_SECRET, Result, free_port, profiling, serve
from benchmarks.dashboard_seed import seed

# (name, path, cached): the cached ones are measured with and without the cache.
ENDPOINTS = (
    ("summary", "/api/dashboard/summary", True),
    ("performance", "/api/dashboard/performance?period=day", True),
    ("metrics", "/api/dashboard/metrics", True),
    ("health", "/api/dashboard/health", False),
    ("orders", "/api/dashboard/orders", False),
    ("alerts", "/api/dashboard/alerts", False),
)
PRIMING_CONCURRENCY = 2  # the machine's cores
UNCACHED_P95_MS = 200.0

# Each wrk thread walks the users from its own place, one user per request.
_WRK_ROTATE = """
local tokens = {%s}
local path = "%s"
local threads = 0
function setup(thread) thread:set("place", threads); threads = threads + 1 end
function init(args) n = place * math.floor(#tokens / 2) end
function request()
  n = n + 1
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. tokens[n %% #tokens + 1]})
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %%d, "rps": %%f, "failed": %%d, '
    .. '"p50_ms": %%f, "p95_ms": %%f, "p99_ms": %%f}\\n', summary.requests,
    summary.requests / (summary.duration / 1e6),
    e.connect + e.read + e.write + e.timeout + e.status, latency:percentile(50) / 1e3,
    latency:percentile(95) / 1e3, latency:percentile(99) / 1e3))
end
"""


@dataclass(frozen=True)
class Row:
    database: str
    endpoint: str
    cache: str  # on, off, or "-" (the endpoint is never cached)
    result: Result

    def met(self, limit: float) -> bool:
        return self.result.p95_ms <= limit and self.result.failed == 0


def wrk(url: str, path: str, tokens: list[str], seconds: int, connections: int, pid: int) -> Result:
    """wrk on `url` + `path` (every request the next user's token); the server's CPU time per
    request from psutil. A 60 s timeout: a slow answer counts in the latencies, not as lost."""
    quoted = ", ".join(f'"{t}"' for t in tokens)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_ROTATE % (quoted, path))
    server = psutil.Process(pid)
    before = server.cpu_times()
    command = [
        "wrk",
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "60s",
    ]
    try:
        output = subprocess.run(
            [*command, "-s", script.name, url], capture_output=True, text=True, check=True
        ).stdout
    finally:
        os.unlink(script.name)
    after = server.cpu_times()
    cpu = after.user + after.system - before.user - before.system
    data = json.loads(next(x for x in output.splitlines() if x.startswith("RESULT "))[7:])
    return Result(cpu_us=cpu / max(data.pop("requests"), 1) * 1e6, **data)


async def _admin(server: str, *statements: str) -> list[object]:
    """Runs statements on the server's maintenance database; the first column of each."""
    engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        found = []
        for sql in statements:
            result = await conn.execute(text(sql))
            found.append(result.scalar() if result.returns_rows else None)
    await engine.dispose()
    return found


def seeded(kind: str, users: int, orders: int, reseed: bool) -> str:
    """The seeded database's URL, seeding it first when it is not there yet (or `reseed`). A
    seed is built under a temporary name and renamed at the end, so a run interrupted mid-seed
    never leaves a database that looks complete."""
    name = f"crypteras_dashboard_{users}u_{orders}o"
    if kind == "sqlite":
        path = Path(tempfile.gettempdir()) / f"{name}.db"
        if path.exists() and not reseed:
            upgrade(f"sqlite+aiosqlite:///{path}")  # migrations added since the seed
            return f"sqlite+aiosqlite:///{path}"
        partial = path.with_suffix(".seeding")
        for old in (path, partial):
            for file in (old, Path(f"{old}-wal"), Path(f"{old}-shm")):
                file.unlink(missing_ok=True)
        _seed(f"sqlite+aiosqlite:///{partial}", users, orders)
        partial.rename(path)
        return f"sqlite+aiosqlite:///{path}"
    server = make_url(
        os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        )
    )
    admin = server.render_as_string(hide_password=False)
    url = server.set(database=name).render_as_string(hide_password=False)
    exists = f"SELECT count(*) FROM pg_database WHERE datname = '{name}'"
    if not reseed and asyncio.run(_admin(admin, exists)) == [1]:
        upgrade(url)
        return url
    drop = 'DROP DATABASE IF EXISTS "{}" WITH (FORCE)'
    asyncio.run(_admin(admin, drop.format(name), drop.format(f"{name}_seeding")))
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}_seeding"'))
    _seed(
        server.set(database=f"{name}_seeding").render_as_string(hide_password=False), users, orders
    )
    asyncio.run(_admin(admin, f'ALTER DATABASE "{name}_seeding" RENAME TO "{name}"'))
    return url


def _seed(url: str, users: int, orders: int) -> None:
    began = time.monotonic()
    upgrade(url)
    times = asyncio.run(seed(url, users, orders, log=lambda line: print(line, flush=True)))
    steps = ", ".join(f"{step} {seconds:.0f} s" for step, seconds in times.items())
    print(f"seeded {users} users x {orders:,} orders in {time.monotonic() - began:.0f} s ({steps})")


async def _tokens(url: str) -> tuple[list[str], str]:
    """An access token per seeded user, and what the database holds (rows, size)."""
    engine = create_engine(url)
    async with engine.connect() as conn:
        ids = (await conn.execute(text("SELECT id FROM users ORDER BY email"))).scalars().all()
        counts = [
            (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in ("bots", "bot_orders", "bot_fills", "bot_trades", "alerts")
        ]
        size = "SELECT pg_database_size(current_database())"
        if engine.dialect.name == "sqlite":
            size = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
        gib = (await conn.execute(text(size))).scalar_one() / 2**30
    await engine.dispose()
    settings = Settings(_env_file=None, jwt_secret=JWT_SECRET, access_token_minutes=60)
    now = datetime.now(UTC)
    tokens = [create_access_token(settings, uuid.UUID(str(i)), now, uuid.uuid4()) for i in ids]
    held = "bots {:,}, orders {:,}, fills {:,}, trades {:,}, alerts {:,}".format(*counts)
    return tokens, f"{len(ids)} users, {held}; {gib:.1f} GiB"


async def _prime(url: str, tokens: list[str]) -> list[float]:
    """One request per user, a few at a time: each computes and caches that user's entry.
    Returns their latencies (s), what a user's first view costs."""
    gate = asyncio.Semaphore(PRIMING_CONCURRENCY)
    latencies: list[float] = []

    async def one(client: httpx.AsyncClient, token: str) -> None:
        async with gate:
            began = time.monotonic()
            response = await client.get(url, headers={"Authorization": f"Bearer {token}"})
            response.raise_for_status()
            latencies.append(time.monotonic() - began)

    async with httpx.AsyncClient(timeout=120) as client:
        await asyncio.gather(*(one(client, token) for token in tokens))
    return latencies


def wait_until_up(url: str, process: subprocess.Popen[bytes], token: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"server exited early ({process.returncode})")
        try:
            auth = {"Authorization": f"Bearer {token}"} if token else {}
            if httpx.get(url, headers=auth, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    sys.exit(f"server at {url} did not answer 200 within 60 s")


@contextmanager
def api_server(url: str, cache_seconds: int, token: str) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "ENVIRONMENT": "production",
        "DATABASE_URL": url,
        "JWT_SECRET": JWT_SECRET,
        "CREDENTIALS_KEYS": "1:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU",
        "ACCESS_TOKEN_MINUTES": "60",
        "DASHBOARD_CACHE_SECONDS": str(cache_seconds),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",  # the dashboard never calls it
        "LOG_FORMAT": "json",
    }
    command = [sys.executable, "-m", "workers.cli", "api", "--port", str(port)]
    with serve(command, env) as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/api/dashboard/alerts", process, token)
        yield base, process.pid
        settle(process.pid)


def settle(pid: int, limit: float = 300) -> None:
    """Waits until the server is idle: wrk stops sending at its deadline, but the requests
    it left queued are still served, and would weigh on the next measurement."""
    server = psutil.Process(pid)
    deadline = time.monotonic() + limit
    while server.cpu_percent(interval=1.0) > 5 and time.monotonic() < deadline:
        pass


def measure(
    kind: str, base: str, pid: int, tokens: list[str], cache: str, args: argparse.Namespace
) -> list[Row]:
    rows = []
    for name, path, cached in ENDPOINTS:
        if cache == "on" and not cached:
            continue  # the same with or without the cache: measured once, without
        # Warm-up: with the cache, every user's entry; without, a few users' first views.
        began = time.monotonic()
        primed = tokens if cache == "on" else tokens[: PRIMING_CONCURRENCY * 2]
        latencies = sorted(asyncio.run(_prime(base + path, primed)))
        spent = time.monotonic() - began
        print(
            f"{kind} {name} cache {cache}: {len(primed)} first views in {spent:.1f} s, p50 "
            f"{statistics.median(latencies) * 1e3:.0f} ms, max {latencies[-1] * 1e3:.0f} ms "
            f"({PRIMING_CONCURRENCY} at a time)",
            flush=True,
        )
        if cache == "on" and spent + args.duration > args.cache_seconds:
            print("  priming took long: entries expire during the measurement")
        out = args.profile and args.profile / f"{kind}-{name}-cache-{cache}.txt"
        with profiling(pid, args.duration, out):
            result = wrk(base, path, tokens, args.duration, args.connections, pid)
        settle(pid)
        rows.append(Row(kind, name, cache if cached else "-", result))
        print(f"  {format_row(rows[-1], None)}", flush=True)
    return rows


def run(kind: str, args: argparse.Namespace) -> list[Row]:
    url = seeded(kind, args.users, args.orders_per_user, args.reseed)
    tokens, held = asyncio.run(_tokens(url))
    print(f"{kind}: {held}", flush=True)
    bare_port = free_port()
    bare_command = [
        *(sys.executable, "-m", "uvicorn", "benchmarks.api:bare", "--port", str(bare_port)),
        *("--loop", "uvloop", "--http", "httptools"),  # as `crypteras api`
        *("--no-server-header", "--no-access-log", "--log-level", "warning"),
    ]
    with serve(bare_command, dict(os.environ)) as bare:
        bare_url = f"http://127.0.0.1:{bare_port}"
        wait_until_up(bare_url + "/bare", bare, "")
        # The same requests as the API's (tokens included), answered without reading them.
        wrk(bare_url, "/bare", tokens, 3, args.connections, bare.pid)
        result = wrk(bare_url, "/bare", tokens, args.duration, args.connections, bare.pid)
    rows = [Row(kind, "bare FastAPI", "bare", result)]
    print(f"  {format_row(rows[0], None)}", flush=True)
    for cache_seconds in (args.cache_seconds, 0):
        with api_server(url, cache_seconds, tokens[0]) as (base, pid):
            rows += measure(kind, base, pid, tokens, "on" if cache_seconds else "off", args)
    return rows


def format_row(row: Row, limit: float | None) -> str:
    r = row.result
    verdict = (
        "-" if limit is None else f"{'met' if row.met(limit) else 'NOT met'} (≤ {limit:,.1f} ms)"
    )
    return (
        f"| {row.database} | {row.endpoint} | {row.cache} | {r.rps:,.1f} | {r.p50_ms:,.1f} ms "
        f"| {r.p95_ms:,.1f} ms | {r.p99_ms:,.1f} ms | {r.cpu_us:,.0f} µs | {r.failed} "
        f"| {verdict} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--orders-per-user", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--cache-seconds", type=int, default=60, help="the cached server's TTL")
    parser.add_argument("--reseed", action="store_true", help="seed again, even if kept")
    parser.add_argument(
        "--profile", type=Path, help="folder for py-spy's collapsed stacks of each measurement"
    )
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    kinds = ("sqlite", "postgres") if args.database == "both" else (args.database,)
    rows = [row for kind in kinds for row in run(kind, args)]
    print("| database | endpoint | cache | req/s | p50 | p95 | p99 | CPU/request | failed | goal |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    met = True
    for row in rows:
        bare = next(x.result for x in rows if x.database == row.database and x.cache == "bare")
        limit = {"bare": None, "on": 2 * bare.p95_ms}.get(row.cache, UNCACHED_P95_MS)
        met = met and (limit is None or row.met(limit))
        print(format_row(row, limit))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
