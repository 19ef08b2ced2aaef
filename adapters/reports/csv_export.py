"""The orders and fills as CSV (RFC 4180: comma, double quotes, CRLF), one header row, and the
readers that take such a file back exactly.

Cells: decimals exact as text ("0.000000000000000001", "-12.50"), times ISO 8601 in UTC with a
"Z", an empty cell for none, an order's fees in one cell ("0.001 BNB; 0.5 BRL", by asset).
A text cell that a spreadsheet would run as a formula (it starts with = + - @, a tab or a
carriage return) gets a leading apostrophe, and so does one that starts with an apostrophe,
so that the reader strips exactly one from any text cell that has it. Numeric and time cells
are never touched: a negative profit stays a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import UTC
from decimal import Decimal
from enum import Enum, auto
from typing import Any

from adapters.reports.document import FillLine, OrderLine

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPE = "'"


class _Kind(Enum):
    TEXT = auto()  # user or venue text: escaped; an empty cell is ""
    OPTIONAL_TEXT = auto()  # text that may be none (never empty): an empty cell is None
    NUMBER = auto()  # a Decimal, exact
    TIME = auto()  # ISO 8601, UTC


_T, _O, _N, _D = _Kind.TEXT, _Kind.OPTIONAL_TEXT, _Kind.NUMBER, _Kind.TIME
_ORDER_COLUMNS: dict[str, _Kind] = {
    "created_at": _D,
    "bot": _T,
    "strategy": _T,
    "symbol": _T,
    "side": _T,
    "type": _T,
    "status": _T,
    "quantity": _N,
    "filled_quantity": _N,
    "price": _N,
    "average_price": _N,
    "quote_quantity": _N,
    "fees": _T,
    "client_order_id": _T,
    "exchange_order_id": _O,
}
_FILL_COLUMNS: dict[str, _Kind] = {
    "at": _D,
    "symbol": _T,
    "side": _T,
    "price": _N,
    "quantity": _N,
    "fee": _N,
    "fee_asset": _T,
    "trade_id": _T,
    "client_order_id": _T,
}


def orders_csv(orders: Iterable[OrderLine]) -> str:
    """Every order, one row each, in the order given."""
    return _write(_ORDER_COLUMNS, (_order_row(o) for o in orders))


def fills_csv(fills: Iterable[FillLine]) -> str:
    """Every fill, one row each, in the order given."""
    return _write(_FILL_COLUMNS, (f.model_dump() for f in fills))


def read_orders_csv(text: str) -> list[OrderLine]:
    """The orders of a file `orders_csv` wrote."""
    return [
        OrderLine.model_validate({**row, "fees": _parse_fees(row["fees"] or "")})
        for row in _read(text, _ORDER_COLUMNS)
    ]


def read_fills_csv(text: str) -> list[FillLine]:
    """The fills of a file `fills_csv` wrote."""
    return [FillLine.model_validate(row) for row in _read(text, _FILL_COLUMNS)]


def _order_row(order: OrderLine) -> dict[str, Any]:
    return {**order.model_dump(), "fees": _format_fees(order.fees)}


def _format_fees(fees: Mapping[str, Decimal]) -> str:
    return "; ".join(f"{format(fees[asset], 'f')} {asset}" for asset in sorted(fees))


def _parse_fees(cell: str) -> dict[str, str]:
    amounts = (part.split(" ", 1) for part in cell.split("; ")) if cell else ()
    return {asset: amount for amount, asset in amounts}


def _write(columns: Mapping[str, _Kind], rows: Iterable[Mapping[str, Any]]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(_cell(row[column], kind) for column, kind in columns.items())
    return buffer.getvalue()


def _cell(value: Any, kind: _Kind) -> str:
    if value is None:
        return ""
    if kind is _Kind.TIME:
        return str(value.astimezone(UTC).isoformat().replace("+00:00", "Z"))
    if kind is _Kind.NUMBER:
        return format(value, "f")
    text = str(value)
    return _ESCAPE + text if text.startswith((*_FORMULA_STARTS, _ESCAPE)) else text


def _read(text: str, columns: Mapping[str, _Kind]) -> list[dict[str, str | None]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header != list(columns):
        raise ValueError(f"expected the header {','.join(columns)}, got {header}")
    return [
        {
            column: _value(cell, kind)
            for (column, kind), cell in zip(columns.items(), row, strict=True)
        }
        for row in reader
    ]


def _value(cell: str, kind: _Kind) -> str | None:
    if kind is _Kind.TEXT:
        return cell.removeprefix(_ESCAPE)
    if kind is _Kind.OPTIONAL_TEXT:
        return cell.removeprefix(_ESCAPE) or None
    return cell or None
