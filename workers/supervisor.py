"""Child processes kept running, as a supervised deployment keeps them: a child that exits is
started again after a backoff, and the supervisor says so on its standard error.

Children live in their own sessions, so a terminal Ctrl-C reaches only the supervisor, which
stops them newest first; on Linux each is also told to die with its parent, so even a SIGKILL
of the supervisor leaves no orphan.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from simulators.serving import LISTENING

STOP_TIMEOUT_SECONDS = 15.0  # more than the worker's shutdown window (workers.worker)
START_TIMEOUT_SECONDS = 60.0
# Restart backoff: 0.5 s after a crash, doubling for each further crash that comes within
# STABLE_SECONDS of its start, at most BACKOFF_MAX_SECONDS.
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
STABLE_SECONDS = 60.0


class StartError(Exception):
    """A child could not start; the message is one line."""


def _die_with_parent() -> None:
    """Runs in the child before exec: ask Linux to SIGTERM it when the supervisor dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def say(message: str) -> None:
    print(f"crypteras: {message}", file=sys.stderr, flush=True)


@dataclass
class Service:
    """One supervised child: how to start it, where its output goes, and its restart record."""

    name: str
    argv: Callable[[], list[str]]  # asked at every start (a simulator keeps its first port)
    log_file: Path | None = None  # None: the child writes to the supervisor's own output
    process: asyncio.subprocess.Process | None = None
    started_at: float = 0.0
    log_offset: int = 0  # the log's size when the current process started
    crashes: int = 0  # in a row, each within STABLE_SECONDS of its start
    restarts: int = 0

    def backoff(self) -> float:
        return float(min(BACKOFF_BASE_SECONDS * 2 ** (self.crashes - 1), BACKOFF_MAX_SECONDS))

    def new_output(self) -> str:
        """What the current process has written to its log so far."""
        if self.log_file is None:
            return ""
        return self.log_file.read_text(errors="replace")[self.log_offset :]

    def failed(self) -> StartError | None:
        """The child's exit as a one-line error, with the last lines it wrote."""
        if self.process is None or self.process.returncode is None:
            return None
        tail = " / ".join(self.new_output().strip().splitlines()[-3:])
        return StartError(
            f"{self.name} exited with code {self.process.returncode}"
            + (f": {tail}" if tail else "")
        )


@dataclass
class Supervisor:
    env: dict[str, str] = field(default_factory=dict)
    services: list[Service] = field(default_factory=list)
    stopping: bool = False

    async def add(self, service: Service) -> Service:
        self.services.append(service)
        await self._spawn(service)
        return service

    async def _spawn(self, service: Service) -> None:
        output = service.log_file.open("ab") if service.log_file else None
        service.log_offset = output.tell() if output else 0
        try:
            service.process = await asyncio.create_subprocess_exec(
                *service.argv(),
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            if output:
                output.close()
        service.started_at = time.monotonic()

    def any_failed(self) -> StartError | None:
        return next(filter(None, (s.failed() for s in self.services)), None)

    async def listening_port(self, service: Service) -> int:
        """The port a simulator bound, from the line it prints once it listens."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if error := service.failed():
                raise error
            if found := LISTENING.search(service.new_output()):
                return int(found.group(1))
            await asyncio.sleep(0.1)
        raise StartError(f"{service.name} did not listen within {START_TIMEOUT_SECONDS:.0f} s")

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: every child that exits is started again after its backoff."""
        watchers = [asyncio.create_task(self._watch(s, stop)) for s in self.services]
        try:
            await stop.wait()
        finally:
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)

    async def _watch(self, service: Service, stop: asyncio.Event) -> None:
        while True:
            assert service.process is not None
            code = await service.process.wait()
            if self.stopping:
                return
            quick = time.monotonic() - service.started_at < STABLE_SECONDS
            service.crashes = service.crashes + 1 if quick else 1
            say(f"{service.name} exited with code {code}; restarting it in {service.backoff():g} s")
            if not await self._restart(service, stop):
                return

    async def _restart(self, service: Service, stop: asyncio.Event) -> bool:
        """Start it again after its backoff; a start that fails (its program gone, no memory
        to fork) is one more crash, retried after a longer backoff. False: `stop` came first."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), service.backoff())
                return False
            try:
                await self._spawn(service)
            except OSError as exc:
                service.crashes += 1
                say(f"{service.name} could not start ({exc}); retrying in {service.backoff():g} s")
                continue
            service.restarts += 1
            assert service.process is not None
            say(f"{service.name} restarted (pid {service.process.pid}, restart {service.restarts})")
            return True

    async def stop(self) -> None:
        """Newest first, each given STOP_TIMEOUT_SECONDS after SIGTERM before a SIGKILL."""
        self.stopping = True
        for service in reversed(self.services):
            process = service.process
            if process is None or process.returncode is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
