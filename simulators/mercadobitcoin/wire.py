"""Mercado Bitcoin v4 wire format: JSON with exact decimals, the error bodies, order documents.

Money travels as MB sends it: strings (`money()`) for `qty`, `filledQty`, `fee`, balances, book
and candle values; JSON *numbers* for `limitPrice`, `avgPrice`, `cost` and execution `price`.
Every `Decimal` left in a document is written as a number with its exact digits, never through
a float.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from starlette.responses import Response

from domain.market import Fill, Order, OrderStatus, OrderType

_NUMBER = "\x00N:"
_NUMBER_RE = re.compile(r'"\\u0000N:([-+0-9.Ee]+)"')
_EIGHT = Decimal("0.00000001")


def money(value: Decimal) -> str:
    """MB's string form: eight decimals, or more when the value needs them."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -8:
        return format(value.quantize(_EIGHT), "f")
    return format(value, "f")


def dumps(content: Any) -> bytes:
    """JSON where every `Decimal` becomes a number with its exact digits."""

    def mark(obj: object) -> str:
        if isinstance(obj, Decimal):
            normal = obj.normalize()
            return _NUMBER + format(normal if normal != 0 else Decimal(0), "f")
        raise TypeError(f"not JSON serialisable: {type(obj).__name__}")

    text = json.dumps(content, default=mark, separators=(",", ":"))
    return _NUMBER_RE.sub(r"\1", text).encode()


class MbJSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


class MbError(Exception):
    """An error answered with MB's body: ``{"code": "DOMAIN|MODULE|ERROR", "message": ...}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.body: dict[str, Any] = {"code": code, "message": message}

    def response(self, headers: Mapping[str, str] | None = None) -> MbJSON:
        return MbJSON(self.body, status_code=self.status, headers=headers)


class GatewayError(MbError):
    """401/403 from MB's gateway, which use a different body: ``{"error": {...}}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, "", message)
        reason = "Unauthorized" if status == 401 else "Forbidden"
        self.body = {"error": {"code": status, "status": reason, "message": message}}


def unauthenticated() -> MbError:
    return MbError(403, "API|FORBIDDEN", "You need to be authenticated")


def unauthorized() -> GatewayError:
    return GatewayError(401, "The request could not be authorized")


def forbidden() -> GatewayError:
    return GatewayError(403, "The requested action was forbidden")


def route_not_found() -> MbError:
    return MbError(404, "API|ROUTE_NOT_FOUND", "This route not found")


def unprocessable(field: str, kind: str) -> MbError:
    return MbError(422, "API|UNPROCESSABLE_ENTITY", f"The field {{{field}}} must be {{{kind}}}")


def required(field: str) -> MbError:
    return MbError(
        422,
        f"API|REQUEST|{field.upper()}_MUST_BE_REQUIRED",
        f"The param {{{field}}} must be {{required}}",
    )


def invalid_parameter(module: str, message: str = "Invalid parameter value") -> MbError:
    return MbError(400, f"{module}|INVALID_PARAMETER", message)


def rate_limited() -> MbError:
    return MbError(
        429,
        "API|RATE_LIMIT|REQUEST_RATE_EXCEEDED",
        "Request rate exceeded the request limit in the range",
    )


def internal_error(status: int = 500) -> MbError:
    return MbError(status, "API|INTERNAL_SERVER_ERROR", "An unexpected error has occurred")


def seconds(at: datetime) -> int:
    return int(at.timestamp())


_STATUS = {
    OrderStatus.NEW: "working",
    OrderStatus.PARTIALLY_FILLED: "working",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELED: "cancelled",
    OrderStatus.REJECTED: "cancelled",
    OrderStatus.EXPIRED: "cancelled",
}


def status(order: Order) -> str:
    return _STATUS[order.status]


WIRE_TYPES = {
    OrderType.MARKET: "market",
    OrderType.LIMIT: "limit",
    OrderType.LIMIT_MAKER: "post-only",
    OrderType.STOP_LOSS_LIMIT: "stoplimit",
}


def execution(fill: Fill, fee_rate: Decimal, liquidity: str) -> dict[str, Any]:
    return {
        "id": fill.trade_id,
        "instrument": fill.symbol,
        "price": fill.price,
        "qty": money(fill.quantity),
        "side": fill.side.value,
        "fee_rate": money(fee_rate * 100),  # MB writes the rate in percent: "0.70000000"
        "executed_at": seconds(fill.at),
        "liquidity": liquidity,
    }


def order_document(
    order: Order,
    *,
    external_id: str | None,
    cost: Decimal | None,
    executions: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """The body of GET .../orders/{orderId} and the items of GET .../{symbol}/orders."""
    doc: dict[str, Any] = {
        "id": order.order_id,
        "instrument": order.symbol,
        "fee": money(sum(order.fees.values(), Decimal(0))),  # one asset: the received one
        "qty": money(order.quantity),
        "side": order.side.value,
        "type": WIRE_TYPES[order.type],
        "filledQty": money(order.filled_quantity),
        "status": status(order),
        "executions": list(executions),
        "created_at": seconds(order.created_at),
        "updated_at": seconds(order.updated_at),
    }
    if order.type.has_limit_price and order.price is not None:
        doc["limitPrice"] = order.price
    if order.stop_price is not None:
        doc["stopPrice"] = order.stop_price
    if order.average_price is not None:
        doc["avgPrice"] = order.average_price
    if cost is not None:
        doc["cost"] = cost
    if external_id is not None:
        doc["externalId"] = external_id
    return doc


def order_item(order: Order, *, external_id: str | None) -> dict[str, Any]:
    """An item of GET /accounts/{accountId}/orders (note MB's `external_id` spelling there)."""
    item: dict[str, Any] = {
        "id": order.order_id,
        "instrument": order.symbol,
        "qty": money(order.quantity),
        "filledQty": money(order.filled_quantity),
        "side": order.side.value,
        "type": WIRE_TYPES[order.type],
        "status": status(order),
        "created_at": seconds(order.created_at),
        "updated_at": seconds(order.updated_at),
    }
    if order.price is not None:
        item["limitPrice"] = order.price
    if order.stop_price is not None:
        item["stopPrice"] = order.stop_price
    if external_id is not None:
        item["external_id"] = external_id
    return item
