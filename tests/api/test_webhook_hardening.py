"""The webhook endpoints against odd and hostile deliveries: never a 500. A bad signature header
or a signed body that is not an event is a 400 `invalid_signature` naming the reason; a signed
event whose object we cannot read is acknowledged, recorded and ignored; a Mercado Pago
notification is deduplicated on what its signature covers."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.models import PaymentEventRecord
from tests.conftest import assert_error
from tests.payments.test_webhook_parsing import (
    HEX64,
    mp_note,
    stripe_event,
    stripe_signed,
    subscription,
)

pytestmark = pytest.mark.database


async def post_stripe(api: httpx.AsyncClient, body: bytes, signature: str) -> httpx.Response:
    # Headers go out as UTF-8 bytes, as any client may send them (the server reads latin-1).
    headers = {"Stripe-Signature": signature.encode(), "Content-Type": b"application/json"}
    return await api.post("/api/webhooks/stripe", content=body, headers=headers)


async def post_mp(
    api: httpx.AsyncClient, body: bytes, headers: dict[str, str], query: dict[str, str]
) -> httpx.Response:
    encoded = {name: value.encode() for name, value in headers.items()}
    return await api.post("/api/webhooks/mercadopago", params=query, content=body, headers=encoded)


async def outcomes(db: AsyncSession) -> list[str]:
    return list((await db.scalars(select(PaymentEventRecord.outcome))).all())


@pytest.mark.parametrize(
    "header", [f"t=\u00b2,v1={HEX64}", f"t={'9' * 5000},v1={HEX64}", "t=1700000000,v1=\u00e9"]
)
async def test_stripe_signature_header_of_odd_shape_is_a_400(
    api: httpx.AsyncClient, db: AsyncSession, header: str
) -> None:
    body = stripe_event("invoice.paid", {"id": "in_1"})
    response = await post_stripe(api, body, header)
    assert assert_error(response, 400, "invalid_signature")["details"] == {"reason": "malformed"}
    assert await outcomes(db) == []


@pytest.mark.parametrize("body", [b"[1, 2]", b"3", b"null"])
async def test_signed_body_that_is_not_an_event_is_a_400(
    api: httpx.AsyncClient, db: AsyncSession, body: bytes
) -> None:
    response = await post_stripe(api, body, stripe_signed(body))
    assert assert_error(response, 400, "invalid_signature")["details"] == {"reason": "malformed"}
    assert await outcomes(db) == []


@pytest.mark.parametrize(
    "obj",
    [
        subscription(current_period_end="1800000000"),
        subscription(current_period_end=10**20),
        subscription(items={"data": [{"current_period_end": 2**40}]}),
    ],
)
async def test_signed_event_we_cannot_read_is_acknowledged_once_and_ignored(
    api: httpx.AsyncClient, db: AsyncSession, obj: dict[str, object]
) -> None:
    body = stripe_event("customer.subscription.updated", obj)
    first = await post_stripe(api, body, stripe_signed(body))
    assert first.status_code == 200, first.text
    assert first.json() == {"received": True, "outcome": "ignored: unreadable event"}
    again = await post_stripe(api, body, stripe_signed(body))
    assert again.json()["outcome"] == "duplicate"
    assert await outcomes(db) == ["ignored: unreadable event"]


async def test_mercadopago_timestamp_of_odd_shape_is_a_400(
    api: httpx.AsyncClient, db: AsyncSession
) -> None:
    body = json.dumps({"id": 1, "type": "payment", "data": {"id": "42"}}).encode()
    for ts in ("\u00b2", "9" * 5000):
        response = await post_mp(api, body, *mp_note(body, ts))
        assert assert_error(response, 400, "invalid_signature")["details"] == {
            "reason": "malformed"
        }
    assert await outcomes(db) == []


async def test_mercadopago_stale_timestamp_is_a_400(
    api: httpx.AsyncClient, db: AsyncSession
) -> None:
    body = json.dumps({"id": 1, "type": "payment", "data": {"id": "42"}}).encode()
    for age in (301, -301):
        response = await post_mp(api, body, *mp_note(body, str(int(time.time()) - age)))
        assert assert_error(response, 400, "invalid_signature")["details"] == {"reason": "stale"}
    assert await outcomes(db) == []


async def test_captured_mercadopago_notification_resent_with_another_id_is_a_duplicate(
    api: httpx.AsyncClient, db: AsyncSession
) -> None:
    """The body's notification id is not signed: a replay within the tolerance that changes it
    must still be recognised, so duplicates are keyed on the signed data.id, request id and
    ts."""
    ts = str(int(time.time()))
    original = json.dumps({"id": 1001, "type": "payment", "data": {"id": "999999"}}).encode()
    headers, query = mp_note(original, ts, data_id="999999", request_id="req-captured")
    first = await post_mp(api, original, headers, query)
    assert first.status_code == 200, first.text
    assert first.json()["outcome"].startswith("ignored")  # MP has no payment 999999
    replayed = original.replace(b"1001", b"1002")
    second = await post_mp(api, replayed, headers, query)
    assert second.status_code == 200, second.text
    assert second.json()["outcome"] == "duplicate"
    assert len(await outcomes(db)) == 1
    # A genuine new delivery (MP signs each attempt with its own request id) is not a duplicate.
    retry_headers, _ = mp_note(original, ts, data_id="999999", request_id="req-retry")
    retried = await post_mp(api, original, retry_headers, query)
    assert retried.json()["outcome"] != "duplicate"
