"""The subscription API while Temporal is unreachable, silent or busy: the cancel answers 503 or
504 within its documented bound (25 s, README) in our error shape, and the profile and the LGPD
export read the database projection, so they keep answering. Real parts: the live API, the
Stripe simulator, the Temporal dev server; an outage is a port where nothing listens, a silent
Temporal a socket that accepts connections and never answers, a busy workflow one whose worker's
database does not answer."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from adapters.db.engine import create_engine, session_factory
from adapters.db.models import SubscriptionRecord
from adapters.settings import Settings
from adapters.temporal import connect
from api.app import create_app
from api.deps import Services
from tests.api.test_subscription_money import new_trader
from tests.api.test_subscriptions import Trader, stripe_upgrade
from tests.conftest import PaymentSims, assert_error, bearer, free_port, registration
from tests.workflows.test_subscription import _until
from workers.worker import WorkerDeps, account_activities
from workflows.subscription import (
    ID_CONFLICT_POLICY,
    ID_REUSE_POLICY,
    SubscriptionInput,
    SubscriptionWorkflow,
    subscription_workflow_id,
)

CANCEL_BOUND = 25.0  # README: the cancel answers 504 when Temporal does not answer within 25 s
PENDING_MESSAGE = "The provider accepted the cancellation; your plan will show it shortly."


def assert_cancel_pending(response: httpx.Response, status: int, code: str) -> None:
    error = assert_error(response, status, code)
    assert error["message"] == PENDING_MESSAGE  # ours, no exception text
    assert error["details"] == {"provider_canceled": True}


@pytest.fixture
async def client(live_api: str, db: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_api, timeout=60) as http:
        yield http


@pytest.fixture
def trader(client: httpx.AsyncClient) -> Callable[[], Awaitable[Trader]]:
    return lambda: new_trader(client)


@pytest.fixture
def api_with_temporal_at(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> Callable[[str], Awaitable[httpx.AsyncClient]]:
    """The API with its Temporal client pointed at `address` (connected lazily, as in
    production)."""

    async def build(address: str) -> httpx.AsyncClient:
        changed = settings.model_copy(update={"temporal_address": address})
        temporal = await connect(changed, lazy=True)
        app = create_app(changed, Services.build(changed, sessions, temporal))
        transport = httpx.ASGITransport(app=app)
        return httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60)

    return build


@pytest.fixture
def silent_temporal() -> Iterator[str]:
    """An address whose socket completes TCP connections (the kernel's backlog) and never
    answers a byte."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


async def _cancel(api: httpx.AsyncClient, t: Trader) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await api.post("/api/subscriptions/cancel", headers=t.headers)
    return response, time.monotonic() - started


async def test_cancel_answers_503_while_temporal_is_unreachable(
    trader: Callable[[], Awaitable[Trader]],
    payment_sims: PaymentSims,
    api_with_temporal_at: Callable[[str], Awaitable[httpx.AsyncClient]],
) -> None:
    t = await trader()
    await stripe_upgrade(t, payment_sims)
    async with await api_with_temporal_at(f"127.0.0.1:{free_port()}") as down:
        response, took = await _cancel(down, t)
    assert_cancel_pending(response, 503, "service_unavailable")
    assert took < CANCEL_BOUND


async def test_cancel_answers_504_within_its_bound_when_temporal_never_answers(
    trader: Callable[[], Awaitable[Trader]],
    payment_sims: PaymentSims,
    api_with_temporal_at: Callable[[str], Awaitable[httpx.AsyncClient]],
    silent_temporal: str,
) -> None:
    t = await trader()
    await stripe_upgrade(t, payment_sims)
    async with await api_with_temporal_at(silent_temporal) as silent:
        response, took = await _cancel(silent, t)
    assert_cancel_pending(response, 504, "subscription_update_pending")
    assert took < CANCEL_BOUND + 5  # the bound, plus the provider's call before it


async def _update_accepted(temporal: Client, workflow_id: str) -> bool:
    history = await temporal.get_workflow_handle(workflow_id).fetch_history()
    accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    return any(e.event_type == accepted for e in history.events)


async def test_cancel_answers_504_when_the_workflow_is_busy(
    trader: Callable[[], Awaitable[Trader]],
    payment_sims: PaymentSims,
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    client: httpx.AsyncClient,
) -> None:
    """The workflow cannot commit (its database does not answer): its Update answers "busy"
    after 20 s of workflow time (skipped here), and the API answers 504 at once."""
    temporal = temporal_env.client
    t = await trader()
    await stripe_upgrade(t, payment_sims)
    workflow_id = subscription_workflow_id(t.user["id"])
    healthy = temporal.get_workflow_handle_for(SubscriptionWorkflow.run, workflow_id)
    paid = await healthy.query(SubscriptionWorkflow.state)
    await healthy.terminate("moved to a worker whose database is down")
    dead = create_engine(f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none")
    queue = f"test-accounts-{uuid.uuid4().hex[:8]}"
    deps = WorkerDeps.build(settings, session_factory(dead), temporal)
    async with Worker(
        temporal,
        task_queue=queue,
        workflows=[SubscriptionWorkflow],
        activities=account_activities(deps),
    ):
        busy = await temporal.start_workflow(
            SubscriptionWorkflow.run,
            SubscriptionInput(user_id=paid.user_id, state=paid),
            id=workflow_id,
            task_queue=queue,
            id_reuse_policy=ID_REUSE_POLICY,
            id_conflict_policy=ID_CONFLICT_POLICY,
        )
        request = asyncio.create_task(_cancel(client, t))
        await _until(lambda: _update_accepted(temporal, workflow_id))
        await temporal_env.fast_forward(busy, timedelta(minutes=1))
        response, took = await request
        await busy.terminate("test over")
    await dead.dispose()
    assert_cancel_pending(response, 504, "subscription_update_pending")
    assert took < CANCEL_BOUND


# -- reads that users make often come from the projection ---------------------------------------


async def test_profile_and_export_answer_from_the_projection_while_temporal_is_down(
    api_with_temporal_at: Callable[[str], Awaitable[httpx.AsyncClient]], db: AsyncSession
) -> None:
    async with await api_with_temporal_at(f"127.0.0.1:{free_port()}") as api:
        body = registration()
        created = await api.post("/api/auth/register", json=body)
        assert created.status_code == 201, created.text
        user_id = uuid.UUID(created.json()["id"])
        period_end = datetime.now(UTC) + timedelta(days=30)
        db.add(
            SubscriptionRecord(
                user_id=user_id,
                plan="PRO",
                status="active",
                provider="stripe",
                subscription_id="sub_projected",
                current_period_end=period_end,
                since=datetime.now(UTC),
            )
        )
        await db.commit()
        login = {"email": body["email"], "password": body["password"]}
        headers = bearer((await api.post("/api/auth/login", json=login)).json())
        me = await api.get("/api/users/me", headers=headers)
        assert me.status_code == 200, me.text
        assert (me.json()["subscription"]["plan"], me.json()["subscription"]["provider"]) == (
            "PRO",
            "stripe",
        )
        export = await api.get("/api/users/me/export", headers=headers)
        assert export.status_code == 200, export.text
        assert export.json()["subscription"]["plan"] == "PRO"
