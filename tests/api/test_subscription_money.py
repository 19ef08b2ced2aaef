"""Money paths of the subscription (issue 8/9): a deleted account stops paying, reads keep
answering while Temporal is down, and a webhook is stored before the workflow is signaled.
Real parts throughout: the live API, the payment simulators, Temporal and the database; an
outage is a port where nothing listens."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.db.models import PaymentEventRecord, User
from adapters.settings import Settings
from adapters.temporal import connect
from api.app import create_app
from api.deps import Services
from tests.api.test_subscriptions import (
    Trader,
    post_stripe,
    stripe_event,
    stripe_signed,
    stripe_upgrade,
    subscription_id_of,
)
from tests.conftest import PaymentSims, assert_error, bearer, free_port, registration
from tests.payments.conftest_mercadopago import MP_TOKEN
from tests.payments.conftest_stripe import STRIPE_KEY
from workflows.subscription import SubscriptionWorkflow, subscription_workflow_id


@pytest.fixture
async def client(live_api: str, db: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_api, timeout=30) as http:
        yield http


async def new_trader(http: httpx.AsyncClient) -> Trader:
    body = registration()
    created = await http.post("/api/auth/register", json=body)
    assert created.status_code == 201, created.text
    login = {"email": body["email"], "password": body["password"]}
    tokens = (await http.post("/api/auth/login", json=login)).json()
    return Trader(http, created.json(), tokens)


@pytest.fixture
def trader(client: httpx.AsyncClient) -> Callable[[], Awaitable[Trader]]:
    return lambda: new_trader(client)


@pytest.fixture
def other_api(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], temporal: Client
) -> Callable[..., Awaitable[httpx.AsyncClient]]:
    """The same API with some parts pointing at a dead port (an outage)."""

    async def build(*, temporal_down: bool = False, **settings_changes: Any) -> httpx.AsyncClient:
        changed = settings.model_copy(update=settings_changes)
        client = temporal
        if temporal_down:
            dead = changed.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
            client = await connect(dead, lazy=True)
        app = create_app(changed, Services.build(changed, sessions, client))
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    return build


async def stripe_status(sims: PaymentSims, sub_id: str) -> str:
    response = await sims.stripe.http.get(
        f"/v1/subscriptions/{sub_id}", headers={"Authorization": f"Bearer {STRIPE_KEY}"}
    )
    return str(response.json()["status"])


# -- a deleted account stops paying ------------------------------------------------------------


async def test_deleting_a_pro_account_cancels_the_stripe_subscription_at_once(
    trader: Callable[[], Awaitable[Trader]], payment_sims: PaymentSims, temporal: Client
) -> None:
    t = await trader()
    sub_id = subscription_id_of(await stripe_upgrade(t, payment_sims))
    deleted = await t.http.delete("/api/users/me", headers=t.headers)
    assert deleted.status_code == 204, deleted.text
    assert await stripe_status(payment_sims, sub_id) == "canceled"  # not at the period end
    handle = temporal.get_workflow_handle_for(
        SubscriptionWorkflow.run, subscription_workflow_id(t.user["id"])
    )
    closed = await handle.result()
    assert (closed.status.value, closed.plan.value) == ("closed", "FREE")


async def test_deleting_a_max_account_cancels_the_mercadopago_preapproval(
    trader: Callable[[], Awaitable[Trader]], payment_sims: PaymentSims
) -> None:
    t = await trader()
    checkout = await t.checkout(plan="MAX", provider="mercadopago")
    async with httpx.AsyncClient(
        base_url=payment_sims.mercadopago.url,
        headers={"Authorization": f"Bearer {MP_TOKEN}"},
    ) as sim:
        authorized = await sim.post(f"/_sim/preapproval/{checkout['checkout_id']}/authorize")
        assert authorized.status_code == 200, authorized.text
        await t.until(lambda s: s["plan"] == "MAX")
        deleted = await t.http.delete("/api/users/me", headers=t.headers)
        assert deleted.status_code == 204, deleted.text
        preapproval = (await sim.get(f"/preapproval/{checkout['checkout_id']}")).json()
    assert preapproval["status"] == "cancelled"


async def test_deletion_is_refused_and_changes_nothing_while_the_provider_is_down(
    trader: Callable[[], Awaitable[Trader]],
    payment_sims: PaymentSims,
    other_api: Callable[..., Awaitable[httpx.AsyncClient]],
    db: AsyncSession,
) -> None:
    t = await trader()
    sub_id = subscription_id_of(await stripe_upgrade(t, payment_sims))
    async with await other_api(stripe_api_base=f"http://127.0.0.1:{free_port()}") as down:
        refused = await down.delete("/api/users/me", headers=t.headers)
    assert_error(refused, 503, "payment_provider_unavailable")
    user = await db.get(User, uuid.UUID(t.user["id"]))
    assert user is not None and user.deleted_at is None
    assert (await t.subscription())["plan"] == "PRO"  # the session still works
    assert await stripe_status(payment_sims, sub_id) == "active"


async def settled(read: Callable[[], Awaitable[str]], wanted: str, timeout: float = 20) -> None:
    """Poll `read` until it answers `wanted` (webhooks arrive asynchronously)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (seen := await read()) != wanted:
        assert asyncio.get_running_loop().time() < deadline, f"still {seen!r}"
        await asyncio.sleep(0.05)


