"""MercadoPagoGateway against the simulator: checkouts, the payer's actions through /_sim/,
signed notifications verified by the gateway, payments and preapprovals fetched back."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from adapters.payments.mercadopago import MercadoPagoGateway, parse_time
from adapters.payments.models import (
    PaymentEvent,
    PaymentProviderError,
    Provider,
    ProviderSubscriptionStatus,
)
from simulators.mercadopago import RunningSim
from tests.payments.conftest_mercadopago import (
    MP_PRICES,
    MP_TOKEN,
    MpControl,
    MpReceiver,
    Received,
)

BACK = "https://crypteras.example/billing"


def verify(gateway: MercadoPagoGateway, received: Received) -> PaymentEvent:
    return gateway.verify_webhook(received.headers, received.query, received.body)


async def test_card_checkout_authorized_becomes_active(
    mp_gateway: MercadoPagoGateway, mp_control: MpControl, mp_receiver: MpReceiver
) -> None:
    checkout = await mp_gateway.create_checkout("user-1", "payer@example.com", "PRO", "card", BACK)
    assert checkout.provider is Provider.MERCADOPAGO
    assert checkout.checkout_url.endswith(f"/_sim/checkout/preapproval/{checkout.checkout_id}")
    pending = await mp_gateway.get_preapproval(checkout.checkout_id)
    assert pending.status is ProviderSubscriptionStatus.PENDING
    assert pending.current_period_end is None

    await mp_control.post(f"/preapproval/{checkout.checkout_id}/authorize")

    [note] = await mp_receiver.of_type("subscription_preapproval")
    event = verify(mp_gateway, note)
    assert (event.type, event.object_id) == ("subscription_preapproval", checkout.checkout_id)
    assert event.data["action"] == "updated"
    sub = await mp_gateway.get_preapproval(event.object_id)
    assert sub.status is ProviderSubscriptionStatus.ACTIVE and sub.raw_status == "authorized"
    assert (sub.user_id, sub.plan, sub.subscription_id) == ("user-1", "PRO", checkout.checkout_id)
    assert sub.customer_id is not None and sub.updated_at is not None
    assert sub.current_period_end is not None
    assert timedelta(days=28) <= sub.current_period_end - sub.updated_at <= timedelta(days=31)

    [paid] = await mp_receiver.of_type("payment")
    payment = await mp_gateway.get_payment(verify(mp_gateway, paid).object_id or "")
    assert (payment["status"], payment["status_detail"]) == ("approved", "accredited")
    assert payment["metadata"]["preapproval_id"] == checkout.checkout_id
    assert payment["external_reference"] == "user-1:PRO"
    assert Decimal(str(payment["transaction_amount"])) == MP_PRICES["PRO"]

    [billed] = await mp_receiver.of_type("subscription_authorized_payment")
    invoice = await mp_gateway.get_authorized_payment(verify(mp_gateway, billed).object_id or "")
    assert invoice["preapproval_id"] == checkout.checkout_id
    assert invoice["payment"]["id"] == payment["id"]


async def test_pix_checkout_paid_is_an_approved_payment(
    mp_gateway: MercadoPagoGateway, mp_control: MpControl, mp_receiver: MpReceiver
) -> None:
    checkout = await mp_gateway.create_checkout("user-2", "pix@example.com", "MAX", "pix", BACK)
    assert "/_sim/checkout/preferences/" in checkout.checkout_url
    await mp_control.post(f"/preferences/{checkout.checkout_id}/pay", {"method": "pix"})

    [note] = await mp_receiver.of_type("payment")
    event = verify(mp_gateway, note)
    assert event.type == "payment" and event.data["action"] == "payment.created"
    assert event.data["id"] == json.loads(note.body)["id"]
    assert len(event.event_id) == 64  # keyed on the signed manifest, not the unsigned body id
    assert event.created is not None
    payment = await mp_gateway.get_payment(event.object_id or "")
    assert (payment["status"], payment["payment_method_id"]) == ("approved", "pix")
    assert payment["payment_type_id"] == "bank_transfer"
    assert payment["external_reference"] == "user-2:MAX"
    assert payment["metadata"] == {"user_id": "user-2", "plan": "MAX"}
    assert Decimal(str(payment["transaction_amount"])) == Decimal("97.00")
    assert payment["currency_id"] == "BRL" and payment["date_approved"] is not None

    found = await mp_gateway.search_payments("user-2:MAX")
    assert [p["id"] for p in found] == [payment["id"]]


async def test_boleto_checkout_leaves_only_boleto(
    mp_gateway: MercadoPagoGateway, mp_control: MpControl, mp_receiver: MpReceiver
) -> None:
    checkout = await mp_gateway.create_checkout("user-3", "b@example.com", "PRO", "boleto", BACK)
    by_card = await mp_control.http.post(
        f"/_sim/preferences/{checkout.checkout_id}/pay", json={"method": "card"}
    )
    assert by_card.status_code == 409
    paid = await mp_control.post(f"/preferences/{checkout.checkout_id}/pay", {"method": "boleto"})
    assert (paid["payment_method_id"], paid["status"]) == ("bolbradesco", "approved")
    [note] = await mp_receiver.of_type("payment")
    assert verify(mp_gateway, note).object_id == str(paid["id"])


async def test_rejected_preference_payment(
    mp_gateway: MercadoPagoGateway, mp_control: MpControl, mp_receiver: MpReceiver
) -> None:
    checkout = await mp_gateway.create_checkout("user-4", "r@example.com", "PRO", "pix", BACK)
    await mp_control.post(
        f"/preferences/{checkout.checkout_id}/pay", {"method": "pix", "status": "rejected"}
    )
    [note] = await mp_receiver.of_type("payment")
    payment = await mp_gateway.get_payment(verify(mp_gateway, note).object_id or "")
    assert (payment["status"], payment["date_approved"]) == ("rejected", None)


async def test_renewal_moves_the_period_a_month_on(
    mp_gateway: MercadoPagoGateway, mp_control: MpControl, mp_receiver: MpReceiver
) -> None:
    checkout = await mp_gateway.create_checkout("user-5", "r@example.com", "PRO", None, BACK)
    await mp_control.post(f"/preapproval/{checkout.checkout_id}/authorize")
    first = await mp_gateway.get_preapproval(checkout.checkout_id)

    renewed = await mp_control.post(f"/preapproval/{checkout.checkout_id}/charge")
    payments = await mp_receiver.of_type("payment", count=2)
    payment = await mp_gateway.get_payment(verify(mp_gateway, payments[1]).object_id or "")
    assert payment["id"] == renewed["payment"]["id"]
    assert (payment["status"], payment["operation_type"]) == ("approved", "recurring_payment")

    second = await mp_gateway.get_preapproval(checkout.checkout_id)
    assert second.status is ProviderSubscriptionStatus.ACTIVE
    assert first.current_period_end is not None and second.current_period_end is not None
    assert timedelta(days=28) <= second.current_period_end - first.current_period_end
    assert second.current_period_end - first.current_period_end <= timedelta(days=31)
    assert first.updated_at is not None and second.updated_at is not None
    assert second.updated_at >= first.updated_at


async def test_failed_charge_is_a_rejected_payment_and_keeps_the_period(
    mp_gateway: MercadoPagoGateway, mp_control: MpControl, mp_receiver: MpReceiver
) -> None:
    checkout = await mp_gateway.create_checkout("user-6", "f@example.com", "PRO", "card", BACK)
    await mp_control.post(f"/preapproval/{checkout.checkout_id}/authorize")
    before = await mp_gateway.get_preapproval(checkout.checkout_id)

    failed = await mp_control.post(
        f"/preapproval/{checkout.checkout_id}/charge", {"status": "rejected"}
    )
    payments = await mp_receiver.of_type("payment", count=2)
    payment = await mp_gateway.get_payment(verify(mp_gateway, payments[1]).object_id or "")
    assert payment["id"] == failed["payment"]["id"]
    assert payment["status"] == "rejected"
    assert payment["status_detail"] == "cc_rejected_insufficient_amount"
    after = await mp_gateway.get_preapproval(checkout.checkout_id)
    assert after.status is ProviderSubscriptionStatus.ACTIVE  # MP keeps retrying the charge
    assert after.current_period_end == before.current_period_end
    assert failed["preapproval"]["summarized"]["semaphore"] == "yellow"


async def test_cancel_through_the_gateway_and_by_the_payer(
    mp_gateway: MercadoPagoGateway, mp_control: MpControl, mp_receiver: MpReceiver
) -> None:
    ours = await mp_gateway.create_checkout("user-7", "c@example.com", "PRO", "card", BACK)
    await mp_control.post(f"/preapproval/{ours.checkout_id}/authorize")
    canceled = await mp_gateway.cancel(ours.checkout_id)
    assert canceled.status is ProviderSubscriptionStatus.CANCELED
    assert (canceled.raw_status, canceled.current_period_end) == ("cancelled", None)

    theirs = await mp_gateway.create_checkout("user-8", "d@example.com", "MAX", "card", BACK)
    await mp_control.post(f"/preapproval/{theirs.checkout_id}/authorize")
    await mp_control.post(f"/preapproval/{theirs.checkout_id}/cancel")
    notes = await mp_receiver.of_type("subscription_preapproval", count=4)
    ids = [verify(mp_gateway, n).object_id for n in notes]
    assert sorted(ids) == sorted([ours.checkout_id] * 2 + [theirs.checkout_id] * 2)
    fetched = await mp_gateway.get_preapproval(theirs.checkout_id)
    assert fetched.status is ProviderSubscriptionStatus.CANCELED

    again = await mp_control.http.post(f"/_sim/preapproval/{theirs.checkout_id}/authorize")
    assert again.status_code == 409
    listed = await mp_gateway.list_subscriptions("d@example.com")
    assert [s.subscription_id for s in listed] == [theirs.checkout_id]


async def test_checkout_with_an_idempotency_key_is_created_once(
    mp_gateway: MercadoPagoGateway, mp_sim: RunningSim
) -> None:
    first = await mp_gateway.create_checkout(
        "user-9", "i@example.com", "PRO", "pix", BACK, idempotency_key="wf-1:1"
    )
    again = await mp_gateway.create_checkout(
        "user-9", "i@example.com", "PRO", "pix", BACK, idempotency_key="wf-1:1"
    )
    other = await mp_gateway.create_checkout(
        "user-9", "i@example.com", "PRO", "pix", BACK, idempotency_key="wf-1:2"
    )
    assert first == again and other.checkout_id != first.checkout_id
    assert len(mp_sim.account.preferences) == 2


async def test_provider_errors_say_whether_to_retry(mp_sim: RunningSim) -> None:
    bad_token = MercadoPagoGateway("TEST-bad", "s", prices=MP_PRICES, api_base=mp_sim.url)
    with pytest.raises(PaymentProviderError) as refused:
        await bad_token.get_payment("1")
    assert (refused.value.status, refused.value.retryable) == (401, False)
    assert refused.value.code == "unauthorized"
    assert "TEST-bad" not in str(refused.value)

    gateway = MercadoPagoGateway(MP_TOKEN, "s", prices=MP_PRICES, api_base=mp_sim.url)
    with pytest.raises(PaymentProviderError) as missing:
        await gateway.get_preapproval("0" * 32)
    assert (missing.value.status, missing.value.retryable) == (404, False)

    with pytest.raises(PaymentProviderError) as no_plan:
        await gateway.create_checkout("u", "e@example.com", "GOLD", "pix", BACK)
    assert no_plan.value.retryable is False


async def test_unreachable_api_is_retryable() -> None:
    gateway = MercadoPagoGateway(
        MP_TOKEN, "s", prices=MP_PRICES, api_base="http://127.0.0.1:9", timeout=2
    )
    with pytest.raises(PaymentProviderError) as down:
        await gateway.get_payment("1")
    assert down.value.retryable is True


def test_external_reference_and_times_parse() -> None:
    sub = MercadoPagoGateway.subscription(
        {
            "id": "abc",
            "status": "paused",
            "external_reference": "6f1c:9e:MAX",
            "last_modified": "2024-01-10T11:30:02.000-04:00",
            "next_payment_date": "2024-02-10T11:30:02.000-04:00",
        }
    )
    assert (sub.user_id, sub.plan) == ("6f1c:9e", "MAX")
    assert sub.status is ProviderSubscriptionStatus.PAUSED and sub.current_period_end is None
    assert sub.updated_at == parse_time("2024-01-10T15:30:02Z")
    assert MercadoPagoGateway.subscription({"id": "x", "status": "pending"}).user_id is None
