"""SIGNED endpoint security as Binance checks it: API key, HMAC-SHA256 signature over the exact
bytes sent (query string concatenated with form body), timestamp within recvWindow.

The window is checked twice, as Binance's "Timing security" describes: when the request
arrives (`verify`) and again when it is about to reach the matching engine (`recheck`), so a
request held up inside the venue past ``timestamp + recvWindow`` is refused, never executed."""

from __future__ import annotations

import hashlib
import hmac

from simulators.binance.wire import BinanceError, Params, mandatory

MAX_RECV_WINDOW = 60000
DEFAULT_RECV_WINDOW = 5000
MAX_AHEAD_MS = 1000


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


def verify(*, secret: str, query: str, body: str, params: Params, server_time_ms: int) -> int:
    """Raise the Binance error a real server would answer for this signed request on arrival;
    return the server time (ms) after which it must no longer execute."""
    query_payload, query_signature = _without_signature(query)
    body_payload, body_signature = _without_signature(body)
    signature = body_signature or query_signature
    if "timestamp" not in params:
        raise mandatory("timestamp")
    if not signature:
        raise mandatory("signature")
    expected = sign(secret, query_payload + body_payload)
    if not hmac.compare_digest(expected, signature.lower()):
        raise BinanceError(-1022, "Signature for this request is not valid.")
    recv_window = params.integer("recvWindow", low=0)
    if recv_window is None:
        recv_window = DEFAULT_RECV_WINDOW
    if recv_window > MAX_RECV_WINDOW:
        raise BinanceError(-1131, "recvWindow must be less than 60000")
    timestamp = params.integer("timestamp", low=0)
    assert timestamp is not None  # checked present above
    if timestamp > server_time_ms + MAX_AHEAD_MS:
        raise BinanceError(
            -1021, "Timestamp for this request was 1000ms ahead of the server's time."
        )
    recheck(timestamp + recv_window, server_time_ms)
    return timestamp + recv_window


def recheck(valid_until_ms: int, server_time_ms: int) -> None:
    """The matching engine's check: past ``timestamp + recvWindow`` the request is refused."""
    if server_time_ms > valid_until_ms:
        raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")
