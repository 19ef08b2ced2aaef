"""Helpers of the end-to-end tests: `crypteras up` on free ports, on this run's database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

CRYPTERAS = [sys.executable, "-m", "workers.cli"]


def stack_ports() -> list[str]:
    return [
        "--api-port",
        str(free_port()),
        "--temporal-port",
        str(free_port()),
        "--ui-port",
        str(free_port()),
        "--worker-metrics-port",
        str(free_port()),
    ]


def port_of(argv: list[str], option: str) -> int:
    return int(argv[argv.index(option) + 1])


@pytest.fixture
def stack_env(database_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The stack runs on this test run's database (PostgreSQL in CI, else SQLite)."""
    # The plain URL form a person would write; the stack picks the async driver itself.
    plain = database_url.replace("postgresql+asyncpg://", "postgresql://")
    env = {**os.environ, "DATABASE_URL": plain, "LOG_FORMAT": "json"}
    env.pop("JWT_SECRET", None)
    yield env


async def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while asyncio.get_running_loop().time() < deadline:
            assert process.poll() is None, f"crypteras up exited with {process.returncode}"
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.25)
    raise AssertionError("the stack did not become healthy")


async def wait_started(log: Path, up: subprocess.Popen[bytes], timeout: float = 90) -> None:
    """Until `up` says it is started (its banner): a child that dies before is a failed start
    (the stack stops), not a crash to restart, and `up` may see the API healthy after we do."""
    deadline = asyncio.get_running_loop().time() + timeout
    while "Crypteras is up." not in log.read_text():
        assert up.poll() is None, f"crypteras up exited with {up.returncode}:\n{log.read_text()}"
        assert asyncio.get_running_loop().time() < deadline, log.read_text()
        await asyncio.sleep(0.25)
