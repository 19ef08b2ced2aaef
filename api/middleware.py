"""Request middleware: a request id bound to every log line, Prometheus metrics by route."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("api.request")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "crypteras_api_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.errors = Counter(
            "crypteras_api_errors",
            "HTTP requests answered with a 5xx status or an unhandled error.",
            ["method", "route"],
            registry=registry,
        )
        self.latency = Histogram(
            "crypteras_api_request_duration_seconds",
            "Time to answer, by route template.",
            ["method", "route"],
            registry=registry,
        )


def _route_template(scope: Scope) -> str:
    """The matched route's path template (`/api/users/{id}`), so metrics do not explode per id.
    The router records the route in the scope while it dispatches."""
    return str(getattr(scope.get("route"), "path", None) or "unmatched")


class RequestMiddleware:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        method = scope["method"]
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            if status >= 500:
                self.metrics.errors.labels(method, route).inc()
            if route != "/metrics":
                log.info(
                    "request",
                    method=method,
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 1),
                )
            structlog.contextvars.clear_contextvars()
