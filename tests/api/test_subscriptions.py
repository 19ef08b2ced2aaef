"""Plans, checkout, webhooks and the subscription workflow, end to end over real HTTP: the API
served by uvicorn, the Stripe and Mercado Pago simulators delivering signed webhooks to it,
the real Temporal dev server (with time skipping for month-long periods) and the database."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.db.models import AuditEvent, PaymentEventRecord, SubscriptionRecord
from tests.conftest import PaymentSims, assert_error, bearer, registration
from tests.payments.conftest_stripe import STRIPE_SECRET
from workflows.subscription import SubscriptionWorkflow, subscription_workflow_id

Json = dict[str, Any]


class Trader:
    """A registered user driving the live API."""

    def __init__(self, http: httpx.AsyncClient, user: Json, tokens: Json) -> None:
        self.http, self.user, self.tokens = http, user, tokens

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.tokens)

    async def subscription(self) -> Json:
        response = await self.http.get("/api/subscriptions/me", headers=self.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def until(self, check: Callable[[Json], bool], timeout: float = 15) -> Json:
        """Poll the live state until `check` holds (webhooks arrive asynchronously)."""
        deadline = time.monotonic() + timeout
        while True:
            state = await self.subscription()
            if check(state):
                return state
            assert time.monotonic() < deadline, f"never reached: {state}"
            await asyncio.sleep(0.05)

    async def checkout(self, **body: Any) -> Json:
        response = await self.http.post(
            "/api/subscriptions/checkout", json=body, headers=self.headers
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def context(self, coin: str, fiat: str, exchange: str = "paper") -> httpx.Response:
        return await self.http.post(
            "/api/contexts",
            json={"coin": coin, "fiat": fiat, "exchange": exchange},
            headers=self.headers,
        )

    async def contexts(self) -> list[Json]:
        return list((await self.http.get("/api/contexts", headers=self.headers)).json())


@pytest.fixture
async def client(live_api: str, db: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_api, timeout=30) as http:
        yield http


@pytest.fixture
def trader(client: httpx.AsyncClient) -> Callable[[], Awaitable[Trader]]:
    async def make() -> Trader:
        body = registration()
        user = (await client.post("/api/auth/register", json=body)).json()
        tokens = (
            await client.post(
                "/api/auth/login", json={"email": body["email"], "password": body["password"]}
            )
        ).json()
        return Trader(client, user, tokens)

    return make


async def stripe_upgrade(trader: Trader, sims: PaymentSims, plan: str = "PRO") -> Json:
    checkout = await trader.checkout(plan=plan, provider="stripe")
    assert checkout["checkout_url"].startswith(sims.stripe.base_url)
    completed = await sims.stripe.complete(checkout["checkout_id"])
    await trader.until(lambda s: s["plan"] == plan)
    return completed


def subscription_id_of(completed: Json) -> str:
    session = completed.get("checkout_session") or completed
    sub = session.get("subscription")
    return str(sub["id"] if isinstance(sub, dict) else sub)


# -- plans -------------------------------------------------------------------------------------


async def test_plans_are_listed_with_exact_prices(client: httpx.AsyncClient) -> None:
    plans = {p["plan"]: p for p in (await client.get("/api/subscriptions/plans")).json()}
    assert (plans["FREE"]["monthly_price_brl"], plans["PRO"]["monthly_price_brl"]) == (
        "0.00",
        "19.90",
    )
    assert plans["MAX"]["monthly_price_brl"] == "97.00"
    assert [plans[p]["max_contexts"] for p in ("FREE", "PRO", "MAX")] == [1, 3, None]
    assert "pdf_export" in plans["MAX"]["features"] and "pdf_export" not in plans["PRO"]["features"]


async def test_new_user_is_free_and_active(trader: Callable[[], Awaitable[Trader]]) -> None:
    me = await (await trader()).subscription()
    assert (me["plan"], me["status"], me["provider"]) == ("FREE", "active", None)
    assert me["limits"]["max_contexts"] == 1 and me["usage"] == {"contexts": 0}


# -- upgrades ----------------------------------------------------------------------------------


# First of the Stripe flows: the other flows move the simulator's clock ahead by whole
# periods, and every period fast-forwarded costs real seconds.
async def test_stripe_cancel_keeps_access_until_period_end_then_pauses_extra_contexts(
    trader: Callable[[], Awaitable[Trader]],
    payment_sims: PaymentSims,
    temporal_env: WorkflowEnvironment,
    db: AsyncSession,
) -> None:
    t = await trader()
    await stripe_upgrade(t, payment_sims)
    for coin, fiat in (("BTC", "BRL"), ("ETH", "BRL"), ("BTC", "USDT")):
        assert (await t.context(coin, fiat)).status_code == 201

    canceled = await t.http.post("/api/subscriptions/cancel", headers=t.headers)
    assert canceled.status_code == 200, canceled.text
    assert (canceled.json()["plan"], canceled.json()["cancel_at_period_end"]) == ("PRO", True)
    assert_error(
        await t.http.post("/api/subscriptions/cancel", headers=t.headers), 409, "already_ending"
    )

    # The paid period passes in the workflow's clock, not ours.
    period_end = datetime.fromisoformat(canceled.json()["current_period_end"])
    handle = temporal_env.client.get_workflow_handle(subscription_workflow_id(t.user["id"]))
    await temporal_env.fast_forward(handle, period_end - datetime.now(UTC) + timedelta(days=1))
    await t.until(lambda s: s["plan"] == "FREE")
    contexts = {c["symbol"]: c for c in await t.contexts()}
    assert contexts["BTC-BRL"]["status"] == "active"  # the oldest keeps running
    assert {contexts[s]["status"] for s in ("ETH-BRL", "BTC-USDT")} == {"paused"}
    assert {contexts[s]["paused_reason"] for s in ("ETH-BRL", "BTC-USDT")} == {"plan_limit"}
    audit = (
        await db.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "subscription_changed")
        )
    ).all()
    assert any(d["to_plan"] == "FREE" and d["reason"] == "period_ended" for d in audit)

    # Upgrading again resumes what the downgrade paused.
    await stripe_upgrade(t, payment_sims)
    await t.until(lambda s: s["plan"] == "PRO")
    deadline = time.monotonic() + 10
    while {c["status"] for c in await t.contexts()} != {"active"}:
        assert time.monotonic() < deadline, await t.contexts()
        await asyncio.sleep(0.05)


async def test_stripe_card_upgrade_allows_more_contexts(
    trader: Callable[[], Awaitable[Trader]], payment_sims: PaymentSims, db: AsyncSession
) -> None:
    t = await trader()
    assert (await t.context("BTC", "BRL")).status_code == 201
    assert_error(await t.context("ETH", "BRL"), 403, "plan_limit_reached")

    await stripe_upgrade(t, payment_sims)
    me = await t.subscription()
    assert me["provider"] == "stripe" and me["current_period_end"] is not None
    assert (await t.context("ETH", "BRL")).status_code == 201
    assert (await t.context("BTC", "USDT")).status_code == 201
    refused = assert_error(await t.context("ETH", "USDT"), 403, "plan_limit_reached")
    assert refused["details"] == {"plan": "PRO", "limit": 3, "current": 3}

    record = await db.scalar(select(SubscriptionRecord))  # the projection caught up
    assert record is not None and record.plan == "PRO"


async def test_mercadopago_pix_upgrade_buys_one_month(
    trader: Callable[[], Awaitable[Trader]], payment_sims: PaymentSims
) -> None:
    t = await trader()
    checkout = await t.checkout(plan="PRO", provider="mercadopago", method="pix")
    async with httpx.AsyncClient(base_url=payment_sims.mercadopago.url) as sim:
        paid = await sim.post(
            f"/_sim/preferences/{checkout['checkout_id']}/pay", json={"method": "pix"}
        )
        assert paid.status_code == 200, paid.text
    me = await t.until(lambda s: s["plan"] == "PRO")
    assert me["provider"] == "mercadopago"
    assert me["cancel_at_period_end"] is True  # PIX pays one month; nothing renews it
    assert (await t.context("ETH", "BRL")).status_code == 201
    assert (await t.context("LTC", "BTC")).status_code == 201


# -- lifecycle -----------------------------------------------------------------------------------


async def test_renewal_failed_payment_and_recovery(
    trader: Callable[[], Awaitable[Trader]], payment_sims: PaymentSims
) -> None:
    t = await trader()
    sub_id = subscription_id_of(await stripe_upgrade(t, payment_sims))
    first_end = (await t.subscription())["current_period_end"]

    await payment_sims.stripe.action(sub_id, "renew")
    renewed = await t.until(lambda s: s["current_period_end"] != first_end)
    assert renewed["current_period_end"] > first_end and renewed["status"] == "active"

    await payment_sims.stripe.action(sub_id, "fail")
    past_due = await t.until(lambda s: s["status"] == "past_due")
    assert past_due["plan"] == "PRO"  # access stays while Stripe retries
    assert_error(await t.context("ETH", "BRL"), 402, "subscription_inactive")

    alert = await _alert(t, "payment_failed")  # on the dashboard, once
    assert "Pro plan failed" in alert["message"] and alert["bot_id"] is None

    await payment_sims.stripe.action(sub_id, "recover")
    await t.until(lambda s: s["status"] == "active")
    assert (await t.context("ETH", "BRL")).status_code == 201
    alerts = (await t.http.get("/api/dashboard/alerts", headers=t.headers)).json()["alerts"]
    assert [a["kind"] for a in alerts] == ["payment_failed"]


async def _alert(t: Trader, kind: str) -> Json:
    """The caller's newest dashboard alert, once it is of `kind` (written by the workflow's
    activity, after the state the API shows)."""
    deadline = time.monotonic() + 15
    while True:
        response = await t.http.get("/api/dashboard/alerts", headers=t.headers)
        alerts = response.json()["alerts"]
        if alerts and alerts[0]["kind"] == kind:
            return dict(alerts[0])
        assert time.monotonic() < deadline, alerts
        await asyncio.sleep(0.05)


async def test_mercadopago_cancel_is_immediate(
    trader: Callable[[], Awaitable[Trader]], payment_sims: PaymentSims
) -> None:
    t = await trader()
    checkout = await t.checkout(plan="MAX", provider="mercadopago")
    async with httpx.AsyncClient(base_url=payment_sims.mercadopago.url) as sim:
        authorized = await sim.post(f"/_sim/preapproval/{checkout['checkout_id']}/authorize")
        assert authorized.status_code == 200, authorized.text
    await t.until(lambda s: s["plan"] == "MAX")
    for coin in ("BTC", "ETH"):
        assert (await t.context(coin, "BRL")).status_code == 201

    canceled = await t.http.post("/api/subscriptions/cancel", headers=t.headers)
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["plan"] == "FREE"
    statuses = sorted(c["status"] for c in await t.contexts())
    assert statuses == ["active", "paused"]


async def test_upgrade_from_pro_to_max_cancels_the_old_subscription(
    trader: Callable[[], Awaitable[Trader]], payment_sims: PaymentSims
) -> None:
    t = await trader()
    old = subscription_id_of(await stripe_upgrade(t, payment_sims, "PRO"))
    await stripe_upgrade(t, payment_sims, "MAX")
    deadline = time.monotonic() + 10
    while True:
        status = (
            await payment_sims.stripe.http.get(
                f"/v1/subscriptions/{old}",
                headers={"Authorization": "Bearer sk_test_crypteras_suite_0123456789"},
            )
        ).json()["status"]
        if status == "canceled":
            break
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.05)
    assert (await t.subscription())["plan"] == "MAX"


# -- hostile and odd webhooks ----------------------------------------------------------------


def stripe_signed(body: bytes, secret: str = STRIPE_SECRET, at: int | None = None) -> str:
    timestamp = int(time.time()) if at is None else at
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={signature.hexdigest()}"


def stripe_event(type_: str, obj: Json, *, created: int | None = None) -> bytes:
    return json.dumps(
        {
            "id": f"evt_test_{uuid.uuid4().hex[:16]}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": created or int(time.time()),
            "livemode": False,
            "type": type_,
            "data": {"object": obj},
        }
    ).encode()


async def post_stripe(client: httpx.AsyncClient, body: bytes, signature: str) -> httpx.Response:
    return await client.post(
        "/api/webhooks/stripe",
        content=body,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )


async def stored_events(db: AsyncSession, event_id: str | None = None) -> int:
    """Stored payment events: all, or those of one event id (a late delivery from an earlier
    test's simulator may land at any moment)."""
    query = select(func.count()).select_from(PaymentEventRecord)
    if event_id is not None:
        query = query.where(PaymentEventRecord.event_id == event_id)
    return int(await db.scalar(query) or 0)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong_secret", "mismatch"),
        ("stale", "stale"),
        ("missing", "missing"),
        ("tampered", "mismatch"),
    ],
)
async def test_bad_stripe_signatures_are_refused_and_change_nothing(
    client: httpx.AsyncClient, db: AsyncSession, case: str, reason: str
) -> None:
    body = stripe_event("invoice.paid", {"id": "in_x", "object": "invoice"})
    signature = {
        "wrong_secret": stripe_signed(body, "whsec_not_ours"),
        "stale": stripe_signed(body, at=int(time.time()) - 3600),
        "missing": "",
        "tampered": stripe_signed(body),
    }[case]
    sent = body.replace(b"in_x", b"in_y") if case == "tampered" else body
    response = await post_stripe(client, sent, signature)
    error = assert_error(response, 400, "invalid_signature")
    assert error["details"]["reason"] == reason
    assert await stored_events(db, json.loads(sent)["id"]) == 0


