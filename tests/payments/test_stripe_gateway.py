"""`StripeGateway` over the official SDK against the simulator: checkout, subscription reads and
cancellation, error mapping, and webhook verification with each refusal's reason."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime

import pytest

from adapters.payments.models import (
    InvalidSignature,
    PaymentProviderError,
    Provider,
    ProviderSubscriptionStatus,
)
from adapters.payments.stripe import StripeGateway
from simulators.stripe.webhooks import sign
from tests.payments.conftest_stripe import (
    STRIPE_PRICES,
    STRIPE_SECRET,
    STRIPE_T0,
    StripeReceiver,
    StripeSimControl,
)

PERIOD_1_END = datetime.fromtimestamp(STRIPE_T0 + 31 * 86400, UTC)


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# stripe-python's HTTPXClient posts the form with httpx's deprecated `data=<str>`: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


async def subscribe(gateway: StripeGateway, sim: StripeSimControl, plan: str = "PRO") -> str:
    checkout = await gateway.create_checkout(
        "user-7", "bia@example.com", plan, "https://app/ok", "https://app/cancel"
    )
    result = await sim.complete(checkout.checkout_id)
    sub_id: str = result["checkout_session"]["subscription"]
    return sub_id


async def test_checkout_is_idempotent_per_user_plan_and_key(
    stripe_gateway: StripeGateway, stripe_sim: StripeSimControl
) -> None:
    args = ("user-7", "bia@example.com", "MAX", "https://app/ok", "https://app/cancel")

    first = await stripe_gateway.create_checkout(*args, idempotency_key="req-1")
    again = await stripe_gateway.create_checkout(*args, idempotency_key="req-1")
    other = await stripe_gateway.create_checkout(*args, idempotency_key="req-2")

    assert first.provider is Provider.STRIPE
    assert first.checkout_id.startswith("cs_test_")
    assert first.checkout_url.startswith(f"{stripe_sim.base_url}/_sim/checkout/")
    assert again == first
    assert other.checkout_id != first.checkout_id


async def test_unknown_plan_is_refused_before_calling_stripe(stripe_gateway: StripeGateway) -> None:
    with pytest.raises(PaymentProviderError) as refused:
        await stripe_gateway.create_checkout("u", "u@example.com", "GOLD", "https://a", "https://b")
    assert refused.value.retryable is False


async def test_subscription_is_normalised_with_plan_user_and_period(
    stripe_gateway: StripeGateway, stripe_sim: StripeSimControl
) -> None:
    sub_id = await subscribe(stripe_gateway, stripe_sim, "MAX")

    sub = await stripe_gateway.get_subscription(sub_id)

    assert sub.provider is Provider.STRIPE and sub.subscription_id == sub_id
    assert sub.customer_id is not None and sub.customer_id.startswith("cus_")
    assert (sub.user_id, sub.plan) == ("user-7", "MAX")
    assert (sub.status, sub.raw_status) == (ProviderSubscriptionStatus.ACTIVE, "active")
    assert sub.current_period_end == PERIOD_1_END
    assert sub.cancel_at_period_end is False


async def test_cancel_at_period_end_keeps_access_until_then(
    stripe_gateway: StripeGateway, stripe_sim: StripeSimControl
) -> None:
    sub_id = await subscribe(stripe_gateway, stripe_sim)

    sub = await stripe_gateway.cancel_at_period_end(sub_id)

    assert sub.cancel_at_period_end is True
    assert sub.status is ProviderSubscriptionStatus.ACTIVE
    assert sub.current_period_end == PERIOD_1_END


async def test_cancel_now_is_idempotent_and_listed_for_reconciliation(
    stripe_gateway: StripeGateway, stripe_sim: StripeSimControl
) -> None:
    sub_id = await subscribe(stripe_gateway, stripe_sim)

    first = await stripe_gateway.cancel_now(sub_id)
    second = await stripe_gateway.cancel_now(sub_id)

    assert first.status is ProviderSubscriptionStatus.CANCELED
    assert second.status is ProviderSubscriptionStatus.CANCELED
    assert first.customer_id is not None
    listed = await stripe_gateway.list_subscriptions(first.customer_id)
    assert [(s.subscription_id, s.raw_status) for s in listed] == [(sub_id, "canceled")]


async def test_past_due_is_normalised(
    stripe_gateway: StripeGateway, stripe_sim: StripeSimControl
) -> None:
    sub_id = await subscribe(stripe_gateway, stripe_sim)
    await stripe_sim.action(sub_id, "fail")

    sub = await stripe_gateway.get_subscription(sub_id)

    assert (sub.status, sub.raw_status) == (ProviderSubscriptionStatus.PAST_DUE, "past_due")


async def test_errors_say_whether_a_retry_can_help(
    stripe_gateway: StripeGateway, stripe_sim: StripeSimControl
) -> None:
    with pytest.raises(PaymentProviderError) as missing:
        await stripe_gateway.get_subscription("sub_nope")
    assert missing.value.retryable is False
    assert (missing.value.status, missing.value.code) == (404, "resource_missing")

    bad_key = StripeGateway(
        "sk_test_wrong", STRIPE_SECRET, api_base=stripe_sim.base_url, prices=STRIPE_PRICES
    )
    with pytest.raises(PaymentProviderError) as refused:
        await bad_key.get_subscription("sub_nope")
    assert (refused.value.retryable, refused.value.status) == (False, 401)
    assert "sk_test_wrong" not in str(refused.value)  # Stripe masks it; so do we
    await bad_key.aclose()

    down = StripeGateway(
        "sk_test_x",
        STRIPE_SECRET,
        api_base=f"http://127.0.0.1:{closed_port()}",
        prices=STRIPE_PRICES,
        max_network_retries=0,
    )
    with pytest.raises(PaymentProviderError) as unreachable:
        await down.get_subscription("sub_x")
    assert unreachable.value.retryable is True
    await down.aclose()


async def test_delivered_event_verifies_and_normalises(
    stripe_gateway: StripeGateway,
    stripe_sim: StripeSimControl,
    stripe_receiver: StripeReceiver,
) -> None:
    sub_id = await subscribe(stripe_gateway, stripe_sim)
    await stripe_gateway.cancel_at_period_end(sub_id)
    await stripe_receiver.wait_types("checkout.session.completed", "customer.subscription.updated")
    by_type = {d.event["type"]: d for d in stripe_receiver.accepted()}

    completed = by_type["checkout.session.completed"]
    event = stripe_gateway.verify_webhook(completed.body, completed.signature)
    assert event.provider is Provider.STRIPE
    assert event.event_id == completed.event["id"]
    assert event.type == "checkout.session.completed"
    assert event.created == datetime.fromtimestamp(STRIPE_T0, UTC)
    assert event.object_id == event.data["id"] and event.data["subscription"] == sub_id
    assert event.data["client_reference_id"] == "user-7"
    assert stripe_gateway.subscription_from_event(event) is None

    updated = by_type["customer.subscription.updated"]
    update = stripe_gateway.verify_webhook(updated.body, updated.signature)
    sub = stripe_gateway.subscription_from_event(update)
    assert sub is not None and sub.subscription_id == sub_id
    assert sub.cancel_at_period_end is True and sub.updated_at == update.created
    assert (sub.user_id, sub.plan) == ("user-7", "PRO")


async def delivered(
    gateway: StripeGateway, sim: StripeSimControl, receiver: StripeReceiver
) -> tuple[bytes, str]:
    await subscribe(gateway, sim)
    (first, *_) = await receiver.wait_for(lambda d: len(d) >= 1)
    assert first.signature is not None
    return first.body, first.signature


@pytest.mark.parametrize("header", [None, "", "   "])
async def test_missing_signature_is_refused(
    stripe_gateway: StripeGateway,
    stripe_sim: StripeSimControl,
    stripe_receiver: StripeReceiver,
    header: str | None,
) -> None:
    body, _ = await delivered(stripe_gateway, stripe_sim, stripe_receiver)
    with pytest.raises(InvalidSignature) as refused:
        stripe_gateway.verify_webhook(body, header)
    assert refused.value.reason == "missing"


@pytest.mark.parametrize(
    "header",
    ["garbage", "t=abc,v1=00", "v1=deadbeef", "t=1700000000", "t=1700000000,v0=aa"],
)
async def test_malformed_signature_header_is_refused(
    stripe_gateway: StripeGateway,
    stripe_sim: StripeSimControl,
    stripe_receiver: StripeReceiver,
    header: str,
) -> None:
    body, _ = await delivered(stripe_gateway, stripe_sim, stripe_receiver)
    with pytest.raises(InvalidSignature) as refused:
        stripe_gateway.verify_webhook(body, header)
    assert refused.value.reason == "malformed"


async def test_signature_with_another_secret_is_refused(
    stripe_gateway: StripeGateway,
    stripe_sim: StripeSimControl,
    stripe_receiver: StripeReceiver,
) -> None:
    await stripe_sim.call("POST", "/webhooks", {"secret": "whsec_someone_else"})
    body, header = await delivered(stripe_gateway, stripe_sim, stripe_receiver)
    with pytest.raises(InvalidSignature) as refused:
        stripe_gateway.verify_webhook(body, header)
    assert refused.value.reason == "mismatch"


async def test_tampered_body_is_refused(
    stripe_gateway: StripeGateway,
    stripe_sim: StripeSimControl,
    stripe_receiver: StripeReceiver,
) -> None:
    body, header = await delivered(stripe_gateway, stripe_sim, stripe_receiver)
    tampered = body.replace(b'"livemode": false', b'"livemode": true', 1)
    assert tampered != body
    with pytest.raises(InvalidSignature) as refused:
        stripe_gateway.verify_webhook(tampered, header)
    assert refused.value.reason == "mismatch"


@pytest.mark.parametrize("age", [301, -301, 86400])
async def test_timestamp_beyond_tolerance_is_refused(
    stripe_gateway: StripeGateway,
    stripe_sim: StripeSimControl,
    stripe_receiver: StripeReceiver,
    age: int,
) -> None:
    body, _ = await delivered(stripe_gateway, stripe_sim, stripe_receiver)
    header = sign(body, STRIPE_SECRET, int(time.time()) - age)  # correctly signed, but old/new
    with pytest.raises(InvalidSignature) as refused:
        stripe_gateway.verify_webhook(body, header)
    assert refused.value.reason == "stale"
    stripe_gateway.verify_webhook(body, header, tolerance=abs(age) + 60)  # within a wider one


async def test_signed_body_that_is_not_an_event_is_refused(stripe_gateway: StripeGateway) -> None:
    for body in (b"{not json", json.dumps({"object": "customer", "id": "cus_1"}).encode()):
        header = sign(body, STRIPE_SECRET, int(time.time()))
        with pytest.raises(InvalidSignature) as refused:
            stripe_gateway.verify_webhook(body, header)
        assert refused.value.reason == "malformed"
