"""`create_app`: MB's API v4 under /api/v4 plus the /_sim/ control API (package docstring)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from simulators.mercadobitcoin import control, private, public
from simulators.mercadobitcoin.config import SimConfig
from simulators.mercadobitcoin.deps import RateLimitedError
from simulators.mercadobitcoin.state import Venue
from simulators.mercadobitcoin.wire import MbError, internal_error, route_not_found, unprocessable

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
