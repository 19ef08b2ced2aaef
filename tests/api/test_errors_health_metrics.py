from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from adapters.db.engine import create_engine, session_factory
from adapters.settings import Settings
from adapters.temporal import connect
from api.app import create_app
from api.deps import Services
from tests.conftest import assert_error, free_port


class TestErrorShape:
    async def test_unknown_route_uses_the_error_shape(self, api: httpx.AsyncClient) -> None:
        assert_error(await api.get("/api/nope"), 404, "not_found")

    async def test_wrong_method_uses_the_error_shape(self, api: httpx.AsyncClient) -> None:
        assert_error(await api.get("/api/auth/login"), 405, "method_not_allowed")

    async def test_every_route_documents_its_errors_with_the_shape(
        self, api: httpx.AsyncClient
    ) -> None:
        schema = (await api.get("/openapi.json")).json()
        assert "HTTPValidationError" not in schema["components"]["schemas"]
        error_ref = "#/components/schemas/ErrorResponse"
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
                if path == "/api/health":
                    continue  # its 503 body is the health report itself
                assert errors, f"{method} {path} documents no error"
                for status, response in errors.items():
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref == error_ref, f"{method} {path} {status}"


class TestHealth:
    async def test_health_is_ok_when_everything_answers(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/api/health")
        assert response.status_code == 200
        assert response.json() == {
            "status": "ok",
            "checks": {"api": "ok", "database": "ok", "temporal": "ok"},
        }

    @pytest.fixture
    async def dead_temporal(self, settings: Settings) -> Client:
        dead = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
        return await connect(dead, lazy=True)

    @pytest.fixture
    async def dead_database(self) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
        engine = create_engine(f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none")
        yield session_factory(engine)
        await engine.dispose()

    async def test_health_is_503_when_temporal_is_down(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        dead_temporal: Client,
    ) -> None:
        app = create_app(settings, Services.build(settings, sessions, dead_temporal))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            response = await client.get("/api/health")
        assert response.status_code == 503
        assert response.json()["checks"] == {"api": "ok", "database": "ok", "temporal": "down"}

    async def test_health_is_503_when_the_database_is_down(
        self,
        settings: Settings,
        temporal: Client,
        dead_database: async_sessionmaker[AsyncSession],
    ) -> None:
        app = create_app(settings, Services.build(settings, dead_database, temporal))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            response = await client.get("/api/health")
        assert response.status_code == 503
        assert response.json()["status"] == "down"
        assert response.json()["checks"]["database"] == "down"

    async def test_registration_while_temporal_is_down_commits_and_starts_later(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        dead_temporal: Client,
        temporal: Client,
        workers: list[Worker],
        db: AsyncSession,
    ) -> None:
        """The account is committed first; its workflow starts (from the projection) with the
        first call that needs it once Temporal answers again."""
        from sqlalchemy import select

        from adapters.db.models import User
        from api.subscriptions.workflow_calls import start_subscription
        from tests.conftest import registration
        from workflows.subscription import SubscriptionWorkflow

        app = create_app(settings, Services.build(settings, sessions, dead_temporal))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            body = registration()
            response = await client.post("/api/auth/register", json=body)
        assert response.status_code == 201, response.text
        user = await db.scalar(select(User).where(User.email == body["email"]))
        assert user is not None
        handle = await start_subscription(temporal, user.id)
        state = await handle.query(SubscriptionWorkflow.state)
        assert state.plan.value == "FREE"


class TestMetrics:
    async def test_metrics_count_requests_by_route_template(self, api: httpx.AsyncClient) -> None:
        await api.get("/api/legal/terms")
        await api.get("/api/legal/terms")
        await api.get("/api/does-not-exist")
        response = await api.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        text = response.text
        assert (
            'crypteras_api_requests_total{method="GET",route="/api/legal/terms",status="200"} 2.0'
            in text
        )
        assert 'route="unmatched",status="404"' in text
        assert "crypteras_api_request_duration_seconds_bucket" in text

    async def test_made_up_methods_share_one_metric_series(self, api: httpx.AsyncClient) -> None:
        for method in ("FOO", "BAR"):
            await api.request(method, "/api/legal/terms")
        text = (await api.get("/metrics")).text
        assert 'method="OTHER",route="/api/legal/terms",status="405"} 2.0' in text
        assert 'method="FOO"' not in text

    async def test_every_response_carries_a_request_id(self, api: httpx.AsyncClient) -> None:
        given = await api.get("/api/legal/terms", headers={"X-Request-ID": "abc-123"})
        assert given.headers["x-request-id"] == "abc-123"
        made = await api.get("/api/legal/terms", headers={"X-Request-ID": "bad id\n"})
        assert len(made.headers["x-request-id"]) == 32


async def test_docs_are_served_without_a_cdn(api: httpx.AsyncClient) -> None:
    page = await api.get("/docs")
    assert page.status_code == 200
    assert "/docs/assets/swagger-ui-bundle.js" in page.text and "cdn" not in page.text.lower()
    script = await api.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000
