"""Authenticated reads against a bare FastAPI endpoint, in the same run, under wrk.

    .venv/bin/python -m benchmarks.api [--database sqlite|postgres|both] [--duration 20]

For each database: a fresh migrated database (SQLite file, or a PostgreSQL database of its
own on BENCH_POSTGRES_URL, default the local server, dropped at the end), one user with three
trading contexts, and two servers started the same way (`uvicorn`, one process, no server
banner, the API logging each request as JSON as in production, to /dev/null):

- the API (`crypteras api`) serving `GET /api/contexts` with a bearer token: JWT check, user
  load, context query, middleware, request log line;
- a bare FastAPI app answering a constant JSON list of the same size.

wrk (`apt-get install wrk`) drives each with 100 connections on 2 threads for `--duration`
seconds after a short warm-up. The goal (issue 9): the authenticated read serves at least half
the bare endpoint's requests/s, and its p95 is within 2x the bare p95.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
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
from fastapi import FastAPI
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.db.engine import create_engine, session_factory
from adapters.db.migrate import upgrade
from adapters.db.models import TradingContext, User
from adapters.settings import Settings
from api.security import create_access_token

JWT_SECRET = "benchmark-jwt-secret-" + "x" * 32
CONNECTIONS = 100

# The bare app: what FastAPI itself costs for a small JSON answer, with no middleware.
bare = FastAPI()
_BARE_BODY = [
    {"id": str(uuid.UUID(int=i)), "name": "BTC-BRL-Paper", "status": "active"} for i in range(3)
]


@bare.get("/bare")
async def bare_endpoint() -> list[dict[str, str]]:
    return _BARE_BODY


_WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %f, "errors": %d, "non_2xx": %d, '
    .. '"p50_ms": %f, "p95_ms": %f, "p99_ms": %f}\\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout,
    e.status, latency:percentile(50) / 1e3, latency:percentile(95) / 1e3,
    latency:percentile(99) / 1e3))
end
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Result:
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    failed: int
    cpu_us: float  # the server process's CPU time per request (noisy neighbours barely move it)


def wrk(url: str, seconds: int, headers: dict[str, str], script: Path, pid: int) -> Result:
    server = psutil.Process(pid)
    before = server.cpu_times()
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(script)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    after = server.cpu_times()
    cpu = after.user + after.system - before.user - before.system
    line = next(x for x in output.splitlines() if x.startswith("RESULT "))
    data = json.loads(line.removeprefix("RESULT "))
    return Result(
        rps=data["requests"] / data["seconds"],
        p50_ms=data["p50_ms"],
        p95_ms=data["p95_ms"],
        p99_ms=data["p99_ms"],
        failed=data["errors"] + data["non_2xx"],
        cpu_us=cpu / max(data["requests"], 1) * 1e6,
    )


@contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        return
    server = make_url(
        os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        )
    )
    name = f"crypteras_bench_{secrets.token_hex(4)}"

    async def admin(sql: str) -> None:
        engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def seed(url: str) -> str:
    """One user with three contexts; returns an access token for them."""
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        user = User(email="bench@example.com", name="Bench", password_hash="-")
        session.add(user)
        await session.flush()
        for coin in ("BTC", "ETH", "SOL"):
            session.add(TradingContext(user_id=user.id, coin=coin, fiat="BRL", exchange="paper"))
        await session.commit()
        user_id = user.id
    await engine.dispose()
    settings = Settings(_env_file=None, jwt_secret=JWT_SECRET, access_token_minutes=60)
    return create_access_token(settings, user_id, datetime.now(UTC), uuid.uuid4())


def wait_until_up(url: str, process: subprocess.Popen[bytes], headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"server exited early ({process.returncode})")
        try:
            if httpx.get(url, headers=headers, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    sys.exit(f"server at {url} did not answer 200 within 30 s")


@contextmanager
def serve(command: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def profiling(pid: int, seconds: int, out: Path | None) -> Iterator[None]:
    """py-spy samples the API process while wrk drives it; collapsed stacks land in `out`."""
    if out is None:
        yield
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [spy, "record", "--nonblocking", "--format", "raw", "-r", "200"]
    command += ["-d", str(seconds), "-p", str(pid), "-o", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        process.wait(seconds + 30)


def run(
    kind: str, seconds: int, workdir: Path, script: Path, profile: Path | None = None
) -> tuple[Result, Result]:
    python = sys.executable
    with database(kind, workdir) as url:
        upgrade(url)
        token = asyncio.run(seed(url))
        auth = {"Authorization": f"Bearer {token}"}
        env = {
            **os.environ,
            "ENVIRONMENT": "production",
            "DATABASE_URL": url,
            "JWT_SECRET": JWT_SECRET,
            "CREDENTIALS_KEYS": "1:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU",
            "ACCESS_TOKEN_MINUTES": "60",
            "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",  # never called by these reads
            "LOG_FORMAT": "json",
        }
        api_port, bare_port = free_port(), free_port()
        api_command = [python, "-m", "workers.cli", "api", "--port", str(api_port)]
        bare_command = [
            *(python, "-m", "uvicorn", "benchmarks.api:bare", "--port", str(bare_port)),
            *("--loop", "uvloop", "--http", "httptools"),  # as `crypteras api`
            *("--no-server-header", "--no-access-log", "--log-level", "warning"),
        ]
        api_url = f"http://127.0.0.1:{api_port}/api/contexts"
        bare_url = f"http://127.0.0.1:{bare_port}/bare"
        with serve(api_command, env) as api, serve(bare_command, env) as bare_server:
            wait_until_up(api_url, api, auth)
            wait_until_up(bare_url, bare_server, {})
            assert len(httpx.get(api_url, headers=auth).json()) == 3
            wrk(bare_url, 3, {}, script, bare_server.pid)  # warm-up
            wrk(api_url, 3, auth, script, api.pid)
            bare_result = wrk(bare_url, seconds, {}, script, bare_server.pid)
            out = profile and profile / f"{kind}.txt"
            with profiling(api.pid, seconds, out):
                api_result = wrk(api_url, seconds, auth, script, api.pid)
    return bare_result, api_result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--duration", type=int, default=20, help="seconds per measurement")
    parser.add_argument(
        "--profile",
        type=Path,
        help="folder for py-spy's collapsed stacks of the API under load (<database>.txt)",
    )
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    kinds = ("sqlite", "postgres") if args.database == "both" else (args.database,)
    print("| database | endpoint | req/s | p50 ms | p95 ms | p99 ms | CPU/request | failed |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    met = True
    with tempfile.TemporaryDirectory(prefix="crypteras-bench-") as tmp:
        script = Path(tmp) / "report.lua"
        script.write_text(_WRK_REPORT)
        for kind in kinds:
            bare_result, api_result = run(kind, args.duration, Path(tmp), script, args.profile)
            for name, r in (("bare FastAPI", bare_result), ("GET /api/contexts", api_result)):
                print(
                    f"| {kind} | {name} | {r.rps:,.0f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} "
                    f"| {r.p99_ms:.1f} | {r.cpu_us:.0f} µs | {r.failed} |"
                )
            share = api_result.rps / bare_result.rps
            ratio = api_result.p95_ms / bare_result.p95_ms
            ok = share >= 0.5 and ratio <= 2 and api_result.failed == 0
            met = met and ok
            verdict = "met" if ok else "NOT met"
            print(f"{kind}: {share:.0%} of bare req/s, p95 {ratio:.1f}x bare: {verdict}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
