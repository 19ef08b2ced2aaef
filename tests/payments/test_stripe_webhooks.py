"""Signed webhook delivery from the Stripe simulator through its /_sim/ control API: the
events of each lifecycle step reach a real HTTP endpoint, signed so that the official
`stripe.Webhook.construct_event` accepts them; retries, duplicates and chosen orders."""

from __future__ import annotations

import pytest
import stripe

from tests.payments.conftest_stripe import (
    STRIPE_SECRET,
    STRIPE_T0,
    StripeReceiver,
    StripeSimControl,
    stripe_checkout_params,
)

PERIOD_1_END = STRIPE_T0 + 31 * 86400  # Feb 1 2026
PERIOD_2_END = PERIOD_1_END + 28 * 86400  # Mar 1 2026

# stripe-python's HTTPXClient posts the form with httpx's deprecated `data=<str>`: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


async def checkout(sdk: stripe.StripeClient, sim: StripeSimControl) -> str:
    """A paid checkout; the subscription id."""
    session = await sdk.v1.checkout.sessions.create_async(stripe_checkout_params())
    result = await sim.complete(session.id)
    sub_id: str = result["checkout_session"]["subscription"]
    return sub_id


async def test_completed_checkout_delivers_signed_events_the_sdk_accepts(
    stripe_sdk: stripe.StripeClient,
    stripe_sim: StripeSimControl,
    stripe_receiver: StripeReceiver,
) -> None:
    session = await stripe_sdk.v1.checkout.sessions.create_async(stripe_checkout_params())
    result = await stripe_sim.complete(session.id)
    assert [e["type"] for e in result["events"]] == [
        "customer.created",
        "customer.subscription.created",
        "invoice.paid",
        "checkout.session.completed",
    ]

    await stripe_receiver.wait_for(lambda d: len(d) == 4)

    delivered = stripe_receiver.deliveries
    assert [d.event["id"] for d in delivered] == [e["id"] for e in result["events"]]
    for delivery in delivered:
        assert delivery.headers["content-type"].startswith("application/json")
        assert delivery.signature is not None and delivery.signature.startswith("t=")
        event = stripe.Webhook.construct_event(delivery.body, delivery.signature, STRIPE_SECRET)
        assert event.id == delivery.event["id"]
    completed = delivered[3].event
    assert completed["object"] == "event" and completed["livemode"] is False
    assert completed["api_version"] == stripe.api_version
    assert completed["created"] == STRIPE_T0
    assert completed["request"] == {"id": None, "idempotency_key": None}
    session_obj = completed["data"]["object"]
    assert session_obj["id"] == session.id and session_obj["status"] == "complete"
    assert session_obj["client_reference_id"] == "user-1"
    assert session_obj["customer"].startswith("cus_")
    assert session_obj["subscription"].startswith("sub_")
    created = delivered[1].event["data"]["object"]
    assert created["status"] == "active" and created["metadata"]["user_id"] == "user-1"
    assert created["items"]["data"][0]["current_period_end"] == PERIOD_1_END


async def test_renewal_moves_the_period_and_the_clock(
    stripe_sdk: stripe.StripeClient,
    stripe_sim: StripeSimControl,
    stripe_receiver: StripeReceiver,
) -> None:
    sub_id = await checkout(stripe_sdk, stripe_sim)

    result = await stripe_sim.action(sub_id, "renew")

    assert [e["type"] for e in result["events"]] == [
        "invoice.paid",
        "customer.subscription.updated",
    ]
    paid, updated = await stripe_receiver.wait_types(
        "invoice.paid", "customer.subscription.updated"
    )
    assert paid["data"]["object"]["billing_reason"] == "subscription_create"  # the first one
    renewal = stripe_receiver.accepted()[-2].event["data"]["object"]
    assert renewal["billing_reason"] == "subscription_cycle"
    assert renewal["period_start"] == PERIOD_1_END and renewal["status"] == "paid"
    sub = updated["data"]["object"]
    assert sub["items"]["data"][0]["current_period_end"] == PERIOD_2_END
    previous = updated["data"]["previous_attributes"]
    assert previous["items"]["data"][0]["current_period_end"] == PERIOD_1_END
    assert updated["created"] == PERIOD_1_END  # the simulated clock reached the period end
    assert (await stripe_sim.call("GET", "/clock"))["now"] == PERIOD_1_END


