"""The FastAPI application: routers, error handlers, middleware and the services it holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp

from adapters.db.engine import create_engine, create_read_engine, session_factory
from adapters.settings import Settings
from adapters.temporal import connect
from api.auth.endpoints import router as auth_router
from api.backtests import router as backtests_router
from api.bots.endpoints import router as bots_router
from api.bots.history import router as bot_history_router
from api.contexts.candles import router as candles_router
from api.contexts.endpoints import router as contexts_router
from api.credentials.endpoints import router as credentials_router
from api.dashboard.balances import router as balances_router
from api.dashboard.endpoints import router as dashboard_router
from api.dashboard.performance import router as performance_router
from api.dashboard.reports import router as reports_router
from api.dashboard.summary import router as summary_router
from api.deps import Services
from api.docs import serve_docs
from api.errors import ErrorResponse, install_error_handlers
from api.exchanges.endpoints import router as exchanges_router
from api.health import router as health_router
from api.legal.endpoints import router as legal_router
from api.middleware import ApiMetrics, ApiMiddleware, body_limit
from api.orders.endpoints import router as orders_router
from api.pages import pages_router
from api.subscriptions.endpoints import router as subscriptions_router
from api.users.endpoints import router as users_router
from api.webapp import webapp_router
from api.webhooks.endpoints import router as webhooks_router

DESCRIPTION = """
Crypteras runs crypto trading bots on Mercado Bitcoin and Binance as durable Temporal workflows.

Every error answers `{"error": {"code", "message", "details"}}`; `code` is stable and
machine-readable. Protected routes take `Authorization: Bearer <access_token>`.
"""


def _error_doc(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/ErrorResponse"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


class CrypterasApi(FastAPI):
    """FastAPI with our middleware outside Starlette's ServerErrorMiddleware, so the 500 of an
    unhandled error gets the request id, the metrics and the security headers like every other
    response, and with the body limits in the OpenAPI document."""

    metrics: ApiMetrics
    https_only: bool

    def build_middleware_stack(self) -> ASGIApp:
        inner = super().build_middleware_stack()
        return ApiMiddleware(inner, self.metrics, https_only=self.https_only)

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            schema = super().openapi()
            for path, operations in schema["paths"].items():
                for method, operation in operations.items():
                    if method in {"post", "put", "patch"}:
                        limit = body_limit(path) // 1024
                        responses = operation["responses"]
                        responses["413"] = _error_doc(f"The request body is over {limit} KiB")
                        if "requestBody" in operation:
                            responses.setdefault("400", _error_doc("The body is not UTF-8 text"))
            schema["components"]["schemas"].setdefault(
                "ErrorResponse", ErrorResponse.model_json_schema()
            )
        return self.openapi_schema or {}


def routers(settings: Settings) -> tuple[APIRouter, ...]:
    """Every router of the API, in the order their routes are matched."""
    return (
        health_router,
        auth_router,
        users_router,
        legal_router,
        credentials_router,
        exchanges_router,
        subscriptions_router,
        webhooks_router,
        contexts_router,
        candles_router,
        bots_router,
        bot_history_router,
        orders_router,
        dashboard_router,
        summary_router,
        performance_router,
        balances_router,
        reports_router,
        backtests_router,
        pages_router(settings.docs_enabled),
        webapp_router(settings),
    )


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    """`services` lets tests hand in their own database and Temporal client; otherwise the
    lifespan builds them from `settings`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is not None:
            yield
            return
        engine = create_engine(settings.database_url)
        reads = create_read_engine(settings.database_url)
        app.state.services = Services.build(
            settings, session_factory(engine), await connect(settings, lazy=True), reads
        )
        try:
            yield
        finally:
            await app.state.services.payments.aclose()
            await app.state.services.exchanges.aclose()
            await engine.dispose()
            await reads.dispose()

    app = CrypterasApi(
        title="Crypteras API",
        version="0.2.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served below from bundled assets: no CDN needed
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    if settings.docs_enabled:
        serve_docs(app, "/openapi.json")
    app.state.registry = CollectorRegistry()
    app.metrics = ApiMetrics(app.state.registry)
    # Behind a proxy that terminates TLS the API sees plain HTTP; its public URL tells.
    app.https_only = settings.public_base_url.startswith("https://")
    if services is not None:
        app.state.services = services
    install_error_handlers(app)
    for router in routers(settings):
        # The routes themselves, not `include_router`: FastAPI matches an included router by
        # walking its routes through a wrapper per inclusion on every request (~0.1 ms for a
        # route of the last one, benchmarks/README.md). Each route already carries its router's
        # prefix, tags and responses, so the app and its OpenAPI document are the same.
        app.router.routes.extend(router.routes)
    return app
