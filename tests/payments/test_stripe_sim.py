"""The Stripe simulator driven by the official SDK over HTTP: the wire format (form params,
auth, idempotency, error bodies) and the API objects."""

from __future__ import annotations

import argparse

import httpx
import pytest
import stripe

from simulators.stripe import add_arguments
from simulators.stripe.wire import decode_form
from tests.payments.conftest_stripe import (
    STRIPE_KEY,
    STRIPE_T0,
    StripeSimControl,
    stripe_checkout_params,
)

PRO = "price_crypteras_pro_monthly"
MAX = "price_crypteras_max_monthly"

# stripe-python's HTTPXClient posts the form with httpx's deprecated `data=<str>`: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


async def subscribe(sdk: stripe.StripeClient, sim: StripeSimControl) -> stripe.Subscription:
    session = await sdk.v1.checkout.sessions.create_async(stripe_checkout_params())
    await sim.complete(session.id)
    session = await sdk.v1.checkout.sessions.retrieve_async(session.id)
    assert isinstance(session.subscription, str)
    return await sdk.v1.subscriptions.retrieve_async(session.subscription)


def test_form_decoding_builds_nested_params_like_stripe() -> None:
    pairs = [
        ("line_items[0][price]", PRO),
        ("line_items[0][quantity]", "1"),
        ("line_items[1][price]", MAX),
        ("metadata[user_id]", "u1"),
        ("expand[]", "customer"),
        ("expand[]", "subscription"),
        ("mode", "subscription"),
    ]
    assert decode_form(pairs) == {
        "line_items": [{"price": PRO, "quantity": "1"}, {"price": MAX}],
        "metadata": {"user_id": "u1"},
        "expand": ["customer", "subscription"],
        "mode": "subscription",
    }


async def test_checkout_session_created_and_retrieved_with_the_sdk(
    stripe_sdk: stripe.StripeClient,
) -> None:
    session = await stripe_sdk.v1.checkout.sessions.create_async(stripe_checkout_params())

    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert session.status == "open" and session.payment_status == "unpaid"
    assert session.mode == "subscription"
    assert session.amount_total == 1990 and session.currency == "brl"
    assert session.client_reference_id == "user-1"
    assert session.to_dict()["metadata"] == {"user_id": "user-1", "plan": "PRO"}
    assert session.created == STRIPE_T0
    assert session.url is not None and f"/_sim/checkout/{session.id}" in session.url

    again = await stripe_sdk.v1.checkout.sessions.retrieve_async(
        session.id, {"expand": ["line_items"]}
    )
    assert again.id == session.id
    assert again.line_items is not None
    assert [(i.price.id if i.price else None, i.quantity) for i in again.line_items.data] == [
        (PRO, 1)
    ]


async def test_checkout_page_pays_and_redirects_to_success_url(
    stripe_sdk: stripe.StripeClient, stripe_sim: StripeSimControl
) -> None:
    session = await stripe_sdk.v1.checkout.sessions.create_async(stripe_checkout_params())
    assert session.url is not None
    page = await stripe_sim.http.get(session.url)
    assert page.status_code == 200 and "Pay" in page.text

    paid = await stripe_sim.http.post(f"/_sim/checkout/{session.id}/pay", data={"email": ""})

    assert paid.status_code == 303
    assert paid.headers["location"] == f"https://app.example/ok?session={session.id}"
    done = await stripe_sdk.v1.checkout.sessions.retrieve_async(session.id)
    assert done.status == "complete" and done.payment_status == "paid"


async def test_completed_checkout_has_customer_and_active_subscription(
    stripe_sdk: stripe.StripeClient, stripe_sim: StripeSimControl
) -> None:
    sub = await subscribe(stripe_sdk, stripe_sim)

    assert sub.id.startswith("sub_") and sub.status == "active"
    assert sub.to_dict()["metadata"] == {"user_id": "user-1", "plan": "PRO"}
    item = sub["items"].data[0]
    assert item.price.id == PRO
    assert item.current_period_start == STRIPE_T0
    assert item.current_period_end == STRIPE_T0 + 31 * 86400  # Jan 1 → Feb 1
    customer = await stripe_sdk.v1.customers.retrieve_async(str(sub.customer))
    assert customer.email == "ana@example.com"
    assert isinstance(sub.latest_invoice, str)
    invoice = await stripe_sdk.v1.invoices.retrieve_async(sub.latest_invoice)
    assert invoice.status == "paid" and invoice.amount_paid == 1990
    assert invoice.parent is not None and invoice.parent.subscription_details is not None
    assert invoice.parent.subscription_details.subscription == sub.id


async def test_cancel_at_period_end_then_delete(
    stripe_sdk: stripe.StripeClient, stripe_sim: StripeSimControl
) -> None:
    sub = await subscribe(stripe_sdk, stripe_sim)

    updated = await stripe_sdk.v1.subscriptions.update_async(sub.id, {"cancel_at_period_end": True})
    assert updated.cancel_at_period_end is True
    assert updated.cancel_at == sub["items"].data[0].current_period_end
    assert updated.status == "active"

    listed = await stripe_sdk.v1.subscriptions.list_async({"customer": str(sub.customer)})
    assert [s.id for s in listed.data] == [sub.id]

    deleted = await stripe_sdk.v1.subscriptions.cancel_async(sub.id)
    assert deleted.status == "canceled" and deleted.ended_at == STRIPE_T0

    by_default = await stripe_sdk.v1.subscriptions.list_async({"customer": str(sub.customer)})
    assert by_default.data == []  # Stripe lists canceled ones only when asked
    everything = await stripe_sdk.v1.subscriptions.list_async(
        {"customer": str(sub.customer), "status": "all"}
    )
    assert [s.id for s in everything.data] == [sub.id]
    with pytest.raises(stripe.InvalidRequestError):
        await stripe_sdk.v1.subscriptions.cancel_async(sub.id)


