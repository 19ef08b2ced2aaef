"""One error shape for every 4xx/5xx of the API:
`{"error": {"code": "<stable_snake_case>", "message": "<for people>", "details": {...}}}`.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.middleware import BodyTooLarge, body_too_large

log = structlog.get_logger(__name__)


class ErrorBody(BaseModel):
    code: str = Field(examples=["invalid_credentials"])
    message: str = Field(examples=["E-mail or password is incorrect."])
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    """A refusal the client can act on. Raise it anywhere below a route."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route or router: each listed status documented with the error shape."""
    return {
        status: {"model": ErrorResponse, "description": HTTPStatus(status).phrase}
        for status in statuses
    }


MALFORMED_BODY = ("malformed_body", "The request body could not be read: send UTF-8 JSON.")


def _body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(
        _body(exc.code, exc.message, exc.details), status_code=exc.status, headers=exc.headers
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [
        {
            # Drop the "body"/"query" prefix: clients know where they sent the field.
            "field": ".".join(str(part) for part in error["loc"][1:]) or str(error["loc"][0]),
            "message": error["msg"].removeprefix("Value error, "),
            "type": error["type"],
        }
        for error in exc.errors()
    ]
    return JSONResponse(
        _body(
            "validation_error", "The request is not valid.", {"fields": jsonable_encoder(fields)}
        ),
        status_code=422,
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> str:
    """Every method the path answers. Starlette's 405 names only the first route that matched
    the path, though a path's GET and PUT are separate routes."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    return ", ".join(allowed)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = HTTPStatus(exc.status_code)
    headers = dict(getattr(exc, "headers", None) or {})
    if status is HTTPStatus.BAD_REQUEST:
        # FastAPI's only 400: a body that is not text (our own refusals are ApiErrors).
        return JSONResponse(_body(*MALFORMED_BODY), status_code=400, headers=headers)
    if status is HTTPStatus.METHOD_NOT_ALLOWED:
        headers["Allow"] = _allowed_methods(request)
    code = status.phrase.lower().replace(" ", "_").replace("-", "_")
    message = exc.detail if isinstance(exc.detail, str) else status.phrase
    return JSONResponse(_body(code, message), status_code=exc.status_code, headers=headers)


async def _body_too_large(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyTooLarge)
    return JSONResponse(body_too_large(exc.limit), status_code=413, headers={"Connection": "close"})


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", path=request.url.path)
    return JSONResponse(
        _body("internal_error", "Something went wrong on our side. Please try again."),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(BodyTooLarge, _body_too_large)
    app.add_exception_handler(Exception, _unexpected_error)
