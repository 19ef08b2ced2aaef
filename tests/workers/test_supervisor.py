"""`crypteras up`'s supervisor heals its children: one killed with SIGKILL is started again after
a backoff and the supervisor says so; crashes in a row back off longer; a start that fails is
retried; a stop ends every child and restarts none."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from workers.supervisor import Service, Supervisor

DEADLINE_SECONDS = 30
SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


class Said:
    """What the supervisor printed on its standard error so far."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.text = ""

    def read(self) -> str:
        self.text += self.capsys.readouterr().err
        return self.text


async def until(condition: Callable[[], bool], what: Callable[[], str]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, what()
        await asyncio.sleep(0.05)


class Supervised:
    """A supervisor and its watch loop, started once the test has added its children."""

    def __init__(self) -> None:
        self.supervisor = Supervisor(env={"PATH": "/usr/bin:/bin"})
        self.stop = asyncio.Event()
        self.watching: asyncio.Task[None] | None = None

    async def add(self, name: str, argv: Callable[[], list[str]]) -> Service:
        return await self.supervisor.add(Service(name, argv))

    def watch(self) -> None:
        self.watching = asyncio.create_task(self.supervisor.run(self.stop))

    async def close(self) -> None:
        self.stop.set()
        if self.watching is not None:
            await self.watching
        await self.supervisor.stop()


@pytest.fixture
async def supervised() -> AsyncIterator[Supervised]:
    running = Supervised()
    yield running
    await running.close()


def alive(service: Service) -> bool:
    return service.process is not None and service.process.returncode is None


async def test_a_killed_worker_is_restarted_and_logged(
    supervised: Supervised, capsys: pytest.CaptureFixture[str]
) -> None:
    worker = await supervised.add("worker", lambda: SLEEPER)
    api = await supervised.add("api", lambda: SLEEPER)
    supervised.watch()
    said = Said(capsys)
    assert worker.process is not None and api.process is not None
    first, api_pid = worker.process.pid, api.process.pid

    worker.process.send_signal(signal.SIGKILL)
    await until(lambda: worker.restarts == 1 and alive(worker), said.read)
    assert worker.process.pid != first
    assert "crypteras: worker exited with code -9; restarting it in 0.5 s" in said.read()
    assert f"crypteras: worker restarted (pid {worker.process.pid}, restart 1)" in said.read()
    # The others carry on untouched.
    assert api.process.pid == api_pid and alive(api) and api.restarts == 0

    # Killed again soon after its start: the backoff doubles.
    worker.process.send_signal(signal.SIGKILL)
    await until(lambda: worker.restarts == 2 and alive(worker), said.read)
    assert "crypteras: worker exited with code -9; restarting it in 1 s" in said.read()


async def test_crashes_in_a_row_back_off_longer(
    supervised: Supervised, capsys: pytest.CaptureFixture[str]
) -> None:
    crashing = await supervised.add("worker", lambda: [sys.executable, "-c", "raise SystemExit(3)"])
    supervised.watch()
    said = Said(capsys)
    await until(lambda: crashing.restarts >= 3, said.read)
    delays = [
        line.rsplit(" in ", 1)[1]
        for line in said.read().splitlines()
        if line.startswith("crypteras: worker exited with code 3; restarting it in")
    ]
    assert delays[:3] == ["0.5 s", "1 s", "2 s"]


async def test_a_start_that_fails_is_retried(
    supervised: Supervised,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    program = [SLEEPER]
    worker = await supervised.add("worker", lambda: program[0])
    supervised.watch()
    said = Said(capsys)
    program[0] = [str(tmp_path / "gone")]  # its program was removed (a redeploy midway)
    assert worker.process is not None
    worker.process.send_signal(signal.SIGKILL)
    await until(lambda: "crypteras: worker could not start" in said.read(), said.read)
    assert worker.restarts == 0
    program[0] = SLEEPER  # back
    await until(lambda: worker.restarts == 1 and alive(worker), said.read)
    assert "retrying in 1 s" in said.read()  # the failed start counted as another crash


async def test_a_stop_ends_every_child_and_restarts_none(
    supervised: Supervised, capsys: pytest.CaptureFixture[str]
) -> None:
    services = [await supervised.add(name, lambda: SLEEPER) for name in ("worker", "api")]
    supervised.watch()
    await supervised.close()
    assert all(s.process is not None and s.process.returncode == -signal.SIGTERM for s in services)
    assert all(s.restarts == 0 for s in services)
    assert "restart" not in capsys.readouterr().err
