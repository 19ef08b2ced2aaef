"""Exchange keys through the API, validated against the Binance simulator over real HTTP."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from adapters.db.models import ExchangeCredential
from adapters.settings import Settings
from api.app import create_app
from api.deps import Services
from simulators.mercadobitcoin import RunningSim
from tests.conftest import assert_error, bearer
from tests.exchanges.conftest_binance import BinanceSim
from tests.exchanges.conftest_mercadobitcoin import MB_KEY, MB_SECRET


@pytest.fixture
async def venues_api(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    workers: list[Worker],
    db: AsyncSession,
    binance_sim: BinanceSim,
    mb_sim: RunningSim,
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with its Binance and Mercado Bitcoin adapters pointed at the simulators."""
    local = settings.model_copy(
        update={"binance_base_url": binance_sim.base_url, "mercadobitcoin_base_url": mb_sim.api_url}
    )
    app = create_app(local, Services.build(local, sessions, temporal))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


@pytest.fixture
def venue_login(venues_api: httpx.AsyncClient) -> Callable[..., Any]:
    from tests.conftest import registration

    async def _login() -> dict[str, Any]:
        body = registration()
        assert (await venues_api.post("/api/auth/register", json=body)).status_code == 201
        response = await venues_api.post(
            "/api/auth/login", json={"email": body["email"], "password": body["password"]}
        )
        return dict(response.json())

    return _login


async def test_saving_valid_keys_stores_them_sealed_and_masked(
    venues_api: httpx.AsyncClient,
    venue_login: Callable[..., Any],
    binance_sim: BinanceSim,
    db: AsyncSession,
    captured_log: io.StringIO,
) -> None:
    tokens = await venue_login()
    key, secret = await binance_sim.account(BRL="1000")
    response = await venues_api.post(
        "/api/credentials",
        json={"exchange": "binance", "api_key": key, "api_secret": secret},
        headers=bearer(tokens),
    )
    assert response.status_code == 201, response.text
    saved = response.json()
    assert saved["api_key"] == "••••" + key[-4:]
    assert saved["status"] == "valid" and saved["can_withdraw"] is False
    assert saved["warnings"] == []

    listed = (await venues_api.get("/api/credentials", headers=bearer(tokens))).json()
    assert [c["exchange"] for c in listed] == ["binance"]
    export = (await venues_api.get("/api/users/me/export", headers=bearer(tokens))).text
    row = await db.scalar(select(ExchangeCredential))
    assert row is not None
    for text in (response.text, str(listed), export, captured_log.getvalue()):
        assert key not in text and secret not in text
    assert secret not in row.api_secret_sealed and key not in row.api_key_sealed
    assert row.key_version == 1


async def test_saving_twice_replaces_the_key_with_new_ciphertext(
    venues_api: httpx.AsyncClient,
    venue_login: Callable[..., Any],
    binance_sim: BinanceSim,
    db: AsyncSession,
) -> None:
    tokens = await venue_login()
    key, secret = await binance_sim.account()
    body = {"exchange": "binance", "api_key": key, "api_secret": secret}
    await venues_api.post("/api/credentials", json=body, headers=bearer(tokens))
    first = (await db.scalars(select(ExchangeCredential.api_secret_sealed))).one()
    await venues_api.post("/api/credentials", json=body, headers=bearer(tokens))
    db.expire_all()
    rows = (await db.scalars(select(ExchangeCredential.api_secret_sealed))).all()
    assert len(rows) == 1 and rows[0] != first


async def test_key_with_withdrawal_permission_is_saved_with_a_warning(
    venues_api: httpx.AsyncClient, venue_login: Callable[..., Any], binance_sim: BinanceSim
) -> None:
    tokens = await venue_login()
    key, secret = f"wd-{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    created = await binance_sim.http.post(
        "/_sim/accounts", json={"api_key": key, "secret": secret, "enable_withdrawals": True}
    )
    assert created.status_code == 201
    response = await venues_api.post(
        "/api/credentials",
        json={"exchange": "binance", "api_key": key, "api_secret": secret},
        headers=bearer(tokens),
    )
    assert response.status_code == 201
    assert response.json()["can_withdraw"] is True
    assert response.json()["warnings"][0].startswith("withdrawal_permission")


