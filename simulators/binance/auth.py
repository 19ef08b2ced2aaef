"""SIGNED endpoint security as Binance checks it: API key, HMAC-SHA256 signature over the exact
bytes sent (query string concatenated with form body), timestamp within recvWindow.

The window is checked twice, as Binance's "Timing security" describes: when the request
arrives (`verify`) and again when it is about to reach the matching engine (`recheck`), so a
request held up inside the venue past ``timestamp + recvWindow`` is refused, never executed."""

from __future__ import annotations

import hashlib
import hmac
import re
from decimal import Decimal

from simulators.binance.wire import BinanceError, Params, mandatory

MAX_RECV_WINDOW = 60000
DEFAULT_RECV_WINDOW = 5000
MAX_AHEAD_MS = 1000
_RECV_WINDOW = re.compile(r"^[0-9]{1,19}(\.[0-9]{1,3})?$")


def _without_signature(raw: str) -> tuple[str, str | None]:
    kept: list[str] = []
    signature: str | None = None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            signature = part.removeprefix("signature=")
        else:
            kept.append(part)
    return "&".join(kept), signature


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def api_key_account(api_key: str | None, secrets: dict[str, str]) -> str:
    """The account's key, or the Binance refusal for a missing / unknown key."""
    if not api_key:
        raise BinanceError(-2014, "API-key format invalid.", status=401)
    if api_key not in secrets:
        raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
    return api_key


def _recv_window_us(params: Params) -> int:
    """recvWindow is in milliseconds with up to three decimals (microseconds)."""
    raw = params.get("recvWindow")
    if raw is None:
        return DEFAULT_RECV_WINDOW * 1000
    if not _RECV_WINDOW.match(raw):
        raise BinanceError(-1130, "Invalid data sent for parameter 'recvWindow'.")
    window = Decimal(raw)
    if window > MAX_RECV_WINDOW:
        raise BinanceError(-1131, "recvWindow must be less than 60000")
    return int(window * 1000)


def verify(*, secret: str, query: str, body: str, params: Params, server_time_us: int) -> int:
    """Raise the Binance error a real server would answer for this signed request on arrival;
    return the server time (microseconds) after which it must no longer execute."""
    query_payload, query_signature = _without_signature(query)
    body_payload, body_signature = _without_signature(body)
    signature = query_signature or body_signature  # the query string wins, as for any parameter
    if "timestamp" not in params:
        raise mandatory("timestamp")
    if not signature:
        raise mandatory("signature")
    expected = sign(secret, query_payload + body_payload)
    if not hmac.compare_digest(expected, signature.lower()):
        raise BinanceError(-1022, "Signature for this request is not valid.")
    recv_window = _recv_window_us(params)
    timestamp = params.micros("timestamp")
    assert timestamp is not None  # checked present above
    if timestamp >= server_time_us + MAX_AHEAD_MS * 1000:
        raise BinanceError(
            -1021, "Timestamp for this request was 1000ms ahead of the server's time."
        )
    recheck(timestamp + recv_window, server_time_us)
    return timestamp + recv_window


def recheck(valid_until_us: int, server_time_us: int) -> None:
    """The matching engine's check: past ``timestamp + recvWindow`` the request is refused."""
    if server_time_us > valid_until_us:
        raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")
