"""The pages a browser lands on: the site root and where the payment providers send the payer
back. Plain HTML, nothing loaded from elsewhere, every value from the URL escaped."""

from __future__ import annotations

import re

import httpx
import pytest

HOSTILE = '<script>alert("x")</script>'


async def page(api: httpx.AsyncClient, path: str, **params: str) -> str:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    html = response.text
    assert not re.search(r"<script|<style|src=|https?://", html)  # no scripts, no assets
    return html


async def test_root_is_a_page_linking_on(api: httpx.AsyncClient) -> None:
    html = await page(api, "/")
    assert "<h1>Crypteras</h1>" in html
    assert 'href="/docs"' in html and 'href="/api/health"' in html


async def test_stripe_success_says_the_payment_was_taken_and_escapes_the_reference(
    api: httpx.AsyncClient,
) -> None:
    html = await page(api, "/billing/success", session_id=HOSTILE)
    assert "<h1>Payment received</h1>" in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert 'href="/api/subscriptions/me"' in html


async def test_stripe_cancel_says_nothing_was_charged(api: httpx.AsyncClient) -> None:
    html = await page(api, "/billing/canceled")
    assert "<h1>Checkout canceled</h1>" in html and "Nothing was charged" in html


@pytest.mark.parametrize(
    ("params", "title"),
    [
        ({"collection_status": "approved", "payment_id": "123"}, "Payment received"),
        ({"status": "authorized", "preapproval_id": "pre_1"}, "Payment received"),
        ({"collection_status": "pending", "payment_id": "124"}, "Payment pending"),
        ({"collection_status": "rejected"}, "Payment not completed"),
        ({"collection_status": "null"}, "Payment not completed"),  # the payer went back
        ({}, "Payment not completed"),
        ({"status": HOSTILE, "payment_id": HOSTILE}, "Payment not completed"),
    ],
)
async def test_mercadopago_return_says_what_happened(
    api: httpx.AsyncClient, params: dict[str, str], title: str
) -> None:
    html = await page(api, "/billing/return", **params)
    assert f"<h1>{title}</h1>" in html
