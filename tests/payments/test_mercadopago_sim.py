"""The official mercadopago SDK against the simulator, over HTTP: shapes, auth, idempotency."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import mercadopago
import pytest
from mercadopago.config import RequestOptions

from adapters.payments.mercadopago import RebasedHttpClient
from simulators.mercadopago import RunningSim

PREAPPROVAL = {
    "reason": "Crypteras PRO",
    "external_reference": "user-1:PRO",
    "payer_email": "payer@example.com",
    "back_url": "https://crypteras.example/billing",
    "auto_recurring": {
        "frequency": 1,
        "frequency_type": "months",
        "transaction_amount": 19.9,
        "currency_id": "BRL",
    },
    "status": "pending",
}
PREFERENCE = {
    "items": [{"title": "Crypteras PRO", "quantity": 1, "unit_price": 19.9, "currency_id": "BRL"}],
    "external_reference": "user-1:PRO",
    "payer": {"email": "payer@example.com"},
    "metadata": {"plan": "PRO", "price": 19.9},
}


def keyed(key: str) -> Any:
    return RequestOptions(custom_headers={"x-idempotency-key": key})


async def test_preapproval_create_get_cancel_with_the_sdk(mp_sdk: Any, mp_sim: RunningSim) -> None:
    created = await asyncio.to_thread(mp_sdk.preapproval().create, PREAPPROVAL)
    assert created["status"] == 201
    pre = created["response"]
    assert pre["status"] == "pending"
    assert pre["init_point"] == f"{mp_sim.url}/_sim/checkout/preapproval/{pre['id']}"
    assert pre["auto_recurring"]["transaction_amount"] == 19.9
    assert pre["auto_recurring"]["frequency_type"] == "months"
    assert (pre["external_reference"], pre["payer_email"]) == ("user-1:PRO", "payer@example.com")

    fetched = await asyncio.to_thread(mp_sdk.preapproval().get, pre["id"])
    assert fetched["status"] == 200 and fetched["response"]["id"] == pre["id"]

    cancelled = await asyncio.to_thread(
        mp_sdk.preapproval().update, pre["id"], {"status": "cancelled"}
    )
    assert cancelled["status"] == 200 and cancelled["response"]["status"] == "cancelled"

    reopened = await asyncio.to_thread(
        mp_sdk.preapproval().update, pre["id"], {"status": "authorized"}
    )
    assert reopened["status"] == 400
    assert reopened["response"]["error"] == "bad_request"
    assert reopened["response"]["cause"][0]["code"] == "invalid_status"


async def test_preapproval_search_by_payer_email(mp_sdk: Any) -> None:
    await asyncio.to_thread(mp_sdk.preapproval().create, PREAPPROVAL)
    other = {**PREAPPROVAL, "payer_email": "other@example.com"}
    await asyncio.to_thread(mp_sdk.preapproval().create, other)
    found = await asyncio.to_thread(
        mp_sdk.preapproval().search, {"payer_email": "payer@example.com"}
    )
    assert found["status"] == 200
    assert found["response"]["paging"]["total"] == 1
    assert found["response"]["results"][0]["payer_email"] == "payer@example.com"


async def test_preference_create_and_get_with_the_sdk(mp_sdk: Any, mp_sim: RunningSim) -> None:
    created = await asyncio.to_thread(mp_sdk.preference().create, PREFERENCE)
    assert created["status"] == 201
    pref = created["response"]
    assert pref["init_point"] == f"{mp_sim.url}/_sim/checkout/preferences/{pref['id']}"
    assert pref["items"][0]["unit_price"] == 19.9
    fetched = await asyncio.to_thread(mp_sdk.preference().get, pref["id"])
    assert fetched["response"]["external_reference"] == "user-1:PRO"
    assert fetched["response"]["metadata"] == {"plan": "PRO", "price": 19.9}


@pytest.mark.parametrize("payment_id", ["999", "²", "9" * 5000])
async def test_unknown_payment_is_an_mp_not_found(mp_sdk: Any, payment_id: str) -> None:
    result = await asyncio.to_thread(mp_sdk.payment().get, payment_id)
    assert result["status"] == 404
    body = result["response"]
    assert (body["error"], body["status"], body["message"]) == (
        "not_found",
        404,
        "Payment not found",
    )
    assert body["cause"][0]["code"] == 2000


async def test_bad_access_token_is_refused_with_401(mp_sim: RunningSim) -> None:
    sdk = mercadopago.SDK("TEST-wrong-token", http_client=RebasedHttpClient(mp_sim.url))
    result = await asyncio.to_thread(sdk.preapproval().create, PREAPPROVAL)
    assert result["status"] == 401
    assert result["response"] == {
        "message": "invalid access token",
        "error": "unauthorized",
        "status": 401,
        "cause": [],
    }
    async with httpx.AsyncClient(base_url=mp_sim.url) as http:
        anonymous = await http.get("/v1/payments/1")
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"
    assert mp_sim.account.preapprovals == {}


async def test_idempotency_key_replays_and_conflicts(mp_sdk: Any, mp_sim: RunningSim) -> None:
    first = await asyncio.to_thread(mp_sdk.preapproval().create, PREAPPROVAL, keyed("k-1"))
    again = await asyncio.to_thread(mp_sdk.preapproval().create, PREAPPROVAL, keyed("k-1"))
    assert first["status"] == again["status"] == 201
    assert again["response"] == first["response"]
    assert len(mp_sim.account.preapprovals) == 1

    changed = {**PREAPPROVAL, "reason": "Crypteras MAX"}
    conflict = await asyncio.to_thread(mp_sdk.preapproval().create, changed, keyed("k-1"))
    assert conflict["status"] == 409 and conflict["response"]["error"] == "conflict"

    # Without a key of its own the SDK sends a fresh one: a second preapproval.
    await asyncio.to_thread(mp_sdk.preapproval().create, PREAPPROVAL)
    assert len(mp_sim.account.preapprovals) == 2


async def test_invalid_preapproval_names_the_fields(mp_sdk: Any) -> None:
    body = {k: v for k, v in PREAPPROVAL.items() if k != "auto_recurring"}
    result = await asyncio.to_thread(mp_sdk.preapproval().create, {**body, "payer_email": "x"})
    assert result["status"] == 400
    described = " ".join(c["description"] for c in result["response"]["cause"])
    assert "auto_recurring" in described and "payer_email" in described


async def test_payment_search_by_external_reference(mp_sdk: Any, mp_control: Any) -> None:
    pref = (await asyncio.to_thread(mp_sdk.preference().create, PREFERENCE))["response"]
    paid = await mp_control.post(f"/preferences/{pref['id']}/pay", {"method": "pix"})
    found = await asyncio.to_thread(mp_sdk.payment().search, {"external_reference": "user-1:PRO"})
    assert [p["id"] for p in found["response"]["results"]] == [paid["id"]]
    missing = await asyncio.to_thread(mp_sdk.payment().search, {"external_reference": "x:MAX"})
    assert missing["response"]["results"] == []