async def test_failed_payment_goes_past_due_and_recovers(
    stripe_sdk: stripe.StripeClient,
    stripe_sim: StripeSimControl,
    stripe_receiver: StripeReceiver,
) -> None:
    sub_id = await checkout(stripe_sdk, stripe_sim)

    failed = await stripe_sim.action(sub_id, "fail")

    assert [e["type"] for e in failed["events"]] == [
        "invoice.payment_failed",
        "customer.subscription.updated",
    ]
    assert failed["subscription"]["status"] == "past_due"
    await stripe_receiver.wait_for(lambda d: len(d) == 6)
    updated = stripe_receiver.deliveries[-1].event["data"]
    assert updated["object"]["status"] == "past_due"
    assert updated["previous_attributes"]["status"] == "active"
    invoice = stripe_receiver.deliveries[-2].event["data"]["object"]
    assert invoice["status"] == "open" and invoice["attempt_count"] == 1

    recovered = await stripe_sim.action(sub_id, "recover")

    assert [e["type"] for e in recovered["events"]] == [
        "invoice.paid",
        "customer.subscription.updated",
    ]
    await stripe_receiver.wait_for(lambda d: len(d) == 8)
    updated = stripe_receiver.deliveries[-1].event["data"]
    assert updated["object"]["status"] == "active"
    assert updated["previous_attributes"] == {"status": "past_due"}
    current = await stripe_sdk.v1.subscriptions.retrieve_async(sub_id)
    assert current.status == "active"


async def test_exhausted_retries_delete_the_subscription(
    stripe_sdk: stripe.StripeClient,
    stripe_sim: StripeSimControl,
    stripe_receiver: StripeReceiver,
) -> None:
    sub_id = await checkout(stripe_sdk, stripe_sim)
    await stripe_sim.action(sub_id, "fail")

    final = await stripe_sim.action(sub_id, "fail", {"exhausted": True})

    assert [e["type"] for e in final["events"]] == [
        "invoice.payment_failed",
        "customer.subscription.deleted",
    ]
    (deleted,) = await stripe_receiver.wait_types("customer.subscription.deleted")
    assert deleted["data"]["object"]["status"] == "canceled"
    assert deleted["data"]["object"]["cancellation_details"]["reason"] == "payment_failed"


async def test_cancel_at_period_end_is_deleted_when_the_period_ends(
    stripe_sdk: stripe.StripeClient,
    stripe_sim: StripeSimControl,
    stripe_receiver: StripeReceiver,
) -> None:
    sub_id = await checkout(stripe_sdk, stripe_sim)
    await stripe_sdk.v1.subscriptions.update_async(
        sub_id, {"cancel_at_period_end": True}, {"idempotency_key": "cancel-1"}
    )
    (updated,) = await stripe_receiver.wait_types("customer.subscription.updated")
    assert updated["data"]["object"]["cancel_at_period_end"] is True
    assert updated["data"]["previous_attributes"]["cancel_at_period_end"] is False
    assert updated["request"]["idempotency_key"] == "cancel-1"
    assert updated["request"]["id"].startswith("req_")

    result = await stripe_sim.action(sub_id, "period-end")

    assert [e["type"] for e in result["events"]] == ["customer.subscription.deleted"]
    (deleted,) = await stripe_receiver.wait_types("customer.subscription.deleted")
    assert deleted["data"]["object"]["status"] == "canceled"
    assert deleted["data"]["object"]["ended_at"] == PERIOD_1_END
    assert deleted["created"] == PERIOD_1_END


