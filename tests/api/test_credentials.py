"""Exchange keys through the API, validated against the Binance simulator over real HTTP."""

from __future__ import annotations

import io
import json
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
from adapters.exchanges.binance import BinanceExchange
from adapters.exchanges.errors import RequestNotSent
from adapters.exchanges.factory import ExchangeFactory
from adapters.exchanges.keys import MalformedKey
from adapters.exchanges.resilience import BreakerState, CircuitBreaker
from adapters.settings import Settings
from api.app import create_app
from api.deps import Services
from domain.market import Venue
from simulators.mercadobitcoin import RunningSim
from tests.conftest import assert_error, bearer, free_port
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
    logged = [json.loads(line) for line in captured_log.getvalue().splitlines()]
    # The log checked below really holds this test's requests, the save among them.
    assert {(line.get("method"), line.get("route"), line.get("status")) for line in logged} >= {
        ("POST", "/api/credentials", 201),
        ("GET", "/api/credentials", 200),
    }
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


# -- key formats, the shared breaker, 503 bodies ----------------------------------------------

NUL_KEY = "a" * 30 + "\u0000" + "b" * 33


async def _save(api: httpx.AsyncClient, tokens: dict[str, Any], **body: Any) -> httpx.Response:
    return await api.post("/api/credentials", json=body, headers=bearer(tokens))


async def test_a_nul_in_one_users_key_does_not_shut_binance_for_everyone(
    venues_api: httpx.AsyncClient,
    venue_login: Callable[..., Any],
    binance_sim: BinanceSim,
) -> None:
    careless, other = await venue_login(), await venue_login()
    for _ in range(3):  # two were enough to open the shared breaker
        refused = await _save(
            venues_api, careless, exchange="binance", api_key=NUL_KEY, api_secret="c" * 64
        )
        error = assert_error(refused, 422, "validation_error")
        assert [f["field"] for f in error["details"]["fields"]] == ["api_key"]
    key, secret = await binance_sim.account()
    saved = await _save(venues_api, other, exchange="binance", api_key=key, api_secret=secret)
    assert saved.status_code == 201, saved.text


@pytest.mark.parametrize(
    ("exchange", "field", "value"),
    [
        ("binance", "api_key", "clé-" + "a" * 60),  # non-ASCII: was a 500
        ("binance", "api_secret", "sécret" + "a" * 58),
        ("binance", "api_key", "a" * 60 + "$%&!"),
        ("binance", "api_key", "a" * 129),
        ("mercadobitcoin", "api_key", "login\u0000name"),
        ("mercadobitcoin", "api_secret", "pässword-123"),
        ("mercadobitcoin", "api_secret", "p" * 257),
    ],
)
async def test_keys_outside_the_venues_format_are_422_naming_the_field(
    venues_api: httpx.AsyncClient,
    venue_login: Callable[..., Any],
    exchange: str,
    field: str,
    value: str,
) -> None:
    tokens = await venue_login()
    body = {"exchange": exchange, "api_key": "a" * 64, "api_secret": "b" * 64, field: value}
    error = assert_error(await _save(venues_api, tokens, **body), 422, "validation_error")
    assert [f["field"] for f in error["details"]["fields"]] == [field]


def test_the_factory_refuses_malformed_keys_before_any_network_call(settings: Settings) -> None:
    factory = ExchangeFactory(settings)
    with pytest.raises(MalformedKey) as refused:
        factory.connect(Venue.BINANCE, NUL_KEY, "c" * 64)
    assert refused.value.field == "api_key" and not refused.value.retryable
    with pytest.raises(MalformedKey) as refused:
        factory.connect(Venue.MERCADO_BITCOIN, "login-ok", "pass word")
    assert refused.value.field == "api_secret"


@pytest.mark.parametrize("key", [NUL_KEY, "clé-" + "a" * 60, "line\nbreak" + "a" * 50])
async def test_an_unsendable_key_never_trips_the_breaker(binance_sim: BinanceSim, key: str) -> None:
    """Past the format checks (an adapter built directly): the request cannot be encoded, so
    the venue was never asked and the breaker learns nothing."""
    breaker = CircuitBreaker("binance", failure_threshold=2)
    bad = BinanceExchange(key, "c" * 64, base_url=binance_sim.base_url, breaker=breaker)
    try:
        for _ in range(5):
            with pytest.raises(RequestNotSent) as raised:
                await bad.permissions()
            assert not raised.value.retryable
    finally:
        await bad.aclose()
    assert breaker.state is BreakerState.CLOSED
    good_key, good_secret = await binance_sim.account()
    good = BinanceExchange(good_key, good_secret, base_url=binance_sim.base_url, breaker=breaker)
    try:
        await good.permissions()
    finally:
        await good.aclose()


@pytest.fixture
async def dead_venue_api(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    workers: list[Worker],
    db: AsyncSession,
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with Binance pointed at a port where nothing listens."""
    dead = settings.model_copy(update={"binance_base_url": f"http://127.0.0.1:{free_port()}"})
    app = create_app(dead, Services.build(dead, sessions, temporal))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


async def test_503_answers_carry_no_exception_text(dead_venue_api: httpx.AsyncClient) -> None:
    from tests.conftest import registration

    body = registration()
    await dead_venue_api.post("/api/auth/register", json=body)
    tokens = (
        await dead_venue_api.post(
            "/api/auth/login", json={"email": body["email"], "password": body["password"]}
        )
    ).json()
    saved = await _save(
        dead_venue_api, tokens, exchange="binance", api_key="a" * 64, api_secret="b" * 64
    )
    pairs = await dead_venue_api.get("/api/exchanges/binance/pairs")
    for response in (saved, pairs):
        error = assert_error(response, 503, "exchange_unavailable")
        assert error["details"] == {"exchange": "binance"}
        for leak in ("Error", "127.0.0.1", "Traceback", "api/v3"):
            assert leak not in response.text
