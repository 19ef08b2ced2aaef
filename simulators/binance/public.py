"""The public (NONE security) market-data endpoints, in Binance's JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from simulators.binance.filters import filters_json
from simulators.binance.limits import ORDER_WINDOW_SECONDS, interval_of
from simulators.binance.market import INTERVAL_SECONDS, SymbolMarket, ms
from simulators.binance.placing import ORDER_TYPES
from simulators.binance.venue import BinanceVenue
from simulators.binance.wire import BinanceError, Params, fmt

Json = dict[str, Any]
_ZERO = Decimal(0)


def requested_symbols(venue: BinanceVenue, params: Params) -> list[SymbolMarket] | None:
    """`symbol=X` or `symbols=["X","Y"]` (a JSON array), or None for every symbol."""
    single = params.get("symbol")
    many = params.get("symbols")
    if single and many:
        raise BinanceError(-1101, "Parameter 'symbol' and 'symbols' cannot be sent together.")
    if single:
        return [venue.market(single)]
    if many:
        try:
            names = json.loads(many)
        except ValueError:
            names = None
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise BinanceError(-1100, "Illegal characters found in parameter 'symbols'.")
        return [venue.market(n) for n in names]
    return None


def symbol_count(params: Params) -> int | None:
    """For request weights: how many symbols were asked for (None: all)."""
    if "symbol" in params:
        return 1
    raw = params.peek("symbols")
    if raw:
        try:
            return len(json.loads(raw))
        except (ValueError, TypeError):
            return 1
    return None


def _symbol_json(m: SymbolMarket) -> Json:
    c = m.config
    return {
        "symbol": c.name,
        "status": "TRADING",
        "baseAsset": c.base,
        "baseAssetPrecision": c.base_precision,
        "quoteAsset": c.quote,
        "quotePrecision": c.quote_precision,
        "quoteAssetPrecision": c.quote_precision,
        "baseCommissionPrecision": c.base_precision,
        "quoteCommissionPrecision": c.quote_precision,
        "orderTypes": ORDER_TYPES,
        "icebergAllowed": True,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": True,
        "amendAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": filters_json(c),
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def exchange_info(venue: BinanceVenue, params: Params) -> Json:
    markets = requested_symbols(venue, params) or list(venue.markets.values())
    params.get("permissions")
    params.get("showPermissionSets")
    params.get("symbolStatus")
    params.check_all_read()
    num, _, name = interval_of(venue.weights.window_seconds)
    return {
        "timezone": "UTC",
        "serverTime": venue.server_ms(),
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": name,
                "intervalNum": num,
                "limit": venue.weights.limit,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "SECOND",
                "intervalNum": ORDER_WINDOW_SECONDS,
                "limit": venue.order_counter.limit,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "DAY",
                "intervalNum": 1,
                "limit": venue.order_counter.day_limit,
            },
            {
                "rateLimitType": "RAW_REQUESTS",
                "interval": "MINUTE",
                "intervalNum": 5,
                "limit": 61000,
            },
        ],
        "exchangeFilters": [],
        "symbols": [_symbol_json(m) for m in markets],
    }


def _each(venue: BinanceVenue, params: Params) -> tuple[list[SymbolMarket], bool]:
    picked = requested_symbols(venue, params)
    params.check_all_read()
    return picked or list(venue.markets.values()), picked is not None and "symbol" in params


def _book_top(venue: BinanceVenue, m: SymbolMarket, depth: int) -> tuple[Any, Any]:
    now = venue.market_now()
    return m.book(
        venue.price(m.config.name),
        venue.config.spread_ticks,
        depth,
        venue.config.depth_seed,
        int(now.timestamp()),
    )


def ticker_price(venue: BinanceVenue, params: Params) -> Json | list[Json]:
    markets, single = _each(venue, params)
    rows = [{"symbol": m.config.name, "price": fmt(venue.price(m.config.name))} for m in markets]
    return rows[0] if single else rows


def book_ticker(venue: BinanceVenue, params: Params) -> Json | list[Json]:
    markets, single = _each(venue, params)
    rows = []
    for m in markets:
        bids, asks = _book_top(venue, m, 1)
        rows.append(
            {
                "symbol": m.config.name,
                "bidPrice": fmt(bids[0][0]),
                "bidQty": fmt(bids[0][1]),
                "askPrice": fmt(asks[0][0]),
                "askQty": fmt(asks[0][1]),
            }
        )
    return rows[0] if single else rows


def ticker_24hr(venue: BinanceVenue, params: Params) -> Json | list[Json]:
    params.get("type")  # FULL (default) or MINI; we always answer FULL
    markets, single = _each(venue, params)
    now = venue.market_now()
    rows = []
    for m in markets:
        day = m.day_stats(now)
        last = venue.price(m.config.name)
        bids, asks = _book_top(venue, m, 1)
        tape = [t for t in venue.tape[m.config.name] if t.at_ms >= ms(now - timedelta(days=1))]
        quote_volume = day.volume * (day.high + day.low + day.close) / 3
        rows.append(
            {
                "symbol": m.config.name,
                "priceChange": fmt(last - day.open),
                "priceChangePercent": format(
                    ((last - day.open) / day.open * 100).quantize(Decimal("0.001")), "f"
                ),
                "weightedAvgPrice": fmt((day.high + day.low + day.close) / 3),
                "prevClosePrice": fmt(day.open),
                "lastPrice": fmt(last),
                "lastQty": fmt(tape[-1].quantity if tape else _ZERO),
                "bidPrice": fmt(bids[0][0]),
                "bidQty": fmt(bids[0][1]),
                "askPrice": fmt(asks[0][0]),
                "askQty": fmt(asks[0][1]),
                "openPrice": fmt(day.open),
                "highPrice": fmt(max(day.high, last)),
                "lowPrice": fmt(min(day.low, last)),
                "volume": fmt(day.volume),
                "quoteVolume": fmt(quote_volume),
                "openTime": ms(day.open_time),
                "closeTime": ms(now),
                "firstId": tape[0].trade_id if tape else -1,
                "lastId": tape[-1].trade_id if tape else -1,
                "count": len(tape),
            }
        )
    return rows[0] if single else rows


def avg_price(venue: BinanceVenue, params: Params) -> Json:
    m = venue.market(params.require("symbol"))
    params.check_all_read()
    now = venue.market_now()
    rows = m.klines("1m", now, start=None, end=now, limit=5)
    closes = [k.candle.close for k in rows] or [venue.price(m.config.name)]
    return {
        "mins": 5,
        "price": fmt(sum(closes, _ZERO) / len(closes)),
        "closeTime": ms(rows[-1].close_time) if rows else ms(now),
    }


def depth(venue: BinanceVenue, params: Params) -> Json:
    m = venue.market(params.require("symbol"))
    limit = min(params.integer("limit", low=1) or 100, 5000)
    params.check_all_read()
    bids, asks = _book_top(venue, m, limit)
    return {
        "lastUpdateId": venue.server_ms(),
        "bids": [[fmt(p), fmt(q)] for p, q in bids],
        "asks": [[fmt(p), fmt(q)] for p, q in asks],
    }


def depth_weight(params: Params) -> int:
    limit = int(params.peek("limit") or 100)
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def recent_trades(venue: BinanceVenue, params: Params) -> list[Json]:
    m = venue.market(params.require("symbol"))
    limit = min(params.integer("limit", low=1) or 500, 1000)
    params.check_all_read()
    return [
        {
            "id": t.trade_id,
            "price": fmt(t.price),
            "qty": fmt(t.quantity),
            "quoteQty": fmt(t.price * t.quantity),
            "time": t.at_ms,
            "isBuyerMaker": t.buyer_maker,
            "isBestMatch": True,
        }
        for t in venue.tape[m.config.name][-limit:]
    ]


def agg_trades(venue: BinanceVenue, params: Params) -> list[Json]:
    """Compressed trades. Every tape trade is one taker fill at one price, so each is its own
    aggregate (`a` = `f` = `l` = the trade id). `fromId` (inclusive) or `startTime`/`endTime`
    (inclusive, in ms) select the oldest matches first; none of them: the most recent."""
    m = venue.market(params.require("symbol"))
    from_id = params.integer("fromId", low=0)
    start = params.integer("startTime", low=0)
    end = params.integer("endTime", low=0)
    limit = min(params.integer("limit", low=1) or 500, 1000)
    params.check_all_read()
    tape = venue.tape[m.config.name]
    if from_id is None and start is None and end is None:
        chosen = tape[-limit:]
    else:
        chosen = [
            t
            for t in tape
            if (from_id is None or t.trade_id >= from_id)
            and (start is None or t.at_ms >= start)
            and (end is None or t.at_ms <= end)
        ][:limit]
    return [
        {
            "a": t.trade_id,
            "p": fmt(t.price),
            "q": fmt(t.quantity),
            "f": t.trade_id,
            "l": t.trade_id,
            "T": t.at_ms,
            "m": t.buyer_maker,
            "M": True,
        }
        for t in chosen
    ]


def klines(venue: BinanceVenue, params: Params) -> list[list[Any]]:
    m = venue.market(params.require("symbol"))
    interval = params.require("interval")
    start = params.integer("startTime", low=0)
    end = params.integer("endTime", low=0)
    limit = min(params.integer("limit", low=1) or 500, 1000)
    params.get("timeZone")
    params.check_all_read()
    if interval not in INTERVAL_SECONDS:
        raise BinanceError(-1120, "Invalid interval.")
    rows = m.klines(
        interval,
        venue.market_now(),
        start=None if start is None else datetime.fromtimestamp(start / 1000, tz=UTC),
        end=None if end is None else datetime.fromtimestamp(end / 1000, tz=UTC),
        limit=limit,
    )
    out: list[list[Any]] = []
    for k in rows:
        c = k.candle
        quote_volume = c.volume * (c.high + c.low + c.close) / 3
        out.append(
            [
                ms(k.open_time),
                fmt(c.open),
                fmt(c.high),
                fmt(c.low),
                fmt(c.close),
                fmt(c.volume),
                ms(k.close_time) - 1,
                fmt(quote_volume),
                int(c.volume),
                fmt(c.volume / 2),
                fmt(quote_volume / 2),
                "0",
            ]
        )
    return out
