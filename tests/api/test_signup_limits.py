"""Register and checkout are rate-limited; weak passwords are refused with the reason (issue 8,
item 11)."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import ClientAt
from tests.conftest import STRONG_PASSWORD, assert_error, bearer, registration


async def test_registrations_per_ip_are_limited(client_at: ClientAt) -> None:
    client = client_at("198.51.100.60", register_max_per_hour=2)
    for _ in range(2):
        assert (await client.post("/api/auth/register", json=registration())).status_code == 201
    # A refused attempt (here a taken e-mail would be too) counts, then the limit answers.
    refused = await client.post("/api/auth/register", json=registration())
    error = assert_error(refused, 429, "too_many_requests")
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert error["details"]["retry_after_seconds"] == int(refused.headers["Retry-After"])
    other = client_at("198.51.100.61", register_max_per_hour=2)
    assert (await other.post("/api/auth/register", json=registration())).status_code == 201


async def test_failed_registrations_count_too(client_at: ClientAt) -> None:
    client = client_at("198.51.100.62", register_max_per_hour=2)
    body = registration()
    assert (await client.post("/api/auth/register", json=body)).status_code == 201
    assert (await client.post("/api/auth/register", json=body)).status_code == 409
    assert (await client.post("/api/auth/register", json=registration())).status_code == 429


async def test_checkouts_per_user_are_limited(client_at: ClientAt) -> None:
    client = client_at("198.51.100.63", checkout_max_per_hour=1)
    body = registration()
    assert (await client.post("/api/auth/register", json=body)).status_code == 201
    tokens = (
        await client.post(
            "/api/auth/login", json={"email": body["email"], "password": body["password"]}
        )
    ).json()
    order = {"plan": "PRO", "provider": "stripe"}
    first = await client.post("/api/subscriptions/checkout", json=order, headers=bearer(tokens))
    assert first.status_code == 201, first.text
    second = await client.post("/api/subscriptions/checkout", json=order, headers=bearer(tokens))
    assert_error(second, 429, "too_many_requests")
    assert int(second.headers["Retry-After"]) > 0


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("abababab12", "is a repeated pattern"),
        ("Crypteras2024!", "must not contain the product name"),
        ("password1234", "is a common password (found in breached-password lists)"),
    ],
)
async def test_weak_passwords_are_refused_with_the_reason(
    api: httpx.AsyncClient, password: str, reason: str
) -> None:
    response = await api.post("/api/auth/register", json=registration(password=password))
    error = assert_error(response, 422, "weak_password")
    assert reason in error["details"]["problems"]
    assert reason in error["message"]


async def test_a_strong_password_is_accepted(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/auth/register", json=registration(password=STRONG_PASSWORD))
    assert response.status_code == 201, response.text
