"""The simulator's command-line options and the checkout pages behind init_point."""

from __future__ import annotations

import argparse
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.payments.mercadopago import MercadoPagoGateway
from simulators.mercadopago import add_arguments, config_from_args
from tests.payments.conftest_mercadopago import MpControl, MpReceiver

BACK = "https://crypteras.example/billing?from=mp"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_options_build_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MERCADOPAGO_ACCESS_TOKEN", raising=False)
    args = parse(
        [
            "--port=9999",
            "--access-token=TEST-a",
            "--access-token=TEST-b",
            "--webhook-url=http://127.0.0.1:8000/api/webhooks/mercadopago",
            "--webhook-secret=s3",
            "--retry-delay=0.5",
        ]
    )
    config = config_from_args(args)
    assert args.port == 9999 and config.access_tokens == ["TEST-a", "TEST-b"]
    assert config.webhook_url == "http://127.0.0.1:8000/api/webhooks/mercadopago"
    assert (config.webhook_secret, config.delivery.initial_delay_seconds) == ("s3", 0.5)


def test_options_refuse_a_missing_secret_or_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MERCADOPAGO_ACCESS_TOKEN", raising=False)
    monkeypatch.delenv("MERCADOPAGO_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ValueError, match="access-token"):
        config_from_args(parse(["--webhook-secret=s"]))
    with pytest.raises(ValueError, match="webhook-secret"):
        config_from_args(parse(["--access-token=TEST-a"]))
    monkeypatch.setenv("MERCADOPAGO_ACCESS_TOKEN", "TEST-env")
    assert config_from_args(parse(["--webhook-secret=s"])).access_tokens == ["TEST-env"]


async def test_preference_page_pays_and_returns_to_the_back_url(
    mp_gateway: MercadoPagoGateway, mp_control: MpControl, mp_receiver: MpReceiver
) -> None:
    checkout = await mp_gateway.create_checkout("user-1", "p@example.com", "PRO", "pix", BACK)
    page = await mp_control.http.get(checkout.checkout_url)
    assert page.status_code == 200 and "R$ 19.90" in page.text
    assert "Pay with PIX" in page.text and "Pay with card" not in page.text

    submitted = await mp_control.http.post(
        urlsplit(checkout.checkout_url).path, data={"choice": "pix"}
    )
    assert submitted.status_code == 303
    back = urlsplit(submitted.headers["location"])
    params = parse_qs(back.query)
    assert back.netloc == "crypteras.example" and params["from"] == ["mp"]
    assert params["status"] == ["approved"] and params["external_reference"] == ["user-1:PRO"]
    [note] = await mp_receiver.of_type("payment")
    event = mp_gateway.verify_webhook(note.headers, note.query, note.body)
    assert [event.object_id] == params["payment_id"]


async def test_preapproval_page_subscribes(
    mp_gateway: MercadoPagoGateway, mp_control: MpControl, mp_receiver: MpReceiver
) -> None:
    checkout = await mp_gateway.create_checkout("user-2", "s@example.com", "MAX", "card", BACK)
    page = await mp_control.http.get(checkout.checkout_url)
    assert "Subscribe with card" in page.text
    submitted = await mp_control.http.post(
        urlsplit(checkout.checkout_url).path, data={"choice": "authorize"}
    )
    assert submitted.status_code == 303
    assert parse_qs(urlsplit(submitted.headers["location"]).query)["preapproval_id"] == [
        checkout.checkout_id
    ]
    [note] = await mp_receiver.of_type("subscription_preapproval")
    assert mp_gateway.verify_webhook(note.headers, note.query, note.body).object_id
    assert (await mp_gateway.get_preapproval(checkout.checkout_id)).status.value == "active"