async def test_a_checkout_paid_after_the_account_was_deleted_is_canceled_at_once(
    trader: Callable[[], Awaitable[Trader]], payment_sims: PaymentSims, db: AsyncSession
) -> None:
    t = await trader()
    checkout = await t.checkout(plan="PRO", provider="stripe")
    deleted = await t.http.delete("/api/users/me", headers=t.headers)
    assert deleted.status_code == 204, deleted.text
    # The checkout page was still open: the payment goes through after the deletion.
    sub_id = subscription_id_of(await payment_sims.stripe.complete(checkout["checkout_id"]))
    await settled(lambda: stripe_status(payment_sims, sub_id), "canceled")

    async def recorded() -> str:
        # The webhook cancels at the provider before its request commits the event's outcome.
        await db.rollback()  # a fresh snapshot each time (SQLite keeps the read's)
        outcomes = set(
            await db.scalars(
                select(PaymentEventRecord.outcome).where(
                    PaymentEventRecord.user_id == uuid.UUID(t.user["id"])
                )
            )
        )
        return "canceled" if "canceled: account closed" in outcomes else str(sorted(outcomes))

    await settled(recorded, "canceled")


async def test_a_preapproval_authorized_after_the_account_was_deleted_is_cancelled(
    trader: Callable[[], Awaitable[Trader]], payment_sims: PaymentSims
) -> None:
    t = await trader()
    checkout = await t.checkout(plan="MAX", provider="mercadopago")
    deleted = await t.http.delete("/api/users/me", headers=t.headers)
    assert deleted.status_code == 204, deleted.text
    async with httpx.AsyncClient(
        base_url=payment_sims.mercadopago.url,
        headers={"Authorization": f"Bearer {MP_TOKEN}"},
    ) as sim:
        authorized = await sim.post(f"/_sim/preapproval/{checkout['checkout_id']}/authorize")
        assert authorized.status_code == 200, authorized.text

        async def status() -> str:
            return str((await sim.get(f"/preapproval/{checkout['checkout_id']}")).json()["status"])

        await settled(status, "cancelled")


# -- reads come from the database ------------------------------------------------------------


async def test_plan_checkout_and_contexts_answer_while_temporal_is_down(
    other_api: Callable[..., Awaitable[httpx.AsyncClient]], db: AsyncSession
) -> None:
    async with await other_api(temporal_down=True) as api:
        body = registration()
        created = await api.post("/api/auth/register", json=body)
        assert created.status_code == 201, created.text  # committed; the workflow starts later
        login = {"email": body["email"], "password": body["password"]}
        headers = bearer((await api.post("/api/auth/login", json=login)).json())
        me = await api.get("/api/subscriptions/me", headers=headers)
        assert me.status_code == 200, me.text
        assert (me.json()["plan"], me.json()["status"]) == ("FREE", "active")
        checkout = await api.post(
            "/api/subscriptions/checkout",
            json={"plan": "PRO", "provider": "stripe"},
            headers=headers,
        )
        assert checkout.status_code == 201, checkout.text
        context = await api.post(
            "/api/contexts",
            json={"coin": "BTC", "fiat": "BRL", "exchange": "paper"},
            headers=headers,
        )
        assert context.status_code == 201, context.text


# -- webhooks: stored and committed before the workflow is signaled ------------------------------


async def test_a_webhook_that_cannot_signal_is_kept_and_signaled_on_redelivery(
    trader: Callable[[], Awaitable[Trader]],
    payment_sims: PaymentSims,
    other_api: Callable[..., Awaitable[httpx.AsyncClient]],
    client: httpx.AsyncClient,
    db: AsyncSession,
) -> None:
    t = await trader()
    sub_id = subscription_id_of(await stripe_upgrade(t, payment_sims))
    invoice = {
        "id": f"in_{uuid.uuid4().hex[:12]}",
        "object": "invoice",
        "customer": None,
        "parent": {
            "subscription_details": {
                "subscription": sub_id,
                "metadata": {"user_id": t.user["id"], "plan": "PRO"},
            }
        },
    }
    # After the simulator's own events: its clock may run ahead of ours (other tests advance it),
    # and an event older than the subscription's last one is ignored as stale.
    created = max(event["created"] for event in await payment_sims.stripe.events()) + 1
    body = stripe_event("invoice.payment_failed", invoice, created=created)
    event_id = json.loads(body)["id"]
    async with await other_api(temporal_down=True) as down:
        refused = await down.post(
            "/api/webhooks/stripe",
            content=body,
            headers={"Stripe-Signature": stripe_signed(body), "Content-Type": "application/json"},
        )
    assert_error(refused, 503, "service_unavailable")
    stored = await db.scalar(
        select(PaymentEventRecord).where(PaymentEventRecord.event_id == event_id)
    )
    assert stored is not None and stored.outcome == "pending"  # committed before the call
    await db.rollback()

    again = await post_stripe(client, body, stripe_signed(body))
    assert again.json()["outcome"] == "signaled", again.text
    await t.until(lambda s: s["status"] == "past_due")
    repeat = await post_stripe(client, body, stripe_signed(body))
    assert repeat.json()["outcome"] == "duplicate"


