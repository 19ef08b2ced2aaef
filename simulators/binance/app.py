"""The FastAPI app: Binance's /api/v3 routes with weights, security and faults, plus /_sim/."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from simulators.binance import placing, public, replace, trading
from simulators.binance.auth import api_key_account, recheck, verify
from simulators.binance.config import SimConfig
from simulators.binance.control import control_router
from simulators.binance.streams import mount_streams
from simulators.binance.venue import BinanceVenue, Fault
from simulators.binance.wire import BinanceError, Params, in_microseconds

Handler = Callable[[BinanceVenue, str, Params], Any]
Weight = Callable[[Params], int]

_FAILURES = {
    503: (
        -1008,
        "Server is currently overloaded with other requests. Please try again in a few minutes.",
    ),
    504: (
        -1007,
        "Timeout waiting for response from backend server. "
        "Send status unknown; execution status unknown.",
    ),
}
_INTERNAL = (-1001, "Internal error; unable to process your request. Please try again.")
_WAF_PAGE = "<html><head><title>403 Forbidden</title></head><body>Request blocked.</body></html>"
# A method and path the API does not serve is answered by the web server in front of it, as an
# HTML page, never a {"code", "msg"} body.
_NOT_FOUND_PAGE = (
    "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
    "<center><h1>404 Not Found</h1></center>\r\n</body>\r\n</html>\r\n"
)


def _fixed(weight: int) -> Weight:
    return lambda _params: weight


def _by_symbols(one: int, every: int) -> Weight:
    return lambda params: every if public.symbol_count(params) is None else one


def _ticker_24hr_weight(params: Params) -> int:
    count = public.symbol_count(params)
    if count is None:
        return 80
    return 2 if count <= 20 else 40 if count <= 100 else 80


def _public(fn: Callable[[BinanceVenue, Params], Any]) -> Handler:
    return lambda venue, _account, params: fn(venue, params)


def _ping(venue: BinanceVenue, params: Params) -> dict[str, Any]:
    params.check_all_read()
    return {}


def _time(venue: BinanceVenue, params: Params) -> dict[str, Any]:
    params.check_all_read()
    return {"serverTime": venue.server_ms()}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    weight: Weight
    signed: bool
    handler: Handler
    counts_orders: bool = False  # answers X-MBX-ORDER-COUNT-* when it succeeds


ENDPOINTS = (
    Endpoint("GET", "/api/v3/ping", _fixed(1), False, _public(_ping)),
    Endpoint("GET", "/api/v3/time", _fixed(1), False, _public(_time)),
    Endpoint("GET", "/api/v3/exchangeInfo", _fixed(20), False, _public(public.exchange_info)),
    Endpoint("GET", "/api/v3/ticker/price", _by_symbols(2, 4), False, _public(public.ticker_price)),
    Endpoint("GET", "/api/v3/ticker/24hr", _ticker_24hr_weight, False, _public(public.ticker_24hr)),
    Endpoint(
        "GET", "/api/v3/ticker/bookTicker", _by_symbols(2, 4), False, _public(public.book_ticker)
    ),
    Endpoint("GET", "/api/v3/avgPrice", _fixed(2), False, _public(public.avg_price)),
    Endpoint("GET", "/api/v3/depth", public.depth_weight, False, _public(public.depth)),
    Endpoint("GET", "/api/v3/trades", _fixed(25), False, _public(public.recent_trades)),
    Endpoint("GET", "/api/v3/aggTrades", _fixed(4), False, _public(public.agg_trades)),
    Endpoint("GET", "/api/v3/klines", _fixed(2), False, _public(public.klines)),
    Endpoint("GET", "/api/v3/account", _fixed(20), True, trading.account_info),
    Endpoint("POST", "/api/v3/order", _fixed(1), True, placing.new_order, counts_orders=True),
    Endpoint(
        "POST",
        "/api/v3/order/test",
        lambda p: 20 if p.peek("computeCommissionRates") == "true" else 1,
        True,
        placing.order_test,
    ),
    Endpoint(
        "POST",
        "/api/v3/order/cancelReplace",
        _fixed(1),
        True,
        replace.cancel_replace,
        counts_orders=True,
    ),
    Endpoint("GET", "/api/v3/order", _fixed(4), True, trading.query_order),
    Endpoint("DELETE", "/api/v3/order", _fixed(1), True, trading.cancel_order),
    Endpoint(
        "GET",
        "/api/v3/openOrders",
        lambda p: 6 if "symbol" in p else 80,
        True,
        trading.open_orders,
    ),
    Endpoint("DELETE", "/api/v3/openOrders", _fixed(1), True, trading.cancel_open_orders),
    Endpoint("GET", "/api/v3/allOrders", _fixed(20), True, trading.all_orders),
    Endpoint(
        "GET", "/api/v3/myTrades", lambda p: 5 if "orderId" in p else 20, True, trading.my_trades
    ),
    Endpoint("GET", "/sapi/v1/account/apiRestrictions", _fixed(1), True, trading.api_restrictions),
    Endpoint("GET", "/sapi/v1/bnbBurn", _fixed(1), True, trading.bnb_burn),
    Endpoint("POST", "/sapi/v1/bnbBurn", _fixed(1), True, trading.set_bnb_burn),
)


def _error(exc: BinanceError, headers: dict[str, str]) -> JSONResponse:
    body: dict[str, Any] = {"code": exc.code, "msg": exc.msg}
    if exc.data is not None:
        body["data"] = exc.data
    return JSONResponse(body, status_code=exc.status, headers=headers | exc.headers)


async def _inject(fault: Fault, headers: dict[str, str]) -> Response | None:
    if fault.delay_seconds:
        await asyncio.sleep(fault.delay_seconds)  # the fault is the wait itself
    if fault.status is None:
        return None
    if fault.status == 403:  # the web application firewall answers, not the API
        return HTMLResponse(_WAF_PAGE, status_code=403)
    code, msg = _FAILURES.get(fault.status, _INTERNAL)
    return JSONResponse({"code": code, "msg": msg}, status_code=fault.status, headers=headers)


async def _serve(venue: BinanceVenue, endpoint: Endpoint, request: Request) -> Response:
    key = f"{request.method} {request.url.path}"
    venue.stats.requests[key] = venue.stats.requests.get(key, 0) + 1
    response = await _answer(venue, endpoint, request)
    venue.changed()  # the streams report what the request did
    status = str(response.status_code)
    venue.stats.statuses[status] = venue.stats.statuses.get(status, 0) + 1
    return response


async def _answer(venue: BinanceVenue, endpoint: Endpoint, request: Request) -> Response:
    method, path = request.method, request.url.path
    ip = request.client.host if request.client else "unknown"
    headers: dict[str, str] = {}
    try:
        # The exact bytes sent: the signature covers them, not a re-encoding of parsed values.
        query = request.scope["query_string"].decode("utf-8", "replace")
        body = (await request.body()).decode("utf-8", "replace")
        params = Params(query, body)
        used = venue.weights.charge(ip, endpoint.weight(params), venue.server_time())
        headers[venue.weights.header] = str(used)
        before = venue.take_fault(method, path, after_processing=False)
        if before and before.status is not None and (failed := await _inject(before, headers)):
            return failed  # failed at the edge (firewall, gateway) before any check
        account, valid_until = "", None
        if endpoint.signed:
            account = api_key_account(request.headers.get("X-MBX-APIKEY"), venue.secrets)
            valid_until = verify(
                secret=venue.secrets[account],
                query=query,
                body=body,
                params=params,
                server_time_us=venue.server_us(),
            )
        if before:  # a hold inside the venue, between arrival and the matching engine
            await _inject(before, headers)
        if valid_until is not None:
            recheck(valid_until, venue.server_us())
        venue.sync()
        result = endpoint.handler(venue, account, params)
    except BinanceError as exc:
        headers.setdefault(venue.weights.header, str(venue.weights.used(ip, venue.server_time())))
        return _error(exc, headers)
    if endpoint.counts_orders:
        headers |= venue.order_counter.headers(account, venue.server_time())
    after = venue.take_fault(method, path, after_processing=True)
    if after and (failed := await _inject(after, headers)):
        return failed
    if request.headers.get("X-MBX-TIME-UNIT", "").upper() == "MICROSECOND":
        result = in_microseconds(result)
    return JSONResponse(result, headers=headers)


def create_app(config: SimConfig | None = None) -> FastAPI:
    """A Binance Spot v3 simulator; state lives in ``app.state.venue``."""
    venue = BinanceVenue(config or SimConfig())
    app = FastAPI(
        title="Crypteras Binance simulator",
        docs_url="/_sim/docs",
        openapi_url="/_sim/openapi.json",
        redoc_url=None,
    )
    app.state.venue = venue

    def route(endpoint: Endpoint) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            return await _serve(venue, endpoint, request)

        return handle

    for endpoint in ENDPOINTS:
        app.add_api_route(
            endpoint.path,
            route(endpoint),
            methods=[endpoint.method],
            include_in_schema=False,
            name=f"{endpoint.method} {endpoint.path}",
        )
    app.include_router(control_router(venue))
    mount_streams(app, venue)

    @app.exception_handler(HTTPException)
    async def unknown_route(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/_sim/") or exc.status_code not in (404, 405):
            return await http_exception_handler(request, exc)
        return HTMLResponse(_NOT_FOUND_PAGE, status_code=404)

    return app
