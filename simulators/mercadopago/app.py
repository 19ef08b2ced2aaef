"""`create_app`: Mercado Pago's API plus the /_sim/ control API (package docstring)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from simulators.mercadopago import api, control, persistence
from simulators.mercadopago.config import SimConfig
from simulators.mercadopago.state import Account
from simulators.mercadopago.wire import MpError, bad_request
from simulators.snapshots import SnapshotFile, save_after_changes


def create_app(config: SimConfig, state_file: Path | None = None) -> FastAPI:
    """With `state_file` the account survives a restart: saved after every change, loaded at
    start, and the notifications not yet delivered are sent again (`simulators.snapshots`)."""
    account = Account(config)
    snapshots = SnapshotFile(state_file) if state_file else None
    if snapshots and (saved := snapshots.load()):
        persistence.restore(saved, account)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        account.notifier.resume()
        yield
        await account.notifier.close()  # stop retrying deliveries, close the client

    app = FastAPI(
        title="Mercado Pago API simulator",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.account = account
    app.include_router(api.router)
    app.include_router(control.router)
    if snapshots:

        def save() -> None:
            snapshots.save(persistence.capture(account))

        account.notifier.on_attempt = save
        save_after_changes(app, save)

    @app.exception_handler(MpError)
    async def mp_error(_: Request, exc: MpError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        cause = [
            {
                "code": "invalid_parameter",
                "description": f"{'.'.join(map(str, e['loc']))}: {e['msg']}",
            }
            for e in exc.errors()
        ]
        return bad_request("invalid parameters", cause).response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = "not_found" if exc.status_code == 404 else "bad_request"
        return MpError(exc.status_code, error, str(exc.detail)).response()

    return app
