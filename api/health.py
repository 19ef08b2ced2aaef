"""Health (API, database, Temporal reachability) and Prometheus metrics."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from enum import StrEnum

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from adapters.settings import Settings
from api.deps import Services
from api.errors import ApiError

log = structlog.get_logger(__name__)

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_SECONDS = 2.0


class CheckStatus(StrEnum):
    OK = "ok"
    DOWN = "down"


class Health(BaseModel):
    status: CheckStatus
    checks: dict[str, CheckStatus]


@router.get(
    "/api/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "A dependency is down"}},
)
async def health(request: Request) -> JSONResponse:
    """`ok` when the API, the database and Temporal all answer; 503 with the failing part
    otherwise."""
    services: Services = request.app.state.services

    async def database() -> None:
        async with services.sessions() as session:
            await session.execute(text("SELECT 1"))

    async def temporal() -> None:
        await services.temporal.workflow_service.get_system_info(GetSystemInfoRequest())

    async def check(name: str, probe: Callable[[], Awaitable[None]]) -> CheckStatus:
        try:
            await asyncio.wait_for(probe(), CHECK_TIMEOUT_SECONDS)
        except Exception as exc:
            log.warning("health check failed", dependency=name, error=repr(exc))
            return CheckStatus.DOWN
        return CheckStatus.OK

    db_status, temporal_status = await asyncio.gather(
        check("database", database), check("temporal", temporal)
    )
    checks = {"api": CheckStatus.OK, "database": db_status, "temporal": temporal_status}
    healthy = all(status is CheckStatus.OK for status in checks.values())
    body = Health(status=CheckStatus.OK if healthy else CheckStatus.DOWN, checks=checks)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if healthy else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus. With METRICS_TOKEN set, only for `Authorization: Bearer <token>`; without
    it, open in development and test, absent in production."""
    settings: Settings = request.app.state.services.settings
    token = settings.metrics_token.get_secret_value()
    if token:
        sent = request.headers.get("authorization", "")
        scheme, _, value = sent.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            value.strip().encode(), token.encode()
        ):
            raise ApiError(
                401,
                "not_authenticated",
                "Send the metrics token: Authorization: Bearer <token>.",
                headers={"WWW-Authenticate": "Bearer"},
            )
    elif not settings.metrics_open:
        raise ApiError(404, "not_found", "Not Found")
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
