"""Binance's wire vocabulary: error bodies, request parameters, decimal formatting."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

_EIGHT = Decimal("0.00000001")
_DECIMAL = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_DECIMAL_RANGE = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"
CLIENT_ORDER_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_CLIENT_ORDER_ID_RANGE = "^[\\.A-Z\\:/a-z0-9_-]{1,36}$"
MICROSECOND_TIMES = 10**14  # from here on a time parameter is in microseconds (year 5138 in ms)


class BinanceError(Exception):
    """Answered as ``{"code": code, "msg": msg}`` with `status` (and `data`, when given: the
    halves of a failed cancelReplace)."""

    def __init__(
        self,
        code: int,
        msg: str,
        status: int = 400,
        headers: dict[str, str] | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = headers or {}
        self.data = data


def fmt(value: Decimal) -> str:
    """Binance prints amounts with 8 decimals: "0.00012300"."""
    return format(value.quantize(_EIGHT), "f")


def mandatory(name: str) -> BinanceError:
    return BinanceError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def _unique(raw: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        if key in values:
            raise BinanceError(-1101, "Duplicate values for a parameter detected.")
        values[key] = value
    return values


class Params:
    """The parameters of one request, from the query string and a form body together. A name
    twice in one of them is refused; a name in both is taken from the query string (Binance's
    "General API Information")."""

    def __init__(self, query: str, body: str) -> None:
        self._values = _unique(body) | _unique(query)
        self._read: set[str] = set()

    def __contains__(self, name: str) -> bool:
        return bool(self._values.get(name))

    def peek(self, name: str) -> str | None:
        """A value without marking it read (request weights depend on some parameters)."""
        return self._values.get(name)

    def get(self, name: str) -> str | None:
        self._read.add(name)
        value = self._values.get(name)
        if value == "":
            raise BinanceError(-1105, f"Parameter '{name}' was empty.")
        return value

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise mandatory(name)
        return value

    def decimal(self, name: str) -> Decimal | None:
        value = self.get(name)
        if value is None:
            return None
        if not _DECIMAL.match(value):
            raise BinanceError(
                -1100,
                f"Illegal characters found in parameter '{name}'; legal range is "
                f"'{_DECIMAL_RANGE}'.",
            )
        try:
            return Decimal(value)
        except InvalidOperation:  # pragma: no cover - the regex admits only decimals
            raise mandatory(name) from None

    def integer(self, name: str, *, low: int | None = None, high: int | None = None) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        if not re.fullmatch(r"-?[0-9]{1,19}", value):
            raise BinanceError(
                -1100,
                f"Illegal characters found in parameter '{name}'; legal range is "
                "'^-?[0-9]{1,19}$'.",
            )
        number = int(value)
        if (low is not None and number < low) or (high is not None and number > high):
            raise BinanceError(-1130, f"Invalid data sent for parameter '{name}'.")
        return number

    def micros(self, name: str) -> int | None:
        """A time parameter in microseconds: Binance takes either unit and tells them apart by
        size (a millisecond time has 13 digits, a microsecond one 16)."""
        value = self.integer(name, low=0)
        if value is None or value >= MICROSECOND_TIMES:
            return value
        return value * 1000

    def client_order_id(self, name: str) -> str | None:
        value = self.get(name)
        if value is not None and not CLIENT_ORDER_ID.match(value):
            raise BinanceError(
                -1100,
                f"Illegal characters found in parameter '{name}'; legal range is "
                f"'{_CLIENT_ORDER_ID_RANGE}'.",
            )
        return value

    def check_all_read(self) -> None:
        """Binance refuses parameters the endpoint does not know (-1104)."""
        unread = set(self._values) - self._read - {"signature", "timestamp", "recvWindow"}
        if unread:
            sent = len(self._values)
            raise BinanceError(
                -1104,
                f"Not all sent parameters were read; read '{sent - len(unread)}' parameter(s) "
                f"but was sent '{sent}'.",
            )


# Time fields an answer carries (klines rows: open and close time, positions 0 and 6).
_TIME_KEYS = frozenset(
    {
        "serverTime",
        "transactTime",
        "time",
        "updateTime",
        "workingTime",
        "openTime",
        "closeTime",
        "T",
    }
)


def in_microseconds(value: Any) -> Any:
    """An answer with its times in microseconds, for ``X-MBX-TIME-UNIT: MICROSECOND``."""
    if isinstance(value, dict):
        return {
            # -1 (a stop order's workingTime before it triggers) is no time.
            k: v * 1000 if k in _TIME_KEYS and isinstance(v, int) and v > 0 else in_microseconds(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        if len(value) == 12 and isinstance(value[0], int) and isinstance(value[6], int):
            return [v * 1000 if i in (0, 6) else v for i, v in enumerate(value)]  # a kline
        return [in_microseconds(v) for v in value]
    return value