async def test_malformed_json_with_a_valid_signature_is_refused(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    body = b'{"id": "evt_1", "type": '
    response = await post_stripe(client, body, stripe_signed(body))
    assert assert_error(response, 400, "invalid_signature")["details"]["reason"] == "malformed"
    assert await stored_events(db, "evt_1") == 0


async def test_unknown_event_type_and_unknown_customer_are_acknowledged_and_ignored(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    unknown_type = stripe_event("customer.tax_id.created", {"id": "txi_1", "object": "tax_id"})
    response = await post_stripe(client, unknown_type, stripe_signed(unknown_type))
    assert response.status_code == 200 and response.json()["outcome"].startswith("ignored")
    stranger = stripe_event(
        "invoice.payment_failed",
        {
            "id": "in_1",
            "object": "invoice",
            "customer": "cus_nobody",
            "parent": {"subscription_details": {"subscription": "sub_nobody", "metadata": {}}},
        },
    )
    response = await post_stripe(client, stranger, stripe_signed(stranger))
    assert response.json() == {"received": True, "outcome": "ignored: unknown customer"}
    assert (await db.scalars(select(PaymentEventRecord.user_id))).all() == [None, None]


async def test_replayed_event_is_acknowledged_once(
    trader: Callable[[], Awaitable[Trader]],
    payment_sims: PaymentSims,
    client: httpx.AsyncClient,
    db: AsyncSession,
) -> None:
    t = await trader()
    sub_id = subscription_id_of(await stripe_upgrade(t, payment_sims))
    events = await payment_sims.stripe.events(type="checkout.session.completed", full="true")
    mine = next(
        e["event"] for e in events if subscription_id_of(e["event"]["data"]["object"]) == sub_id
    )
    before = await stored_events(db)
    redelivered = await payment_sims.stripe.call("POST", f"/events/{mine['id']}/deliver")
    assert redelivered  # the simulator sent it again, signed
    await payment_sims.stripe.call("POST", "/events/settle")
    assert await stored_events(db) == before
    # Our own replay of the same body: acknowledged as a duplicate.
    body = json.dumps(mine).encode()
    response = await post_stripe(client, body, stripe_signed(body))
    assert response.json()["outcome"] == "duplicate"
    assert (await t.subscription())["plan"] == "PRO"


async def test_older_update_after_deletion_never_resurrects(
    trader: Callable[[], Awaitable[Trader]],
    payment_sims: PaymentSims,
    client: httpx.AsyncClient,
    temporal: Client,
) -> None:
    t = await trader()
    sub_id = subscription_id_of(await stripe_upgrade(t, payment_sims))
    subscription = (
        await payment_sims.stripe.http.get(
            f"/v1/subscriptions/{sub_id}",
            headers={"Authorization": "Bearer sk_test_crypteras_suite_0123456789"},
        )
    ).json()
    now = int(time.time())
    deleted = stripe_event(
        "customer.subscription.deleted", {**subscription, "status": "canceled"}, created=now
    )
    assert (await post_stripe(client, deleted, stripe_signed(deleted))).status_code == 200
    await t.until(lambda s: s["plan"] == "FREE")
    older = stripe_event(
        "customer.subscription.updated", {**subscription, "status": "active"}, created=now - 60
    )
    response = await post_stripe(client, older, stripe_signed(older))
    assert response.json()["outcome"] == "signaled"  # delivered; the workflow decides
    handle = temporal.get_workflow_handle_for(
        SubscriptionWorkflow.run, subscription_workflow_id(t.user["id"])
    )
    await handle.query(SubscriptionWorkflow.state)  # the signal is processed before queries
    state = await t.subscription()
    assert (state["plan"], state["provider"]) == ("FREE", None)


# -- contexts ------------------------------------------------------------------------------------


async def test_context_refusals_are_distinct(
    trader: Callable[[], Awaitable[Trader]],
) -> None:
    t = await trader()
    error = assert_error(await t.context("BTC", "BRL", "binance"), 409, "credentials_required")
    assert error["details"] == {"exchange": "binance"}
    assert_error(await t.context("DOGE", "XYZ"), 422, "unknown_market")
    assert (await t.context("BTC", "BRL")).status_code == 201
    assert_error(await t.context("BTC", "BRL"), 403, "plan_limit_reached")


async def test_contexts_are_isolated_per_user_and_can_be_paused(
    trader: Callable[[], Awaitable[Trader]],
) -> None:
    owner, other = await trader(), await trader()
    created = (await owner.context("BTC", "BRL")).json()
    assert created["name"] == "BTC-BRL-Paper"
    assert await other.contexts() == []
    path = f"/api/contexts/{created['id']}"
    assert_error(await other.http.get(path, headers=other.headers), 404, "context_not_found")
    paused = await owner.http.post(f"{path}/pause", headers=owner.headers)
    assert (paused.json()["status"], paused.json()["paused_reason"]) == ("paused", "user")
    resumed = await owner.http.post(f"{path}/resume", headers=owner.headers)
    assert resumed.json()["status"] == "active"
    assert (await owner.http.delete(path, headers=owner.headers)).status_code == 204
    assert await owner.contexts() == []


async def test_checkout_refusals(trader: Callable[[], Awaitable[Trader]]) -> None:
    t = await trader()
    for body, code in (
        ({"plan": "FREE", "provider": "stripe"}, "validation_error"),
        ({"plan": "PRO", "provider": "paypal"}, "validation_error"),
        ({"plan": "PRO", "provider": "stripe", "method": "pix"}, "method_not_supported"),
    ):
        response = await t.http.post("/api/subscriptions/checkout", json=body, headers=t.headers)
        assert_error(response, 422, code)
    assert_error(
        await t.http.post("/api/subscriptions/cancel", headers=t.headers),
        409,
        "no_paid_subscription",
    )


async def test_mercadopago_notification_with_a_bad_signature_is_refused(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    body = json.dumps({"id": 1, "type": "payment", "data": {"id": "123"}}).encode()
    for headers, reason in (
        ({}, "missing"),
        ({"x-signature": f"ts={int(time.time())},v1={'0' * 64}", "x-request-id": "r1"}, "mismatch"),
        ({"x-signature": "garbage"}, "malformed"),
    ):
        response = await client.post(
            "/api/webhooks/mercadopago?data.id=123&type=payment", content=body, headers=headers
        )
        assert assert_error(response, 400, "invalid_signature")["details"]["reason"] == reason
    assert await stored_events(db) == 0


async def test_mercadopago_notification_is_confirmed_through_the_api(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    """A correctly signed notification naming a payment MP does not have is not acted on: the
    API confirmation finds nothing, so it is acknowledged as ignored and signals no one."""
    from tests.payments.conftest_mercadopago import MP_SECRET

    ts, request_id = str(int(time.time())), "req-1"
    manifest = f"id:999999;request-id:{request_id};ts:{ts};"
    v1 = hmac.new(MP_SECRET.encode(), manifest.encode(), hashlib.sha256).hexdigest()
    body = json.dumps({"id": 42, "type": "payment", "data": {"id": "999999"}}).encode()
    response = await client.post(
        "/api/webhooks/mercadopago?data.id=999999&type=payment",
        content=body,
        headers={"x-signature": f"ts={ts},v1={v1}", "x-request-id": request_id},
    )
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "ignored: not a subscription event"
    assert (await db.scalars(select(PaymentEventRecord.user_id))).all() == [None]
