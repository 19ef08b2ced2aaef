"""Mercado Bitcoin API v4 simulator: a real HTTP server speaking MB's wire format.

A third-party MB v4 client pointed at ``http://HOST:PORT/api/v4`` works unchanged.

Mirrored from the MB v4 docs (api.mercadobitcoin.net/api/v4/docs) and from observed live
answers (a public test suite run against the live API):

- ``POST /authorize`` ``{login, password}`` -> ``{access_token, expiration}`` (unix s); missing
  field 422 ``API|REQUEST|LOGIN_MUST_BE_REQUIRED``; bad pair 400
  ``AUTHORIZE|AUTHORIZATION|FORBIDDEN``. No/undecodable bearer: 403 ``API|FORBIDDEN``;
  expired/revoked: 401 ``{"error": {"code": 401, "status": "Unauthorized", ...}}``; another
  user's account id: 403 ``{"error": {"code": 403, ...}}``.
- Public: ``/tickers?symbols=``, ``/{symbol}/orderbook?limit=``, ``/{symbol}/trades``,
  ``/symbols`` (column-oriented), ``/candles?symbol=&resolution=&to=&from=&countback=``
  (1m 15m 1h 3h 1d 1w 1M; columns t,o,h,l,c,v).
- Private: ``/accounts``, ``/accounts/{id}/balances``, ``/accounts/{id}/{symbol}/fees``,
  ``POST|GET /accounts/{id}/{symbol}/orders``, ``GET|DELETE .../orders/{orderId}``,
  ``GET /accounts/{id}/orders`` (``{"items": [...]}``, ``external_id``),
  ``GET /accounts/{id}/positions?symbols=`` (open orders: id, instrument, side, category, qty,
  avgPrice), ``DELETE /accounts/{id}/cancel_all_open_orders?symbol=&has_executions=``.
- Order ids are ULIDs (26 Crockford base32 characters, time-ordered), as MB's are. Both order
  lists honour ``status`` (comma-separated), ``side``, ``has_executions``, ``id_from``/``id_to``
  and ``created_at_from/to``, ``executed_at_from/to`` (Unix seconds), bounds inclusive.
- Order types ``market``, ``limit``, ``post-only`` (a limit order that never takes) and
  ``stoplimit`` (``stopPrice``: waits until the last price reaches it, a sell from above and a
  buy from below, then works as a limit order at ``limitPrice``).
- Errors ``{"code": "DOMAIN|MODULE|ERROR", "message": ...}``; business errors are 400 (also
  ``ORDER_NOT_FOUND``), a symbol not shaped BASE-QUOTE is 404 ``API|ROUTE_NOT_FOUND``, 429
  ``API|RATE_LIMIT|REQUEST_RATE_EXCEEDED`` with ``Retry-After``, 5xx
  ``API|INTERNAL_SERVER_ERROR``.
- ``externalId``: a second order with an externalId already used by the account is refused with
  400 ``TRADING|PLACE_ORDER|ORDER_DUPLICATE`` ("There is already an order created"), so a retry
  can never create a second order. (MB documents the error, not its exact trigger.)
- Rate limits per endpoint family and client address, as published: public 1/s, place and
  cancel 3/s, list orders 10/s, get order 1/s, account 3/s, list all orders 3/s, cancel all
  1/min, overall 500/min (``SimConfig.rate_limits``).
- Assumed (MB documents no answer): a post-only order that would take and a stoplimit already
  at its stop are refused with the generic place error; nothing is placed.
- Not simulated: wallet routes, websockets, stoplimit's separate ``triggerOrderId`` order.
- Prices are computed lazily: a market's path only when the market is asked for, and again
  only when the path moved a step; random walks default to the volatility of the real candles
  (``simulators.calibration``).

Control API (tests and the local stack only; JSON bodies, decimals as strings):

- ``POST /_sim/accounts`` ``{key, secret, balances: {"BRL": "1000"}}`` -> ``{account_id}``
- ``POST /_sim/accounts/{key}/deposit`` ``{asset, amount}``
- ``GET  /_sim/accounts/{key}/orders`` every order the venue holds for the account
- ``POST /_sim/prices/{symbol}`` ``{price}`` pins the price; resting orders it crosses fill
- ``POST /_sim/clock`` ``{speed?, advance_seconds?}`` -> ``{now, speed}``; an advance also
  moves the rate-limit windows on (they count wall seconds, whatever the speed)
- ``POST /_sim/faults/order_delay`` ``{seconds}``: place the next order, answer it late
- ``POST /_sim/faults/order_hold`` ``{seconds}``: hold the next order inside the venue, then
  place it (a placement still in flight when the caller gives up)
- ``POST /_sim/faults/errors`` ``{count, status=503, after_processing=false}``: the next
  ``count`` API requests answer 5xx (after doing their work if ``after_processing``)
- ``POST /_sim/faults`` ``{path, method?, count=1, status?, body?, hang_seconds=0,
  after_processing=false}``: the next ``count`` requests to that path below /api/v4 (``*`` for
  one segment) hang, then answer ``status`` with ``body`` (default MB's), or late but real;
  ``DELETE /_sim/faults`` clears them
- ``POST /_sim/tokens/expire`` revokes every token issued so far
- ``POST /_sim/rate_limits/reset``; ``GET /_sim/stats`` -> ``{tokens_issued}``
"""

from simulators.mercadobitcoin.app import create_app
from simulators.mercadobitcoin.config import (
    AccountSpec,
    MarketSpec,
    RateLimits,
    SimConfig,
    parse_account,
)
from simulators.mercadobitcoin.server import RunningSim, main, parser, run, running

__all__ = [
    "AccountSpec",
    "MarketSpec",
    "RateLimits",
    "RunningSim",
    "SimConfig",
    "create_app",
    "main",
    "parse_account",
    "parser",
    "run",
    "running",
]
