"""`create_app`: MB's API v4 under /api/v4 plus the /_sim/ control API (package docstring)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from simulators.mercadobitcoin import control, private, public
from simulators.mercadobitcoin.config import SimConfig
from simulators.mercadobitcoin.deps import RateLimitedError
from simulators.mercadobitcoin.faults import PathFault, take
from simulators.mercadobitcoin.state import Venue
from simulators.mercadobitcoin.wire import (
    MbError,
    MbJSON,
    internal_error,
    rate_limited,
    route_not_found,
    unprocessable,
)

PREFIX = "/api/v4"


def create_app(config: SimConfig | None = None) -> FastAPI:
    app = FastAPI(title="Mercado Bitcoin API v4 simulator", docs_url=None, redoc_url=None)
    app.state.venue = venue = Venue(config or SimConfig())
    app.include_router(public.router, prefix=PREFIX)
    app.include_router(private.router, prefix=PREFIX)
    app.include_router(control.router)

    @app.middleware("http")
    async def market_and_faults(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if not request.url.path.startswith(PREFIX):
            return await call_next(request)
        venue.sync_prices()  # the price path moves with the clock; resting orders fill
        path = request.url.path.removeprefix(PREFIX)
        if fault := take(venue.path_faults, request.method, path):
            return await _inject(venue, fault, lambda: call_next(request))
        faults = venue.faults
        if faults.errors_left > 0:
            faults.errors_left -= 1
            if faults.error_after_processing:
                await call_next(request)  # done on the venue, but the caller sees a 5xx
            return internal_error(faults.error_status).response()
        return await call_next(request)

    @app.exception_handler(MbError)
    async def mb_error(_: Request, exc: MbError) -> Response:
        if isinstance(exc, RateLimitedError):
            return exc.response({"Retry-After": str(int(exc.retry_after))})
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not request.url.path.startswith(PREFIX):
            return Response(str(exc.detail), status_code=exc.status_code)
        if exc.status_code in (404, 405):
            return route_not_found().response()
        return internal_error(exc.status_code).response()

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        field = str(errors[0]["loc"][-1]) if errors else "body"
        if not request.url.path.startswith(PREFIX):
            return Response(f"invalid {field}", status_code=422)
        return unprocessable(field, "valid").response()

    return app


async def _inject(
    venue: Venue, fault: PathFault, proceed: Callable[[], Awaitable[Response]]
) -> Response:
    """Hold the request, then answer the fault's status (after doing the work if asked), or
    with no status, the real answer late."""
    if fault.hang_seconds:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(venue.shutdown.wait(), fault.hang_seconds)
    if fault.status is None:
        return await proceed()
    if fault.after_processing:
        await proceed()
    if fault.body is not None:
        return MbJSON(fault.body, status_code=fault.status)
    if fault.status == 429:
        return rate_limited().response({"Retry-After": "1"})
    if fault.status >= 500:
        return internal_error(fault.status).response()
    return MbError(fault.status, "API|FAULT_INJECTED", "Injected by the simulator").response()