# -- a lost payment event is repaired from the provider's record ---------------------------------


async def test_a_paid_checkout_whose_events_are_lost_is_found_by_reconciliation(
    trader: Callable[[], Awaitable[Trader]],
    payment_sims: PaymentSims,
    temporal_env: WorkflowEnvironment,
) -> None:
    t = await trader()
    checkout = await t.checkout(plan="PRO", provider="stripe")
    await payment_sims.stripe.call("POST", "/webhooks", {"auto": False})  # events held: lost
    try:
        await payment_sims.stripe.complete(checkout["checkout_id"])
    finally:
        await payment_sims.stripe.call("POST", "/webhooks", {"auto": True})
    assert (await t.subscription())["plan"] == "FREE"
    handle = temporal_env.client.get_workflow_handle(subscription_workflow_id(t.user["id"]))
    await temporal_env.fast_forward(handle, timedelta(hours=2))
    me = await t.until(lambda s: s["plan"] == "PRO")
    assert me["provider"] == "stripe"


async def test_a_paid_mercadopago_card_checkout_whose_webhooks_are_lost_is_found(
    trader: Callable[[], Awaitable[Trader]],
    payment_sims: PaymentSims,
    temporal_env: WorkflowEnvironment,
    client: httpx.AsyncClient,
) -> None:
    """The application's webhook URL is unset at Mercado Pago while the payer subscribes: the
    preapproval's notifications are never sent; the hourly checkout watch finds it."""
    t = await trader()
    checkout = await t.checkout(plan="MAX", provider="mercadopago", method="card")
    async with httpx.AsyncClient(base_url=payment_sims.mercadopago.url) as sim:
        webhook = str(client.base_url.join("/api/webhooks/mercadopago"))
        await sim.put("/_sim/webhook", json={"url": None})  # notifications kept, never sent
        try:
            paid = await sim.post(f"/_sim/preapproval/{checkout['checkout_id']}/authorize")
            assert paid.status_code == 200, paid.text
        finally:
            await sim.put("/_sim/webhook", json={"url": webhook})
    assert (await t.subscription())["plan"] == "FREE"
    handle = temporal_env.client.get_workflow_handle(subscription_workflow_id(t.user["id"]))
    await temporal_env.fast_forward(handle, timedelta(hours=2))
    me = await t.until(lambda s: s["plan"] == "MAX")
    assert me["provider"] == "mercadopago"


async def test_a_paid_pix_checkout_whose_webhook_is_lost_is_found(
    trader: Callable[[], Awaitable[Trader]],
    payment_sims: PaymentSims,
    temporal_env: WorkflowEnvironment,
    other_api: Callable[..., Awaitable[httpx.AsyncClient]],
) -> None:
    """The checkout's notification URL does not answer: Mercado Pago gives up on the payment's
    notification; the hourly checkout watch finds the approved PIX payment (one month)."""
    t = await trader()
    async with await other_api(public_base_url=f"http://127.0.0.1:{free_port()}") as unreachable:
        created = await unreachable.post(
            "/api/subscriptions/checkout",
            json={"plan": "PRO", "provider": "mercadopago", "method": "pix"},
            headers=t.headers,
        )
    assert created.status_code == 201, created.text
    async with httpx.AsyncClient(base_url=payment_sims.mercadopago.url) as sim:
        pay = f"/_sim/preferences/{created.json()['checkout_id']}/pay"
        paid = await sim.post(pay, json={"method": "pix"})
        assert paid.status_code == 200, paid.text
    notifier = payment_sims.mercadopago.account.notifier
    [note] = [n for n in notifier.notifications.values() if n.data_id == str(paid.json()["id"])]
    assert not (await notifier.settled(note.id)).delivered  # every attempt failed: lost
    assert (await t.subscription())["plan"] == "FREE"
    handle = temporal_env.client.get_workflow_handle(subscription_workflow_id(t.user["id"]))
    await temporal_env.fast_forward(handle, timedelta(hours=2))
    me = await t.until(lambda s: s["plan"] == "PRO")
    assert me["provider"] == "mercadopago"
