"""Webhook parsers against hostile and odd input: a bad signature header is an
`InvalidSignature` with a reason, a signed body that is not an event is `malformed`, and a
signed event whose object we cannot read is `UnreadablePayload` — never any other exception.
Hypothesis fuzzes both providers' parsers beyond the cases written out."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.payments.events import route_stripe
from adapters.payments.mercadopago import MercadoPagoGateway
from adapters.payments.models import InvalidSignature, PaymentProviderError, UnreadablePayload
from adapters.payments.stripe import StripeGateway
from simulators.stripe.webhooks import sign
from tests.payments.conftest_mercadopago import MP_PRICES, MP_SECRET, MP_TOKEN
from tests.payments.conftest_stripe import STRIPE_PRICES, STRIPE_SECRET
from tests.payments.test_stripe_gateway import closed_port

HEX64 = "0" * 64
# Offline gateways: verification needs no API; a lookup fails fast as unreachable.
STRIPE = StripeGateway(
    "sk_test_offline",
    STRIPE_SECRET,
    api_base=f"http://127.0.0.1:{closed_port()}",
    prices=STRIPE_PRICES,
    max_network_retries=0,
)
MP = MercadoPagoGateway(MP_TOKEN, MP_SECRET, prices=MP_PRICES)

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


def stripe_signed(body: bytes) -> str:
    return sign(body, STRIPE_SECRET, int(time.time()))


def stripe_event(type_: str, obj: Any, **envelope: Any) -> bytes:
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": type_,
        "created": int(time.time()),
        "data": {"object": obj},
        **envelope,
    }
    return json.dumps(event).encode()


def subscription(**fields: Any) -> dict[str, Any]:
    return {
        "id": "sub_1",
        "object": "subscription",
        "status": "active",
        "customer": "cus_1",
        "metadata": {"user_id": str(uuid.uuid4()), "plan": "PRO"},
        "items": {"data": [{"current_period_end": 1_800_000_000, "price": {"id": "price_x"}}]},
        **fields,
    }


def stripe_reason(body: bytes, header: str) -> str:
    with pytest.raises(InvalidSignature) as refused:
        STRIPE.verify_webhook(body, header)
    return refused.value.reason


def mp_note(
    body: bytes, ts: str, data_id: str | None = "42", request_id: str | None = "req-1"
) -> tuple[dict[str, str], dict[str, str]]:
    parts = [f"id:{data_id}"] if data_id else []
    parts += [f"request-id:{request_id}"] if request_id else []
    manifest = ";".join([*parts, f"ts:{ts}"]) + ";"
    v1 = hmac.new(MP_SECRET.encode(), manifest.encode(), hashlib.sha256).hexdigest()
    headers = {"x-signature": f"ts={ts},v1={v1}"}
    if request_id:
        headers["x-request-id"] = request_id
    return headers, ({"data.id": data_id, "type": "payment"} if data_id else {})


def mp_reason(body: bytes, headers: dict[str, str], query: dict[str, str]) -> str:
    with pytest.raises(InvalidSignature) as refused:
        MP.verify_webhook(headers, query, body)
    return refused.value.reason


# -- the reported cases ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        f"t=\u00b2,v1={HEX64}",  # "²".isdigit() is True, int("²") fails
        f"t={'9' * 5000},v1={HEX64}",  # int() refuses more than 4,300 digits
        f"t={'9' * 30},v1={HEX64}",  # past any datetime
        "t=1700000000,v1=\u00e9",  # hmac.compare_digest refuses non-ASCII
        f"t=1700000000,v1={'é' * 64}",
    ],
)
def test_stripe_header_of_odd_shape_is_malformed(header: str) -> None:
    assert stripe_reason(b"{}", header) == "malformed"


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2]",
        b"3",
        b'"event"',
        b"null",
        b"\xff\xfe",  # not UTF-8
        b"[" * 100_000 + b"]" * 100_000,  # json.loads: RecursionError
        stripe_event("invoice.paid", {}, id="evt_" + "x" * 200),  # longer than we store
        stripe_event("invoice.paid", {}, type="invoice.paid\u0000"),  # PostgreSQL refuses NUL
        stripe_event("invoice.paid", {}, created=10**30),
        stripe_event("invoice.paid", {}, created="1700000000"),
        stripe_event("invoice.paid", [1]),
    ],
)
def test_signed_body_that_is_not_a_stripe_event_is_malformed(body: bytes) -> None:
    assert stripe_reason(body, stripe_signed(body)) == "malformed"


@pytest.mark.parametrize(
    ("type_", "obj"),
    [
        ("customer.subscription.updated", subscription(current_period_end="1800000000")),
        ("customer.subscription.updated", subscription(current_period_end=10**20)),
        (
            "customer.subscription.updated",
            subscription(items={"data": [{"current_period_end": "soon"}]}),
        ),
        ("customer.subscription.deleted", subscription(metadata=["user_id"])),
        ("customer.subscription.created", subscription(id=7)),
        ("customer.subscription.created", {"object": "subscription"}),  # no id
        ("invoice.paid", {"subscription": "sub_1", "lines": {"data": [{"period": {"end": -1}}]}}),
        ("invoice.paid", {"parent": {"subscription_details": {"subscription": ["sub_1"]}}}),
        ("checkout.session.completed", {"mode": "subscription", "subscription": 12}),
    ],
)
async def test_signed_event_with_an_unreadable_object_is_unreadable(
    type_: str, obj: dict[str, Any]
) -> None:
    body = stripe_event(type_, obj)
    event = STRIPE.verify_webhook(body, stripe_signed(body))
    with pytest.raises(UnreadablePayload) as unreadable:
        await route_stripe(event, STRIPE)
    assert unreadable.value.retryable is False


async def test_readable_subscription_event_still_routes() -> None:
    body = stripe_event("customer.subscription.updated", subscription())
    routed = await route_stripe(STRIPE.verify_webhook(body, stripe_signed(body)), STRIPE)
    assert routed is not None
    assert routed.event.current_period_end == datetime.fromtimestamp(1_800_000_000, UTC)
    assert (routed.event.subscription_id, routed.customer_id) == ("sub_1", "cus_1")


@pytest.mark.parametrize("ts", ["\u00b2", "9" * 5000, "9" * 30, "-5", "1.5"])
def test_mercadopago_timestamp_of_odd_shape_is_malformed(ts: str) -> None:
    body = json.dumps({"id": 1, "type": "payment", "data": {"id": "42"}}).encode()
    assert mp_reason(body, *mp_note(body, ts)) == "malformed"


def test_mercadopago_odd_type_is_malformed_and_odd_date_is_no_date() -> None:
    ts = str(int(time.time()))
    nul = json.dumps({"id": 1, "type": "pay\u0000ment", "data": {"id": "42"}}).encode()
    assert mp_reason(nul, *mp_note(nul, ts)) == "malformed"
    listed = json.dumps({"id": 1, "type": ["payment"], "data": {"id": "42"}}).encode()
    assert mp_reason(listed, *mp_note(listed, ts)) == "malformed"
    far = json.dumps(
        {"id": 1, "type": "payment", "data": {"id": "42"}, "date_created": "9999-12-31T23:59-01:00"}
    ).encode()
    assert MP.verify_webhook(*mp_note(far, ts), far).created is None


# -- fuzzing ------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
STRIPE_TYPES = st.sampled_from(
    [
        "checkout.session.completed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.paid",
        "invoice.payment_failed",
        "customer.created",
    ]
)
# Fields the parsers read, so the fuzzer reaches them often.
known_fields = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=8) | json_values,
        "mode": st.just("subscription") | json_values,
        "subscription": st.just("sub_1") | json_values,
        "customer": st.just("cus_1") | json_values,
        "metadata": st.dictionaries(st.sampled_from(["user_id", "plan"]), json_values),
        "items": st.fixed_dictionaries(
            {"data": st.lists(st.dictionaries(st.just("current_period_end"), json_values))}
        )
        | json_values,
        "current_period_end": json_values,
        "cancel_at_period_end": json_values,
        "lines": json_values,
        "parent": json_values,
        "status": json_values,
    },
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(header=st.text(max_size=120), body=st.binary(max_size=200))
def test_stripe_verify_refuses_any_unsigned_input_with_a_reason(header: str, body: bytes) -> None:
    try:
        STRIPE.verify_webhook(body, header)
    except InvalidSignature as refused:
        assert refused.reason in ("missing", "malformed", "mismatch", "stale")


@FUZZ
@given(type_=STRIPE_TYPES, obj=known_fields, created=json_values)
async def test_stripe_signed_event_of_any_shape_routes_or_is_refused(
    type_: str, obj: dict[str, Any], created: Any
) -> None:
    body = stripe_event(type_, obj, created=created)
    try:
        event = STRIPE.verify_webhook(body, stripe_signed(body))
    except InvalidSignature as refused:
        assert refused.reason == "malformed"
        return
    try:
        routed = await route_stripe(event, STRIPE)
    except PaymentProviderError:  # unreadable, or the offline API for a checkout
        return
    if routed is not None:
        end = routed.event.current_period_end
        assert end is None or end.year < 2107  # a workflow can add grace periods to it


@FUZZ
@given(
    ts=st.text(max_size=20) | st.integers(min_value=0, max_value=10**15).map(str),
    data_id=st.text(min_size=1, max_size=20),
    request_id=st.text(min_size=1, max_size=20),
    payload=json_values | st.fixed_dictionaries({"id": json_values, "type": json_values}),
)
def test_mercadopago_signed_notification_of_any_shape_parses_or_is_refused(
    ts: str, data_id: str, request_id: str, payload: Any
) -> None:
    body = json.dumps(payload).encode()
    headers, query = mp_note(body, ts.replace(",", ""), data_id.strip(), request_id.strip())
    try:
        event = MP.verify_webhook(headers, query, body)
    except InvalidSignature as refused:
        assert refused.reason in ("missing", "malformed", "mismatch", "stale")
        return
    assert len(event.event_id) <= 120 and "\x00" not in event.type


@FUZZ
@given(headers=st.dictionaries(st.sampled_from(["x-signature", "x-request-id"]), st.text()))
def test_mercadopago_verify_refuses_any_unsigned_input_with_a_reason(
    headers: dict[str, str],
) -> None:
    try:
        MP.verify_webhook(headers, {"data.id": "1"}, b"{}")
    except InvalidSignature as refused:
        assert refused.reason in ("missing", "malformed", "mismatch", "stale")