async def test_non_2xx_answers_are_retried_until_accepted(
    stripe_sdk: stripe.StripeClient,
    stripe_sim: StripeSimControl,
    stripe_receiver: StripeReceiver,
) -> None:
    await stripe_sim.call("POST", "/webhooks", {"auto": False})
    await checkout(stripe_sdk, stripe_sim)
    (held,) = await stripe_sim.events(type="customer.created")
    stripe_receiver.fail_next(2, status=500)

    first = await stripe_sim.call("POST", f"/events/{held['id']}/deliver")

    assert [a["status"] for a in first["attempts"]] == [500]
    await stripe_receiver.wait_for(lambda d: len(d) == 3)
    assert [d.status for d in stripe_receiver.deliveries] == [500, 500, 200]
    for attempt in stripe_receiver.deliveries:  # every attempt signed afresh, and verifies
        assert attempt.event["id"] == held["id"]
        stripe.Webhook.construct_event(attempt.body, attempt.signature, STRIPE_SECRET)
    settled = await stripe_sim.call("POST", "/events/settle")
    (record,) = [r for r in settled if r["id"] == held["id"]]
    assert [a["status"] for a in record["attempts"]] == [500, 500, 200]
    assert record["delivered"] is True


async def test_a_failing_event_does_not_hold_back_the_others(
    stripe_sdk: stripe.StripeClient,
    stripe_sim: StripeSimControl,
    stripe_receiver: StripeReceiver,
) -> None:
    stripe_receiver.fail_next(1, status=502)

    await checkout(stripe_sdk, stripe_sim)

    events = await stripe_receiver.wait_types(
        "customer.created",
        "customer.subscription.created",
        "invoice.paid",
        "checkout.session.completed",
    )
    statuses = [(d.event["type"], d.status) for d in stripe_receiver.deliveries]
    assert statuses[0] == ("customer.created", 502)
    assert ("customer.created", 200) in statuses[2:]  # retried after the next one went out
    assert len({e["id"] for e in events}) == 4


async def test_retries_stop_after_the_configured_attempts(
    stripe_sdk: stripe.StripeClient,
    stripe_sim: StripeSimControl,
    stripe_receiver: StripeReceiver,
) -> None:
    await stripe_sim.call("POST", "/webhooks", {"auto": False})
    await checkout(stripe_sdk, stripe_sim)
    (held,) = await stripe_sim.events(type="customer.created")
    stripe_receiver.fail_next(10, status=503)

    await stripe_sim.call("POST", "/events/deliver", {"ids": [held["id"]]})
    settled = await stripe_sim.call("POST", "/events/settle")

    (record,) = [r for r in settled if r["id"] == held["id"]]
    assert record["delivered"] is False and record["retrying"] is False
    assert [a["status"] for a in record["attempts"]] == [503] * 4  # max_attempts in the fixture
    assert len(stripe_receiver.deliveries) == 4


async def test_redelivery_sends_the_same_event_again(
    stripe_sdk: stripe.StripeClient,
    stripe_sim: StripeSimControl,
    stripe_receiver: StripeReceiver,
) -> None:
    await checkout(stripe_sdk, stripe_sim)
    (completed,) = await stripe_receiver.wait_types("checkout.session.completed")

    summary = await stripe_sim.call("POST", f"/events/{completed['id']}/deliver")

    assert [a["status"] for a in summary["attempts"]] == [200, 200]
    copies = [d for d in stripe_receiver.deliveries if d.event["id"] == completed["id"]]
    assert len(copies) == 2 and copies[0].body == copies[1].body


async def test_held_events_delivered_in_reverse_order(
    stripe_sdk: stripe.StripeClient,
    stripe_sim: StripeSimControl,
    stripe_receiver: StripeReceiver,
) -> None:
    await stripe_sim.call("POST", "/webhooks", {"auto": False})
    sub_id = await checkout(stripe_sdk, stripe_sim)
    await stripe_sim.action(sub_id, "renew")
    created_order = [e["id"] for e in await stripe_sim.events()]
    assert stripe_receiver.deliveries == []  # held

    summaries = await stripe_sim.call("POST", "/events/deliver", {"order": "reversed"})

    assert [s["id"] for s in summaries] == created_order[::-1]
    assert [d.event["id"] for d in stripe_receiver.deliveries] == created_order[::-1]
    assert stripe_receiver.deliveries[0].event["type"] == "customer.subscription.updated"
