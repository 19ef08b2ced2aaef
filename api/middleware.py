"""One pure ASGI middleware for every request: a request id bound to every log line, Prometheus
metrics by route, request-body limits, the security headers every response carries, and one
log line per request. One pass, not a stack of three: each layer's wrapped `send` and closures
were a measurable part of a fast read (benchmarks/README.md)."""

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
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


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
# The web app (api/webapp.py): its own scripts and styles, data: and blob: images (charts'
# exports), API calls to its own origin; nothing inline, nothing from elsewhere.
_APP_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; manifest-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
_CSP = {"api": _API_CSP, "docs": _DOCS_CSP, "app": _APP_CSP}
_HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


Headers = tuple[tuple[bytes, bytes], ...]


def _security_headers(kind: str, https: bool) -> tuple[Headers, frozenset[bytes]]:
    """The headers a response gets, and the names dropped from what the app sent (ours replace
    them; `server` never leaves: uvicorn's own is off with `server_header=False`). nosniff,
    frame denial, a strict CSP (looser ones for the docs page and the web app), no-referrer,
    and `Cache-Control: no-store` on everything but static assets: tokens and personal data
    must not sit in a browser or proxy cache. HSTS when served over HTTPS (directly, or behind
    a proxy that terminates TLS as `https_only` says)."""
    csp = _CSP[kind.removesuffix("-assets")]
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"content-security-policy", csp.encode()),
    ]
    if not kind.endswith("-assets"):
        headers.append((b"cache-control", b"no-store"))
    if https:
        headers.append(_HSTS)
    return tuple(headers), frozenset(name for name, _ in headers) | {b"server"}


# The ten header sets there are, computed once.
_SECURITY_HEADERS = {
    (kind, https): _security_headers(kind, https)
    for kind in ("api", "docs", "docs-assets", "app", "app-assets")
    for https in (False, True)
}


def _page_kind(path: str) -> str:
    for page in ("docs", "app"):
        if path.startswith(f"/{page}/assets/"):
            return f"{page}-assets"
        if path == f"/{page}" or path.startswith(f"/{page}/"):
            return page
    return "api"


class ApiMiddleware:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics, *, https_only: bool = False) -> None:
        self.app = app
        self.metrics = metrics
        self.https_only = https_only
        # Prometheus children by label values: `labels()` builds and looks them up each time.
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram, Counter | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = declared = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value
            elif name == b"content-length":
                declared = value
        request_id = (incoming or b"").decode("latin-1")
        if not _REQUEST_ID.match(request_id):
            request_id = uuid.uuid4().hex
        path: str = scope["path"]
        https = self.https_only or scope.get("scheme") == "https"
        extra, replaced = _SECURITY_HEADERS[_page_kind(path), https]
        tagged = (*extra, (b"x-request-id", request_id.encode()))
        limit = body_limit(path)
        status = 0
        received = 0

        async def send_headed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                kept = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in replaced]
                message = {**message, "headers": [*kept, *tagged]}
            await send(message)

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

        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        try:
            # Over the limit by Content-Length: 413 at once, without reading the body. (Any
            # limit has fewer than 16 digits; int() refuses over 4,300 of them.)
            if declared is not None and (
                not declared.isdigit() or len(declared) > 15 or int(declared) > limit
            ):
                await _send_413(send_headed, limit)
            else:
                try:
                    await self.app(scope, limited_receive, send_headed)
                except BodyTooLarge:
                    # A streamed body passed the limit where no exception handler runs
                    # (outside a route): answer here, unless an answer has begun.
                    if status:
                        raise
                    await _send_413(send_headed, limit)
        finally:
            self._done(scope, status or 500, time.perf_counter() - started)

    def _done(self, scope: Scope, status: int, elapsed: float) -> None:
        # Any method name is a request; only known ones become metric labels, so made-up
        # methods cannot grow the series without bound.
        method = scope["method"] if scope["method"] in _KNOWN_METHODS else "OTHER"
        route = _route_template(scope)
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            m = self.metrics
            errors = m.errors.labels(method, route) if status >= 500 else None
            series = (
                m.requests.labels(method, route, str(status)),
                m.latency.labels(method, route),
                errors,
            )
            self._series[key] = series
        requests, latency, errors = series
        requests.inc()
        latency.observe(elapsed)
        if errors is not None:
            errors.inc()
        if route != "/metrics":
            log.info(
                "request",
                method=method,
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 1),
            )
        structlog.contextvars.clear_contextvars()
