"""Records a history replayed by test_replay.py, named by the release it belongs to:

    .venv/bin/python -m tests.replay.record 0.2.0

It starts its own dev server (with time skipping), a SQLite database, a Stripe simulator and
workers with the real activities, and runs a full subscription lifecycle: FREE → PRO (Stripe)
→ renewal → failed payment → recovered → MAX (Stripe refuses the old subscription's cancel: an
alert) → cancel at period end → Stripe answers again: the old subscription is canceled at the
retry → the period ends (time skipped) → FREE → PRO again → the account is closed while the
API saw no paid plan: the workflow cancels the new subscription itself. It writes
`histories/subscription_full_lifecycle-v<version>.json` and never replaces or deletes a
history: every release's history keeps replaying against today's code
(docs/workflow-versioning.md).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import TimeSkippingConfig, WorkflowEnvironment
from temporalio.worker import Worker

from adapters.db.engine import create_engine, session_factory
from adapters.db.migrate import upgrade
from adapters.db.models import User
from adapters.settings import Settings
from api.subscriptions.workflow_calls import start_subscription
from domain.plans import Plan
from domain.subscriptions import EventKind, PaymentProvider, SubscriptionEvent, SubscriptionState
from simulators.stripe import SimConfig, ThreadedServer, create_app
from workers.stack import temporal_binary
from workers.worker import WorkerDeps, account_activities
from workflows import TaskQueue
from workflows.subscription import (
    CancelRequest,
    CloseAccount,
    SubscriptionWorkflow,
)

HISTORIES = Path(__file__).parent / "histories"
STRIPE_KEY = "sk_test_record"
REFUSED_KEY = "sk_test_unknown"  # the simulator refuses it: Stripe "refuses" our commands


def history_path(version: str) -> Path:
    return HISTORIES / f"subscription_full_lifecycle-v{version}.json"


@asynccontextmanager
async def worker(
    client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession], key: str
) -> AsyncIterator[WorkerDeps]:
    """The accounts worker, its Stripe calls made with `key`."""
    deps = WorkerDeps.build(
        settings.model_copy(update={"stripe_secret_key": SecretStr(key)}), sessions, client
    )
    async with Worker(
        client,
        task_queue=TaskQueue.ACCOUNTS,
        workflows=[SubscriptionWorkflow],
        activities=account_activities(deps),
    ):
        yield deps


async def paid_subscription(deps: WorkerDeps, stripe_url: str, user_id: uuid.UUID) -> str:
    """A real subscription at the simulator: a checkout, paid."""
    checkout = await deps.payments.stripe.create_checkout(
        str(user_id), "record@example.com", "PRO", "https://a", "https://b"
    )
    async with httpx.AsyncClient(base_url=stripe_url) as sim:
        path = f"/_sim/checkout/sessions/{checkout.checkout_id}/complete"
        session = (await sim.post(path, json={})).raise_for_status().json()["checkout_session"]
    sub = session["subscription"]
    return str(sub["id"] if isinstance(sub, dict) else sub)


async def record(version: str) -> None:
    target = history_path(version)
    if target.exists():
        raise SystemExit(f"{target} exists: a release's history is never replaced")
    folder = Path(tempfile.mkdtemp(prefix="crypteras-record-"))
    database = f"sqlite+aiosqlite:///{folder / 'record.db'}"
    await asyncio.to_thread(upgrade, database)
    stripe = ThreadedServer(create_app(SimConfig(api_keys=(STRIPE_KEY,)))).start()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database,
        stripe_secret_key=STRIPE_KEY,  # type: ignore[arg-type]
        stripe_api_base=stripe.base_url,
    )
    engine = create_engine(database)
    sessions = session_factory(engine)
    user_id = uuid.UUID("00000000-0000-4000-8000-000000000001")
    async with sessions() as session:
        session.add(User(id=user_id, email="record@example.com", name="R", password_hash="x"))
        await session.commit()
    env = await WorkflowEnvironment.start_time_skipping_v2(
        ts_config=TimeSkippingConfig(enabled=False),
        dev_server_existing_path=str(temporal_binary()),
        dev_server_extra_args=[
            "--dynamic-config-value",
            "frontend.WorkflowTimeSkippingEnabled=true",
        ],
        data_converter=pydantic_data_converter,
    )
    good = WorkerDeps.build(settings, sessions, env.client)
    old_pro = await paid_subscription(good, stripe.base_url, user_id)
    async with worker(env.client, settings, sessions, REFUSED_KEY):
        handle = await start_subscription(env.client, user_id)  # as the API starts it
        start = (await handle.query(SubscriptionWorkflow.state)).since

        def event(kind: EventKind, days: int, sub: str, **fields: object) -> SubscriptionEvent:
            return SubscriptionEvent(
                provider=PaymentProvider.STRIPE,
                event_id=f"evt_{kind}_{days}",
                kind=kind,
                occurred_at=start + timedelta(days=days),
                subscription_id=sub,
                customer_id="cus_record",
                **fields,  # type: ignore[arg-type]
            )

        async def applied(count: int) -> SubscriptionState:
            while (
                len((state := await handle.query(SubscriptionWorkflow.state)).recent_event_ids)
                < count
            ):
                await asyncio.sleep(0.05)  # signals are folded in by the workflow's own loop
            return state

        period = start + timedelta(days=30)
        for step in (
            event(EventKind.ACTIVATED, 0, old_pro, plan=Plan.PRO, current_period_end=period),
            event(EventKind.RENEWED, 1, old_pro, current_period_end=period + timedelta(days=30)),
            event(EventKind.PAYMENT_FAILED, 2, old_pro),
            event(EventKind.RENEWED, 3, old_pro),
            # Stripe refuses to cancel the replaced PRO subscription: an alert, retried later.
            event(
                EventKind.ACTIVATED,
                4,
                "sub_record_max",
                plan=Plan.MAX,
                current_period_end=start + timedelta(days=34),
            ),
        ):
            await handle.signal(SubscriptionWorkflow.payment_event, step)
        await applied(5)
        await handle.execute_update(
            SubscriptionWorkflow.cancel,
            CancelRequest(
                provider=PaymentProvider.STRIPE,
                subscription_id="sub_record_max",
                at_period_end=True,
            ),
        )
    async with worker(env.client, settings, sessions, STRIPE_KEY):
        await env.fast_forward(handle, timedelta(days=62))
        state = await handle.query(SubscriptionWorkflow.state)
        assert state.plan is Plan.FREE, state
        assert (await good.payments.stripe.get_subscription(old_pro)).raw_status == "canceled"
        # Paid again a moment before the deletion; the API's projection had not seen it yet.
        new_pro = await paid_subscription(good, stripe.base_url, user_id)
        later = start + timedelta(days=93)
        await handle.signal(
            SubscriptionWorkflow.payment_event,
            event(EventKind.ACTIVATED, 63, new_pro, plan=Plan.PRO, current_period_end=later),
        )
        assert (await applied(6)).plan is Plan.PRO
        await handle.signal(SubscriptionWorkflow.close_account, CloseAccount(reason="record"))
        await handle.result()
        assert (await good.payments.stripe.get_subscription(new_pro)).raw_status == "canceled"
        history = await handle.fetch_history()
    await env.shutdown()
    stripe.stop()
    await engine.dispose()
    HISTORIES.mkdir(exist_ok=True)
    target.write_text(history.to_json())
    print(f"wrote {target}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", help="the release this history belongs to, e.g. 0.2.0")
    asyncio.run(record(parser.parse_args().version))