async def test_wrong_secret_is_refused_and_nothing_is_stored(
    venues_api: httpx.AsyncClient,
    venue_login: Callable[..., Any],
    binance_sim: BinanceSim,
    db: AsyncSession,
) -> None:
    tokens = await venue_login()
    key, _secret = await binance_sim.account()
    response = await venues_api.post(
        "/api/credentials",
        json={"exchange": "binance", "api_key": key, "api_secret": "not-the-right-secret"},
        headers=bearer(tokens),
    )
    error = assert_error(response, 422, "credentials_rejected")
    assert error["details"] == {"exchange": "binance"}
    assert (await db.scalars(select(ExchangeCredential))).all() == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            {"exchange": "paper", "api_key": "abcdefgh", "api_secret": "abcdefgh"},
            "paper_needs_no_credentials",
        ),
        (
            {"exchange": "kraken", "api_key": "abcdefgh", "api_secret": "abcdefgh"},
            "validation_error",
        ),
        (
            {"exchange": "binance", "api_key": "abc defgh", "api_secret": "abcdefgh"},
            "validation_error",
        ),
        ({"exchange": "binance", "api_key": "short", "api_secret": "abcdefgh"}, "validation_error"),
        (
            {
                "exchange": "mercadobitcoin",
                "api_key": "abcdefgh",
                "api_secret": "abcdefgh",
                "testnet": True,
            },
            "testnet_not_supported",
        ),
    ],
)
async def test_bad_credential_requests_are_refused(
    venues_api: httpx.AsyncClient,
    venue_login: Callable[..., Any],
    body: dict[str, Any],
    code: str,
) -> None:
    tokens = await venue_login()
    response = await venues_api.post("/api/credentials", json=body, headers=bearer(tokens))
    assert_error(response, 422, code)


async def test_delete_credentials(
    venues_api: httpx.AsyncClient, venue_login: Callable[..., Any], binance_sim: BinanceSim
) -> None:
    tokens = await venue_login()
    key, secret = await binance_sim.account()
    await venues_api.post(
        "/api/credentials",
        json={"exchange": "binance", "api_key": key, "api_secret": secret},
        headers=bearer(tokens),
    )
    deleted = await venues_api.delete("/api/credentials/binance", headers=bearer(tokens))
    assert deleted.status_code == 204
    assert (await venues_api.get("/api/credentials", headers=bearer(tokens))).json() == []
    again = await venues_api.delete("/api/credentials/binance", headers=bearer(tokens))
    assert_error(again, 404, "credentials_not_found")


async def test_credentials_are_scoped_to_their_owner(
    venues_api: httpx.AsyncClient, venue_login: Callable[..., Any], binance_sim: BinanceSim
) -> None:
    owner, other = await venue_login(), await venue_login()
    key, secret = await binance_sim.account()
    await venues_api.post(
        "/api/credentials",
        json={"exchange": "binance", "api_key": key, "api_secret": secret},
        headers=bearer(owner),
    )
    assert (await venues_api.get("/api/credentials", headers=bearer(other))).json() == []
    refused = await venues_api.delete("/api/credentials/binance", headers=bearer(other))
    assert_error(refused, 404, "credentials_not_found")


async def test_catalogue_lists_each_venues_markets_and_timeframes(
    venues_api: httpx.AsyncClient,
) -> None:
    pairs = await venues_api.get("/api/exchanges/binance/pairs")
    assert pairs.status_code == 200, pairs.text
    body = pairs.json()
    assert len(body["timeframes"]) == 16
    btc = next(p for p in body["pairs"] if p["symbol"] == "BTC-BRL")
    assert (btc["base"], btc["quote"]) == ("BTC", "BRL")
    assert isinstance(btc["price_tick"], str)  # decimals travel as strings
    paper = (await venues_api.get("/api/exchanges/paper/pairs")).json()
    assert "TRX-BTC" in [p["symbol"] for p in paper["pairs"]]
    listed = (await venues_api.get("/api/exchanges/symbols")).json()
    by_venue = {v["exchange"]: v for v in listed}
    assert "BTC-BRL" in by_venue["binance"]["symbols"]
    assert by_venue["paper"]["available"] is True
    assert_error(await venues_api.get("/api/exchanges/kraken/pairs"), 422, "validation_error")


async def test_mercado_bitcoin_keys_validate_through_its_token_login(
    venues_api: httpx.AsyncClient, venue_login: Callable[..., Any]
) -> None:
    tokens = await venue_login()
    saved = await venues_api.post(
        "/api/credentials",
        json={"exchange": "mercadobitcoin", "api_key": MB_KEY, "api_secret": MB_SECRET},
        headers=bearer(tokens),
    )
    assert saved.status_code == 201, saved.text
    assert saved.json()["can_withdraw"] is None  # MB does not report key permissions
    refused = await venues_api.post(
        "/api/credentials",
        json={"exchange": "mercadobitcoin", "api_key": MB_KEY, "api_secret": "wrong-password"},
        headers=bearer(tokens),
    )
    assert_error(refused, 422, "credentials_rejected")
