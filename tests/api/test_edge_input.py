"""What reaches the database is plain text and a storable IP (issue 8, item 5): control
characters are refused with 422 at the edge; an IPv6 scope id never reaches the 45-character
columns; forwarded headers count only from trusted proxies (item 9)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.models import AuditEvent, ConsentRecord
from adapters.settings import parse_networks
from api.deps import client_ip
from tests.api.conftest import ClientAt
from tests.conftest import STRONG_PASSWORD, assert_error, bearer, registration

LONG_SCOPE = "fe80::1%" + "s" * 60


@pytest.mark.parametrize("bad", ["a\x00b@example.com", "ab@example.com\x00", "a\x07b@example.com"])
async def test_control_characters_in_the_login_email_are_refused(
    api: httpx.AsyncClient, bad: str
) -> None:
    response = await api.post("/api/auth/login", json={"email": bad, "password": STRONG_PASSWORD})
    error = assert_error(response, 422, "validation_error")
    assert error["details"]["fields"][0]["field"] == "email"


async def test_control_characters_in_a_name_are_refused(
    api: httpx.AsyncClient, login: Callable[..., Any]
) -> None:
    response = await api.post("/api/auth/register", json=registration(name="Ana\x00Souza"))
    assert_error(response, 422, "validation_error")
    _, tokens = await login()
    update = await api.put("/api/auth/me", json={"name": "Ana\x00"}, headers=bearer(tokens))
    assert_error(update, 422, "validation_error")


async def test_an_email_that_lengthens_when_lowercased_is_refused_not_stored(
    api: httpx.AsyncClient,
) -> None:
    # 200 "İ" become 400 characters once lowercased: past the 254 of every e-mail column.
    email = "İ" * 200 + "@example.com"
    response = await api.post("/api/auth/login", json={"email": email, "password": "x"})
    assert_error(response, 422, "validation_error")


async def test_unpaired_surrogates_are_refused_in_names_and_passwords(
    api: httpx.AsyncClient, login: Callable[..., Any]
) -> None:
    _, tokens = await login()
    for body in (
        {"name": "Ana\udfff"},
        {"new_password": "Correct-Horse-\udfff", "current_password": STRONG_PASSWORD},
        {"name": "Ana", "current_password": "\ud800"},
    ):
        # json.dumps writes the lone surrogate as the escape "\udfff", as a hostile client would.
        response = await api.put(
            "/api/auth/me",
            content=json.dumps(body),
            headers={**bearer(tokens), "content-type": "application/json"},
        )
        assert_error(response, 422, "validation_error")
    response = await api.post(
        "/api/auth/login",
        content='{"email": "a@example.com", "password": "\\udfff"}',
        headers={"content-type": "application/json"},
    )
    assert_error(response, 422, "validation_error")


async def test_the_same_email_registered_at_once_is_one_account_and_409s(
    api: httpx.AsyncClient, db: AsyncSession
) -> None:
    body = registration()
    answers = await asyncio.gather(*(api.post("/api/auth/register", json=body) for _ in range(4)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201, 409, 409, 409], [answer.text for answer in answers]
    for answer in answers:
        if answer.status_code == 409:
            assert_error(answer, 409, "email_taken")


async def test_control_characters_in_exchange_keys_are_refused(
    api: httpx.AsyncClient, login: Callable[..., Any]
) -> None:
    _, tokens = await login()
    response = await api.post(
        "/api/credentials",
        json={"exchange": "binance", "api_key": "key\x00-12345678", "api_secret": "s" * 16},
        headers=bearer(tokens),
    )
    assert_error(response, 422, "validation_error")


async def test_a_long_ipv6_scope_id_is_dropped_before_storage(
    client_at: ClientAt, db: AsyncSession
) -> None:
    # The peer itself carries the scope, and a trusted proxy forwards one.
    direct = client_at(LONG_SCOPE)
    body = registration()
    assert (await direct.post("/api/auth/register", json=body)).status_code == 201
    proxied = client_at("10.0.0.2", trusted_proxies="10.0.0.0/8")
    response = await proxied.post(
        "/api/auth/login",
        json={"email": body["email"], "password": body["password"]},
        headers={"X-Forwarded-For": "fe80::2%" + "t" * 60},
    )
    assert response.status_code == 200, response.text
    assert set((await db.scalars(select(ConsentRecord.ip))).all()) == {"fe80::1"}
    assert "fe80::2" in set((await db.scalars(select(AuditEvent.ip))).all())


async def test_forwarded_for_counts_only_from_a_trusted_proxy(
    client_at: ClientAt, db: AsyncSession
) -> None:
    headers = {"X-Forwarded-For": "6.6.6.6, 198.51.100.9, 10.0.0.3", "CF-Connecting-IP": "7.7.7.7"}
    behind_proxy = client_at("10.0.0.2", trusted_proxies="10.0.0.0/8")
    assert (
        await behind_proxy.post("/api/auth/register", json=registration(), headers=headers)
    ).status_code == 201
    direct = client_at("203.0.113.50")
    assert (
        await direct.post("/api/auth/register", json=registration(), headers=headers)
    ).status_code == 201
    ips = set((await db.scalars(select(ConsentRecord.ip))).all())
    # The right-most hop the proxies did not add; the spoofable left part and CF header ignored.
    assert ips == {"198.51.100.9", "203.0.113.50"}


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.1", "198.51.100.1", "203.0.113.1"),  # untrusted peer: header ignored
        ("10.0.0.1", "", "10.0.0.1"),
        ("10.0.0.1", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.1", "1.1.1.1, 198.51.100.1, 10.0.0.9", "198.51.100.1"),
        ("10.0.0.1", "10.0.0.8, 10.0.0.9", "10.0.0.8"),  # every hop trusted: the first
        ("10.0.0.1", "198.51.100.1, garbage", "10.0.0.1"),  # cannot vouch past garbage
        ("::ffff:10.0.0.1", "198.51.100.1", "198.51.100.1"),  # IPv4-mapped peer
        ("10.0.0.1", "[bad", "10.0.0.1"),
        (None, "198.51.100.1", "unknown"),
    ],
)
def test_client_ip_rules(peer: str | None, forwarded: str, expected: str) -> None:
    assert client_ip(peer, forwarded, parse_networks("10.0.0.0/8")) == expected
