"""Mercado Pago's wire format: error bodies, timestamps and the resource documents."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from starlette.responses import JSONResponse

# MP renders its timestamps at UTC-4 with milliseconds ("2024-01-10T11:30:02.000-04:00").
MP_TZ = timezone(timedelta(hours=-4))


class MpError(Exception):
    """Answered as ``{"message", "error", "status", "cause": [...]}``."""

    def __init__(
        self, status: int, error: str, message: str, cause: Sequence[dict[str, Any]] = ()
    ) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.cause = status, error, message, list(cause)

    def response(self) -> JSONResponse:
        body = {
            "message": self.message,
            "error": self.error,
            "status": self.status,
            "cause": self.cause,
        }
        return JSONResponse(body, status_code=self.status)


def bad_request(message: str, cause: Sequence[dict[str, Any]] = ()) -> MpError:
    return MpError(400, "bad_request", message, cause)


def unauthorized(message: str = "invalid access token") -> MpError:
    return MpError(401, "unauthorized", message)


def not_found(message: str, code: int | str | None = None) -> MpError:
    cause = [{"code": code, "description": message, "data": None}] if code is not None else []
    return MpError(404, "not_found", message, cause)


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(MP_TZ).isoformat(timespec="milliseconds") if moment else None


def number(amount: Decimal) -> float:
    """MP writes amounts as JSON numbers. BRL amounts have two decimals, which a float
    round-trips exactly through its shortest repr."""
    return float(amount)


def plain(value: Any) -> Any:
    """A parsed request echoed back: its decimals as JSON numbers again."""
    if isinstance(value, Decimal):
        return number(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def loads(raw: bytes) -> Any:
    """Parse a request body keeping amounts exact."""
    return json.loads(raw, parse_float=Decimal)


def paging(results: list[dict[str, Any]], offset: int, limit: int) -> dict[str, Any]:
    return {
        "paging": {"total": len(results), "offset": offset, "limit": limit},
        "results": results[offset : offset + limit],
    }
