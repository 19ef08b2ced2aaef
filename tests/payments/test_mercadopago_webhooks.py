"""Notification delivery (retries, duplicates) and verify_webhook's refusals, each with its
reason, on notifications the simulator really sent."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import replace

import pytest

from adapters.payments.mercadopago import MercadoPagoGateway
from adapters.payments.models import InvalidSignature
from simulators.mercadopago import RunningSim
from tests.payments.conftest_mercadopago import (
    MP_DELIVERY,
    MP_PRICES,
    MP_SECRET,
    MP_TOKEN,
    MpControl,
    MpReceiver,
    Received,
)

BACK = "https://crypteras.example/billing"
# verify_webhook needs no API: the signature tests below run without a simulator.
OFFLINE = MercadoPagoGateway(MP_TOKEN, MP_SECRET, prices=MP_PRICES)


async def paid_notification(
    gateway: MercadoPagoGateway, control: MpControl, receiver: MpReceiver
) -> Received:
    checkout = await gateway.create_checkout("user-1", "p@example.com", "PRO", "pix", BACK)
    await control.post(f"/preferences/{checkout.checkout_id}/pay", {"method": "pix"})
    [note] = await receiver.of_type("payment")
    return note


def refusal(gateway: MercadoPagoGateway, received: Received) -> str:
    with pytest.raises(InvalidSignature) as refused:
        gateway.verify_webhook(received.headers, received.query, received.body)
    return refused.value.reason


def signed(data_id: str | None, request_id: str | None, manifest: str, body: bytes) -> Received:
    ts = manifest.rsplit("ts:", 1)[1].rstrip(";")
    v1 = hmac.new(MP_SECRET.encode(), manifest.encode(), hashlib.sha256).hexdigest()
    headers = {"X-Signature": f"ts={ts},v1={v1}"}
    if request_id:
        headers["X-Request-Id"] = request_id
    query = {"data.id": data_id, "type": "payment"} if data_id else {"type": "payment"}
    return Received(headers=headers, query=query, body=body)


async def test_non_2xx_answers_are_retried_until_delivered(
    mp_sim: RunningSim,
    mp_gateway: MercadoPagoGateway,
    mp_control: MpControl,
    mp_receiver: MpReceiver,
) -> None:
    mp_receiver.fail_next = 2
    await paid_notification(mp_gateway, mp_control, mp_receiver)
    got = await mp_receiver.wait_for(lambda got: len(got) == 3)
    assert len({json.loads(r.body)["id"] for r in got}) == 1  # the same notification
    assert len({r.headers["x-request-id"] for r in got}) == 3  # each attempt signed anew
    for attempt in got:
        mp_gateway.verify_webhook(attempt.headers, attempt.query, attempt.body)
    note = await mp_sim.account.notifier.settled(json.loads(got[0].body)["id"])
    assert [a.status for a in note.attempts] == [500, 500, 200] and note.delivered
    [record] = await mp_control.notifications("payment")
    assert [a["status"] for a in record["attempts"]] == [500, 500, 200]
    assert record["delivered"] is True


async def test_retries_are_bounded(
    mp_sim: RunningSim,
    mp_gateway: MercadoPagoGateway,
    mp_control: MpControl,
    mp_receiver: MpReceiver,
) -> None:
    mp_receiver.fail_next = 100
    await paid_notification(mp_gateway, mp_control, mp_receiver)
    [first] = await mp_receiver.of_type("payment")
    note = await mp_sim.account.notifier.settled(json.loads(first.body)["id"])
    assert [a.status for a in note.attempts] == [500] * MP_DELIVERY.max_attempts
    assert not note.delivered
    assert len(mp_receiver.received) == MP_DELIVERY.max_attempts


async def test_redelivery_is_signed_anew_and_keyed_on_its_signature(
    mp_gateway: MercadoPagoGateway, mp_control: MpControl, mp_receiver: MpReceiver
) -> None:
    """The same notification delivered again carries its own request id, so its key (a digest
    of the signed manifest, not the unsigned notification id) differs; it names the same
    resource, which the webhook re-reads."""
    first = await paid_notification(mp_gateway, mp_control, mp_receiver)
    note_id = json.loads(first.body)["id"]
    await mp_control.post(f"/notifications/{note_id}/redeliver")
    one, two = await mp_receiver.of_type("payment", count=2)
    events = [mp_gateway.verify_webhook(r.headers, r.query, r.body) for r in (one, two)]
    assert json.loads(one.body)["id"] == json.loads(two.body)["id"] == note_id
    assert one.headers["x-request-id"] != two.headers["x-request-id"]
    assert events[0].event_id != events[1].event_id
    assert events[0].object_id == events[1].object_id
    again = mp_gateway.verify_webhook(one.headers, one.query, one.body)
    assert again.event_id == events[0].event_id  # the same delivery keeps its key


async def test_webhook_url_is_settable(
    mp_gateway: MercadoPagoGateway, mp_control: MpControl, mp_receiver: MpReceiver
) -> None:
    response = await mp_control.http.put("/_sim/webhook", json={"url": mp_receiver.url + "?x=1"})
    assert response.status_code == 200
    note = await paid_notification(mp_gateway, mp_control, mp_receiver)
    assert note.query["x"] == "1" and "data.id" in note.query
    assert mp_gateway.verify_webhook(note.headers, note.query, note.body).object_id


async def test_missing_signature_header(
    mp_gateway: MercadoPagoGateway, mp_control: MpControl, mp_receiver: MpReceiver
) -> None:
    note = await paid_notification(mp_gateway, mp_control, mp_receiver)
    headers = {k: v for k, v in note.headers.items() if k != "x-signature"}
    assert refusal(mp_gateway, replace(note, headers=headers)) == "missing"
    assert refusal(mp_gateway, replace(note, headers={**headers, "x-signature": " "})) == "missing"


@pytest.mark.parametrize(
    "header",
    ["garbage", "ts=,v1=00", "ts=abc,v1=" + "0" * 64, "ts=1700000000", "v1=" + "0" * 64],
)
async def test_malformed_signature_header(
    header: str, mp_gateway: MercadoPagoGateway, mp_control: MpControl, mp_receiver: MpReceiver
) -> None:
    note = await paid_notification(mp_gateway, mp_control, mp_receiver)
    forged = replace(note, headers={**note.headers, "x-signature": header})
    assert refusal(mp_gateway, forged) == "malformed"


async def test_wrong_secret_is_a_mismatch(
    mp_gateway: MercadoPagoGateway, mp_control: MpControl, mp_receiver: MpReceiver
) -> None:
    note = await paid_notification(mp_gateway, mp_control, mp_receiver)
    other = MercadoPagoGateway(MP_TOKEN, "another-secret", prices=MP_PRICES)
    assert refusal(other, note) == "mismatch"


async def test_stale_timestamp(
    mp_gateway: MercadoPagoGateway, mp_control: MpControl, mp_receiver: MpReceiver
) -> None:
    await mp_control.post("/clock", {"advance_seconds": -600})  # MP's clock 10 minutes behind
    note = await paid_notification(mp_gateway, mp_control, mp_receiver)
    assert refusal(mp_gateway, note) == "stale"
    event = mp_gateway.verify_webhook(note.headers, note.query, note.body, tolerance=900)
    assert event.type == "payment"


async def test_data_id_must_match_the_signature(
    mp_gateway: MercadoPagoGateway, mp_control: MpControl, mp_receiver: MpReceiver
) -> None:
    note = await paid_notification(mp_gateway, mp_control, mp_receiver)
    other_query = replace(note, query={**note.query, "data.id": "1"})
    assert refusal(mp_gateway, other_query) == "mismatch"
    body = json.loads(note.body)
    body["data"]["id"] = "1"
    other_body = replace(note, body=json.dumps(body).encode())
    assert refusal(mp_gateway, other_body) == "mismatch"
    no_query_id = replace(note, query={"type": "payment"})
    assert refusal(mp_gateway, no_query_id) == "mismatch"


async def test_request_id_is_signed(
    mp_gateway: MercadoPagoGateway, mp_control: MpControl, mp_receiver: MpReceiver
) -> None:
    note = await paid_notification(mp_gateway, mp_control, mp_receiver)
    replayed = replace(note, headers={**note.headers, "x-request-id": "another-request"})
    assert refusal(mp_gateway, replayed) == "mismatch"


def test_alphanumeric_data_id_is_signed_lower_cased() -> None:
    mp_gateway = OFFLINE
    ts = str(int(time.time()))
    body = json.dumps({"id": 7, "type": "payment", "data": {"id": "ABC123"}}).encode()
    note = signed("ABC123", "req-1", f"id:abc123;request-id:req-1;ts:{ts};", body)
    event = mp_gateway.verify_webhook(note.headers, note.query, note.body)
    assert event.object_id == "ABC123"
    as_received = signed("ABC123", "req-1", f"id:ABC123;request-id:req-1;ts:{ts};", body)
    assert refusal(mp_gateway, as_received) == "mismatch"


def test_absent_parts_are_left_out_of_the_manifest() -> None:
    mp_gateway = OFFLINE
    ts = str(int(time.time()))
    body = json.dumps({"id": 8, "type": "payment", "data": {"id": "42"}}).encode()
    without_request_id = signed("42", None, f"id:42;ts:{ts};", body)
    assert (
        mp_gateway.verify_webhook(
            without_request_id.headers, without_request_id.query, without_request_id.body
        ).object_id
        == "42"
    )
    bare = json.dumps({"id": 9, "type": "payment"}).encode()
    without_data_id = signed(None, "req-2", f"request-id:req-2;ts:{ts};", bare)
    event = mp_gateway.verify_webhook(without_data_id.headers, without_data_id.query, bare)
    assert event.object_id is None


def test_malformed_body_after_a_good_signature() -> None:
    mp_gateway = OFFLINE
    ts = str(int(time.time()))
    for body in (b"{not json", b"[1, 2]", b'{"type": "payment"}'):
        note = signed("42", "req-3", f"id:42;request-id:req-3;ts:{ts};", body)
        assert refusal(mp_gateway, note) == "malformed"