async def test_wrong_api_key_is_refused_with_stripes_401(
    stripe_sdk: stripe.StripeClient, stripe_sim: StripeSimControl
) -> None:
    client = stripe.StripeClient(
        "sk_test_not_the_right_key_9876",
        base_addresses={"api": stripe_sim.base_url},
        http_client=stripe.HTTPXClient(),
    )
    with pytest.raises(stripe.AuthenticationError) as refused:
        await client.v1.prices.retrieve_async(PRO)

    assert refused.value.http_status == 401
    body = refused.value.json_body
    assert body == {
        "error": {
            "message": "Invalid API Key provided: sk_test_******************9876",
            "type": "invalid_request_error",
        }
    }

    missing = await stripe_sim.http.get(f"/v1/prices/{PRO}")
    assert missing.status_code == 401
    assert missing.json()["error"]["message"].startswith("You did not provide an API key.")
    basic = await stripe_sim.http.get(f"/v1/prices/{PRO}", auth=(STRIPE_KEY, ""))
    assert basic.status_code == 200 and basic.json()["unit_amount"] == 1990


async def test_same_idempotency_key_replays_and_other_params_are_refused(
    stripe_sdk: stripe.StripeClient,
) -> None:
    first = await stripe_sdk.v1.checkout.sessions.create_async(
        stripe_checkout_params(),
        {"idempotency_key": "checkout-user-1"},
    )
    replay = await stripe_sdk.v1.checkout.sessions.create_async(
        stripe_checkout_params(),
        {"idempotency_key": "checkout-user-1"},
    )
    assert replay.id == first.id
    assert replay.last_response is not None
    assert replay.last_response.headers["idempotent-replayed"] == "true"

    with pytest.raises(stripe.IdempotencyError) as refused:
        await stripe_sdk.v1.checkout.sessions.create_async(
            stripe_checkout_params(MAX),
            {"idempotency_key": "checkout-user-1"},
        )
    assert refused.value.http_status == 400
    assert refused.value.json_body is not None
    assert refused.value.json_body["error"]["type"] == "idempotency_error"

    other = await stripe_sdk.v1.checkout.sessions.create_async(
        stripe_checkout_params(),
        {"idempotency_key": "checkout-user-1-again"},
    )
    assert other.id != first.id


async def test_request_errors_have_stripes_code_and_param(
    stripe_sdk: stripe.StripeClient, stripe_sim: StripeSimControl
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as no_price:
        await stripe_sdk.v1.checkout.sessions.create_async(stripe_checkout_params("price_nope"))
    assert (no_price.value.http_status, no_price.value.code, no_price.value.param) == (
        400,
        "resource_missing",
        "line_items[0][price]",
    )
    assert no_price.value.user_message == "No such price: 'price_nope'"

    with pytest.raises(stripe.InvalidRequestError) as no_sub:
        await stripe_sdk.v1.subscriptions.retrieve_async("sub_missing")
    assert (no_sub.value.http_status, no_sub.value.code, no_sub.value.param) == (
        404,
        "resource_missing",
        "id",
    )

    headers = {"Authorization": f"Bearer {STRIPE_KEY}"}
    unknown = await stripe_sim.http.post(
        "/v1/checkout/sessions", data={"mode": "subscription", "colour": "red"}, headers=headers
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"] | {"doc_url": None} == {
        "message": "Received unknown parameter: colour",
        "type": "invalid_request_error",
        "code": "parameter_unknown",
        "param": "colour",
        "doc_url": None,
    }
    no_mode = await stripe_sim.http.post("/v1/checkout/sessions", data={}, headers=headers)
    assert no_mode.json()["error"]["code"] == "parameter_missing"
    assert no_mode.json()["error"]["param"] == "mode"
    nowhere = await stripe_sim.http.get("/v1/nowhere", headers=headers)
    assert nowhere.status_code == 404
    assert nowhere.json()["error"]["message"].startswith("Unrecognized request URL (GET: /v1/")


async def test_every_answer_carries_a_request_id(stripe_sim: StripeSimControl) -> None:
    async with httpx.AsyncClient(base_url=stripe_sim.base_url) as http:
        answer = await http.get("/v1/prices", headers={"Authorization": f"Bearer {STRIPE_KEY}"})
    assert answer.headers["request-id"].startswith("req_")
    assert {p["id"] for p in answer.json()["data"]} == {PRO, MAX}


def test_cli_options_build_the_simulator_settings() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)

    url = "http://127.0.0.1:8000/api/webhooks/stripe"
    argv = ["--port", "12112", "--webhook-secret", "whsec_local", "--max-attempts", "3"]
    args = parser.parse_args([*argv, "--webhook-url", url, "--api-key", STRIPE_KEY])

    assert (args.port, args.host, args.webhook_secret) == (12112, "127.0.0.1", "whsec_local")
    assert args.webhook_url == url
    assert (args.api_keys, args.max_attempts) == ([STRIPE_KEY], 3)
