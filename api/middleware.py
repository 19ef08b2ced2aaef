"""Pure ASGI middleware: a request id bound to every log line, Prometheus metrics by route,
request-body limits, and the security headers every response carries."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.exceptions import HTTPException
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


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class RequestMiddleware:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = (_header(scope, b"x-request-id") or b"").decode("latin-1")
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


# -- request bodies ----------------------------------------------------------------------------

# JSON routes take small documents; a bigger body is a mistake or an attack.
DEFAULT_BODY_LIMIT = 64 * 1024
# Routes that take more. Provider webhooks carry whole event objects (Stripe's can reach tens
# of kB), so they get room, but nothing like the 300 MB that once took the API to 2.6 GB.
BODY_LIMITS: Mapping[str, int] = {
    "/api/webhooks/stripe": 256 * 1024,
    "/api/webhooks/mercadopago": 256 * 1024,
}


def body_limit(path: str) -> int:
    return BODY_LIMITS.get(path, DEFAULT_BODY_LIMIT)


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the route's limit; the error handler
    turns it into the 413 error shape."""

    def __init__(self, limit: int) -> None:
        super().__init__(413)
        self.limit = limit


def body_too_large(limit: int) -> dict[str, Any]:
    return {
        "error": {
            "code": "body_too_large",
            "message": f"The request body is over the {limit // 1024} KiB this endpoint accepts.",
            "details": {"limit_bytes": limit},
        }
    }


class BodyLimitMiddleware:
    """413 at once when Content-Length is over the route's limit, without reading the body;
    a chunked body is counted as it streams in and reading stops at the limit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _send_413(send, limit)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            if received > limit:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watch_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watch_start)
        except BodyTooLarge:
            # Raised where no exception handler runs (outside a route): answer here.
            if started:
                raise
            await _send_413(send, limit)


async def _send_413(send: Send, limit: int) -> None:
    body = json.dumps(body_too_large(limit)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# -- security headers --------------------------------------------------------------------------

_API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The docs page loads only its own bundled script, styles and the OpenAPI document; Swagger UI
# draws its icons as data: images.
_DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


def _headers(csp: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"content-security-policy", csp.encode()),
    ]


class SecurityHeadersMiddleware:
    """nosniff, frame denial, a strict CSP (a looser one for the docs page), no-referrer, and
    `Cache-Control: no-store` on everything but the docs' static assets: tokens and personal
    data must not sit in a browser or proxy cache. HSTS when served over HTTPS (directly or,
    as `https_only` says, behind a proxy that terminates TLS). Any `server` header is dropped
    (uvicorn's own is turned off with `server_header=False`)."""

    def __init__(self, app: ASGIApp, *, https_only: bool = False) -> None:
        self.app = app
        self.https_only = https_only
        self._api = _headers(_API_CSP)
        self._docs = _headers(_DOCS_CSP)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        docs = path == "/docs" or path.startswith("/docs/")
        extra = list(self._docs if docs else self._api)
        if not path.startswith("/docs/assets/"):
            extra.append((b"cache-control", b"no-store"))
        if self.https_only or scope.get("scheme") == "https":
            extra.append(_HSTS)
        replaced = {name for name, _ in extra} | {b"server"}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in replaced]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)
