"""Security headers on every response, docs and metrics only where configured."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from adapters.settings import Environment, Settings
from api.app import create_app
from api.deps import Services
from tests.conftest import assert_error

METRICS_TOKEN = "m" * 40

AppClient = Callable[..., Any]


@pytest.fixture
def app_client(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    db: AsyncSession,
) -> AppClient:
    """An API client for the test settings with some of them changed."""

    @asynccontextmanager
    async def make(**changes: Any) -> AsyncIterator[httpx.AsyncClient]:
        changed = settings.model_copy(update=changes)
        app = create_app(changed, Services.build(changed, sessions, temporal))

        @app.get("/api/test-boom", include_in_schema=False)
        async def boom() -> None:
            raise RuntimeError("internal detail that must not leak")

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client

    return make


def assert_secured(response: httpx.Response) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "server" not in headers


class TestSecurityHeaders:
    async def test_api_answers_carry_them_and_are_never_cached(
        self, api: httpx.AsyncClient, login: Callable[..., Any]
    ) -> None:
        _, tokens = await login()  # the login answer carries the tokens
        for response in (
            await api.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}),
            await api.get("/api/legal/terms"),
            await api.get("/api/nope"),
        ):
            assert_secured(response)
            assert response.headers["content-security-policy"].startswith("default-src 'none';")
            assert response.headers["cache-control"] == "no-store"
            assert "strict-transport-security" not in response.headers

    async def test_an_unhandled_error_is_secured_too(self, app_client: AppClient) -> None:
        async with app_client() as client:
            response = await client.get("/api/test-boom")
            metrics = (await client.get("/metrics")).text
        assert_error(response, 500, "internal_error")
        assert_secured(response)
        assert response.headers["cache-control"] == "no-store"
        assert len(response.headers["x-request-id"]) == 32
        assert "internal detail" not in response.text
        assert 'crypteras_api_errors_total{method="GET",route="/api/test-boom"} 1.0' in metrics

    async def test_hsts_when_served_over_https(self, app_client: AppClient) -> None:
        async with app_client(public_base_url="https://api.crypteras.example") as client:
            response = await client.get("/api/legal/terms")
        assert response.headers["strict-transport-security"].startswith("max-age=")

    async def test_the_docs_page_runs_only_its_own_scripts(self, api: httpx.AsyncClient) -> None:
        page = await api.get("/docs")
        assert_secured(page)
        csp = page.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "unsafe" not in csp
        assert "<script>" not in page.text  # nothing inline: every script has a src
        init = await api.get("/docs/init.js")
        assert init.status_code == 200 and "SwaggerUIBundle" in init.text
        asset = await api.get("/docs/assets/swagger-ui.css")
        assert asset.status_code == 200 and "cache-control" not in asset.headers

    async def test_uvicorn_sends_no_server_banner(self, live_api: str) -> None:
        async with httpx.AsyncClient(base_url=live_api) as client:
            response = await client.get("/api/legal/terms")
        assert response.status_code == 200
        assert_secured(response)


class TestDocsAndMetricsByEnvironment:
    async def test_production_serves_neither_docs_nor_open_metrics(
        self, app_client: AppClient
    ) -> None:
        async with app_client(environment=Environment.PRODUCTION) as client:
            for path in ("/docs", "/openapi.json", "/docs/assets/swagger-ui.css", "/redoc"):
                assert_error(await client.get(path), 404, "not_found")
            assert_error(await client.get("/metrics"), 404, "not_found")

    async def test_production_metrics_need_the_token(self, app_client: AppClient) -> None:
        token = SecretStr(METRICS_TOKEN)
        async with app_client(environment=Environment.PRODUCTION, metrics_token=token) as client:
            assert_error(await client.get("/metrics"), 401, "not_authenticated")
            wrong = {"Authorization": "Bearer " + "x" * 40}
            assert_error(await client.get("/metrics", headers=wrong), 401, "not_authenticated")
            right = {"Authorization": f"Bearer {METRICS_TOKEN}"}
            response = await client.get("/metrics", headers=right)
        assert response.status_code == 200
        assert "crypteras_api_requests_total" in response.text

    async def test_production_docs_when_configured(self, app_client: AppClient) -> None:
        async with app_client(environment=Environment.PRODUCTION, api_docs=True) as client:
            assert (await client.get("/docs")).status_code == 200
            assert (await client.get("/openapi.json")).status_code == 200

    async def test_development_serves_docs_and_open_metrics(self, app_client: AppClient) -> None:
        async with app_client(environment=Environment.DEVELOPMENT) as client:
            assert (await client.get("/docs")).status_code == 200
            assert (await client.get("/openapi.json")).status_code == 200
            assert (await client.get("/metrics")).status_code == 200

    async def test_a_token_closes_metrics_in_development_too(self, app_client: AppClient) -> None:
        token = SecretStr(METRICS_TOKEN)
        async with app_client(environment=Environment.DEVELOPMENT, metrics_token=token) as client:
            assert_error(await client.get("/metrics"), 401, "not_authenticated")


def test_settings_defaults_by_environment() -> None:
    base: dict[str, Any] = {"_env_file": None, "jwt_secret": "j" * 40}
    assert Settings(**base).docs_enabled and Settings(**base).metrics_open
    production = Settings(
        **base,
        environment=Environment.PRODUCTION,
        credentials_keys="1:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU",
    )
    assert not production.docs_enabled and not production.metrics_open
    with pytest.raises(ValidationError, match="METRICS_TOKEN"):
        Settings(**base, metrics_token="short")
