"""A faithful local Binance Spot REST API v3.

Real paths, parameters, JSON shapes, request weights, HMAC-SHA256 signatures (over the exact
query string concatenated with the form body), recvWindow checks and error bodies
(``{"code": -1022, "msg": "Signature for this request is not valid."}``), so a stock Binance
client pointed at the base URL works unchanged. Orders match through
`domain.matching.MatchingEngine` against a price path (`domain.price_paths`): a seeded random
walk, real candles replayed from data/ohlcv, or a fixed price.

Binance routes (weights as Binance documents them, per client IP, header
``X-MBX-USED-WEIGHT-1M``; over the limit: 429 + Retry-After, and 418 for clients that keep
calling): ``GET /api/v3/ping, /time, /exchangeInfo (symbol=, symbols=), /ticker/price,
/ticker/24hr, /ticker/bookTicker, /avgPrice, /depth, /trades, /aggTrades, /klines`` (16
intervals, limit up to 1000); signed ``GET /api/v3/account, POST|GET|DELETE /api/v3/order,
POST /api/v3/order/cancelReplace, GET /api/v3/openOrders, /allOrders, /myTrades,
GET|POST /sapi/v1/bnbBurn``. LIMIT (GTC, IOC, FOK, optionally iceberg), MARKET (quantity or
quoteOrderQty), LIMIT_MAKER (refused when it would take) and STOP_LOSS_LIMIT (waits until the
last price reaches its stop) orders; newOrderRespType ACK, RESULT or FULL (the default of LIMIT
and MARKET; ACK of the others). Filters: PRICE_FILTER, LOT_SIZE, ICEBERG_PARTS, MARKET_LOT_SIZE,
PERCENT_PRICE_BY_SIDE, NOTIONAL. Commissions in the received asset, or in BNB less 25% for an
account paying fees in BNB (``spotBNBBurn``) that holds enough.

WebSockets (`streams`, `ws_api`): market streams at ``/ws/<name>`` and
``/stream?streams=<a>/<b>`` (``<symbol>@bookTicker``, ``<symbol>@kline_<interval>``, live
SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS) and the WebSocket API at ``/ws-api/v3``
(``userDataStream.subscribe.signature``, then ``executionReport`` / ``outboundAccountPosition`` /
``balanceUpdate`` events). ``POST /_sim/ws/drop {"refuse_seconds": 2}`` cuts every WebSocket and
refuses new ones for that long.

Clocks: the *server clock* (wall clock + an offset) answers /api/v3/time and checks signed
timestamps; the *market clock* (wall clock x speed, advanced on demand) drives prices, klines and
fills. Prices move lazily: every request first brings each path-driven market to the market clock.

Control API (JSON, unauthenticated, not part of Binance):

- ``POST /_sim/accounts`` ``{"api_key", "secret", "balances": {"BTC": "1"}, "fees_in_bnb":
  false}`` -> 201; 409 if the key exists. ``GET /_sim/accounts/{api_key}`` -> balances.
  ``POST /_sim/accounts/{api_key}/deposit`` ``{"asset", "amount"}``.
  ``POST /_sim/accounts/{api_key}/fees-in-bnb`` ``{"enabled": true}`` (as ``spotBNBBurn``).
- ``POST /_sim/price`` ``{"symbol": "BTCBRL", "price": "350000.00"}`` pins the price (onto the
  tick) and matches resting orders at it, one partial-fill step per call; ``"price": null``
  follows the path again. -> ``{"symbol", "price", "fills"}``.
- ``POST /_sim/clock`` ``{"speed": 60, "offset_ms": -7000, "advance_seconds": 3600}`` (all
  optional): market clock speed, server clock offset (provokes -1021 until the client resyncs
  with /api/v3/time), market clock jump.
- ``POST /_sim/faults`` ``{"path": "/api/v3/order", "method": "POST", "count": 1,
  "status": 503, "delay_seconds": 2.0, "after_processing": true}`` (all optional): the next
  `count` matching /api/ requests are delayed and/or answered with that status, before or after
  the venue processed them (an order placed whose answer is lost). A failure before processing
  is answered at the edge, before any check; a delay alone before processing holds the request
  inside the venue: a signed request is checked against its recvWindow on arrival and again
  when the hold ends, and refused with -1021 if ``timestamp + recvWindow`` has
  passed by then (Binance's matching engine does the same). ``"status": 403`` answers as
  Binance's web application firewall does (an HTML page, no error code).
  ``DELETE /_sim/faults`` clears.
- ``POST /_sim/limits`` ``{"weight_limit", "window_seconds", "ban_after", "ban_seconds",
  "orders_per_10s", "orders_per_day"}`` (all optional): new limits, counters and bans reset.
- ``GET /_sim/stats`` -> requests per route, responses per status, orders placed.

Run it with ``crypteras sim binance --port P --account KEY:SECRET:BTC=1,BRL=100000`` (see
`server.add_arguments` and `server.run`), or in-process with `create_app(SimConfig(...))`.
"""

from simulators.binance.app import create_app
from simulators.binance.config import AccountConfig, SimConfig, SymbolConfig, parse_account
from simulators.binance.server import ThreadedServer, add_arguments, run, run_from_args

__all__ = [
    "AccountConfig",
    "SimConfig",
    "SymbolConfig",
    "ThreadedServer",
    "add_arguments",
    "create_app",
    "parse_account",
    "run",
    "run_from_args",
]
