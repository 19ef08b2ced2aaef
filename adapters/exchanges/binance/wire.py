"""Translation between Binance Spot v3 JSON and Crypteras' domain models and errors, both
ways: answers into models, order requests into checked, quantised wire parameters."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from adapters.exchanges.errors import (
    AuthError,
    ClockSkew,
    ExchangeError,
    InsufficientBalance,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
    TemporaryError,
    UnknownSymbol,
)
from domain.market import (
    BookLevel,
    Candle,
    Fill,
    MarketRules,
    Order,
    OrderBook,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    Ticker,
    Venue,
    average_price,
)

VENUE = Venue.BINANCE.value
Json = dict[str, Any]

_STATUS = {
    "NEW": OrderStatus.NEW,
    "PENDING_NEW": OrderStatus.NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "PENDING_CANCEL": OrderStatus.CANCELED,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
}
_AUTH_CODES = {-1002, -1022, -2014, -2015}
_TEMPORARY_CODES = {-1000, -1001, -1006, -1007, -1008}
_RATE_CODES = {-1003, -1015}


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def datetime_to_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@dataclass(frozen=True)
class SymbolInfo:
    """One exchangeInfo symbol: its rules plus what MarketRules cannot hold.

    A MARKET order by quantity must pass LOT_SIZE and MARKET_LOT_SIZE both, so the market_*
    fields are the two filters combined: the larger minimum, the smaller maximum, and a step on
    both grids."""

    name: str  # BTCBRL
    rules: MarketRules
    market_min_qty: Decimal
    market_max_qty: Decimal | None
    market_step: Decimal  # 0: MARKET_LOT_SIZE sets no step, LOT_SIZE's applies
    quote_precision: int
    trading: bool


def _filters(raw: Json) -> dict[str, Json]:
    return {f["filterType"]: f for f in raw.get("filters", [])}


def _positive(value: str | None) -> Decimal | None:
    """Binance writes "no limit" as 0."""
    if value is None:
        return None
    number = Decimal(value)
    return number if number > 0 else None


def _smallest(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    """The tighter of two optional maxima (None: no limit)."""
    if a is None or b is None:
        return a if b is None else b
    return min(a, b)


def _common_step(market: Decimal, lot: Decimal) -> Decimal:
    """A step on both grids (their least common multiple); 0 when MARKET_LOT_SIZE sets none."""
    if market <= 0 or lot <= 0:
        return market if market > 0 else Decimal(0)
    places = max(-_exponent(market), -_exponent(lot), 0)
    scale = Decimal(10) ** places
    common = math.lcm(int(market * scale), int(lot * scale))
    return (Decimal(common) / scale).quantize(Decimal(1).scaleb(-places))


def _exponent(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def parse_symbol(raw: Json) -> SymbolInfo:
    filters = _filters(raw)
    price = filters.get("PRICE_FILTER", {})
    lot = filters.get("LOT_SIZE", {})
    market_lot = filters.get("MARKET_LOT_SIZE", {})
    notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL") or {}
    rules = MarketRules(
        symbol=f"{raw['baseAsset']}-{raw['quoteAsset']}",
        price_tick=Decimal(price.get("tickSize", "0")),
        min_price=Decimal(price.get("minPrice", "0")),
        max_price=_positive(price.get("maxPrice")),
        lot_step=Decimal(lot.get("stepSize", "0")),
        min_quantity=Decimal(lot.get("minQty", "0")),
        max_quantity=_positive(lot.get("maxQty")),
        min_notional=Decimal(notional.get("minNotional", "0")),
        max_notional=_positive(notional.get("maxNotional")),
    )
    return SymbolInfo(
        name=raw["symbol"],
        rules=rules,
        market_min_qty=max(Decimal(market_lot.get("minQty", "0")), rules.min_quantity),
        market_max_qty=_smallest(_positive(market_lot.get("maxQty")), rules.max_quantity),
        market_step=_common_step(Decimal(market_lot.get("stepSize", "0")), rules.lot_step),
        quote_precision=int(raw.get("quoteAssetPrecision") or raw.get("quotePrecision") or 8),
        trading=raw.get("status") == "TRADING",
    )


def parse_ticker(symbol: str, raw: Json) -> Ticker:
    return Ticker(
        symbol=symbol,
        last=Decimal(raw["lastPrice"]),
        bid=Decimal(raw["bidPrice"]),
        ask=Decimal(raw["askPrice"]),
        high_24h=Decimal(raw["highPrice"]),
        low_24h=Decimal(raw["lowPrice"]),
        volume_24h=Decimal(raw["volume"]),
        at=ms_to_datetime(raw["closeTime"]),
    )


def parse_quote(symbol: str, book: Json, last: str, at: datetime) -> Ticker:
    """A ticker from bookTicker's best bid and ask and ticker/price's last price: the cheap
    all-market reads, without 24 h statistics or a time of their own."""
    return Ticker(
        symbol=symbol,
        last=Decimal(last),
        bid=Decimal(book["bidPrice"]),
        ask=Decimal(book["askPrice"]),
        at=at,
    )


def parse_book(symbol: str, raw: Json, at: datetime) -> OrderBook:
    def levels(rows: list[list[str]]) -> list[BookLevel]:
        return [BookLevel(price=Decimal(p), quantity=Decimal(q)) for p, q in rows]

    return OrderBook(symbol=symbol, bids=levels(raw["bids"]), asks=levels(raw["asks"]), at=at)


def parse_kline(row: list[Any]) -> Candle:
    return Candle(
        open_time=ms_to_datetime(row[0]),
        open=Decimal(row[1]),
        high=Decimal(row[2]),
        low=Decimal(row[3]),
        close=Decimal(row[4]),
        volume=Decimal(row[5]),
    )


def parse_order(symbol: str, raw: Json, fees: dict[str, Decimal] | None = None) -> Order:
    """An order from any of POST (RESULT/FULL), GET, DELETE /api/v3/order. The fees come from
    the FULL response's fills, or from `fees` (summed myTrades) when given."""
    executed = Decimal(raw["executedQty"])
    quote = Decimal(raw["cummulativeQuoteQty"])
    created: int = raw["time"] if "time" in raw else raw["transactTime"]
    updated: int = raw.get("updateTime") or raw.get("transactTime") or created
    if fees is None and "fills" in raw:
        fees = sum_commissions(raw["fills"])
    kind = OrderType(raw["type"].lower())
    quantity = Decimal(raw["origQty"])
    stop = Decimal(raw.get("stopPrice") or 0)
    return Order(
        order_id=str(raw["orderId"]),
        client_order_id=raw.get("origClientOrderId") or raw["clientOrderId"],
        symbol=symbol,
        side=Side(raw["side"].lower()),
        type=kind,
        status=_STATUS[raw["status"]],
        quantity=quantity if quantity > 0 else executed,
        price=Decimal(raw["price"]) if kind.has_limit_price else None,
        stop_price=stop if kind is OrderType.STOP_LOSS_LIMIT and stop > 0 else None,
        filled_quantity=executed,
        average_price=average_price(quote, executed),
        quote_quantity=quote,
        fees=fees or {},
        created_at=ms_to_datetime(created),
        updated_at=ms_to_datetime(updated),
    )


def sum_commissions(fills: list[Json]) -> dict[str, Decimal]:
    """Commission per asset over an order's fills (FULL response or myTrades): Binance charges
    BNB while the account pays fees in BNB and holds enough, the received asset otherwise, so
    one order can pay in both."""
    fees: dict[str, Decimal] = {}
    for f in fills:
        asset: str = f["commissionAsset"]
        fees[asset] = fees.get(asset, Decimal(0)) + Decimal(f["commission"])
    return fees


def parse_trade(symbol: str, raw: Json) -> Fill:
    return Fill(
        trade_id=str(raw["id"]),
        order_id=str(raw["orderId"]),
        symbol=symbol,
        side=Side.BUY if raw["isBuyer"] else Side.SELL,
        price=Decimal(raw["price"]),
        quantity=Decimal(raw["qty"]),
        fee=Decimal(raw["commission"]),
        fee_asset=raw["commissionAsset"],
        at=ms_to_datetime(raw["time"]),
    )


def error_for(status: int, body: Any, retry_after: float | None) -> ExchangeError:
    """The typed error for a non-2xx answer (4xx: our fault; 5xx: outcome unknown)."""
    code = body.get("code") if isinstance(body, dict) else None
    msg = str(body.get("msg", "")) if isinstance(body, dict) else str(body)[:200]
    text = f"HTTP {status} {code}: {msg}"
    if status in (418, 429) or code in _RATE_CODES:
        return RateLimited(text, retry_after=retry_after, venue=VENUE, code=code)
    if status >= 500 or code in _TEMPORARY_CODES:
        return TemporaryError(text, venue=VENUE, code=code)
    if status == 403:  # Binance's web application firewall: says nothing about the key
        return TemporaryError("HTTP 403: blocked by Binance's firewall", venue=VENUE, code=code)
    if code == -1021:
        return ClockSkew(text, venue=VENUE, code=code)
    if code in _AUTH_CODES:  # only these say the key itself is refused
        return AuthError(text, venue=VENUE, code=code)
    if code == -1121:
        return UnknownSymbol(text, venue=VENUE, code=code)
    if code in (-2011, -2013):
        return OrderNotFound(text, venue=VENUE, code=code)
    if code == -2010 and "insufficient balance" in msg.lower():
        return InsufficientBalance(text, venue=VENUE, code=code)
    # -2010 is also "Order would immediately match and take." (a LIMIT_MAKER that would take)
    # and "Order would trigger immediately." (a stop already reached): refused, never placed.
    if code == -2010 or code == -1013 or (isinstance(code, int) and -1199 <= code <= -1100):
        return InvalidOrder(text, venue=VENUE, code=code)
    return ExchangeError(text, venue=VENUE, code=code)


def is_duplicate_order(error: ExchangeError) -> bool:
    """-2010 "Duplicate order sent.": an open order already carries this client order id."""
    return error.code == -2010 and "duplicate order" in error.message.lower()


def order_ref(order_id: str | None, client_order_id: str | None) -> dict[str, str]:
    """The order's key in a query: its Binance id, else its client order id."""
    if order_id is not None:
        return {"orderId": order_id}
    if client_order_id is not None:
        return {"origClientOrderId": client_order_id}
    raise InvalidOrder("give order_id or client_order_id", venue=VENUE)


def order_params(info: SymbolInfo, request: OrderRequest) -> dict[str, str]:
    """Quantise to exchangeInfo filters and refuse locally what Binance would refuse."""
    rules = info.rules
    params = {
        "symbol": info.name,
        "side": request.side.value.upper(),
        "type": request.type.value.upper(),
        "newClientOrderId": request.client_order_id,
        "newOrderRespType": "FULL",
    }
    if request.type is not OrderType.MARKET:
        return params | _priced_params(info, request)
    if request.price is not None or (request.quantity is None) == (request.quote_quantity is None):
        raise InvalidOrder(
            "a market order needs exactly one of quantity, quote_quantity", venue=VENUE
        )
    if request.quote_quantity is not None:
        spend = request.quote_quantity.quantize(
            Decimal(1).scaleb(-info.quote_precision), rounding=ROUND_DOWN
        )
        if spend <= 0 or spend < rules.min_notional:
            raise InvalidOrder(f"quote quantity {spend} below the minimum notional", venue=VENUE)
        if rules.max_notional and spend > rules.max_notional:  # NOTIONAL.applyMaxToMarket
            raise InvalidOrder(f"quote quantity {spend} above the maximum notional", venue=VENUE)
        params["quoteOrderQty"] = _plain(spend)
        return params
    assert request.quantity is not None
    step = info.market_step if info.market_step > 0 else rules.lot_step
    quantity = MarketRules(
        symbol=rules.symbol, price_tick=rules.price_tick, lot_step=step, min_quantity=0
    ).quantise_quantity(request.quantity)
    low = max(info.market_min_qty, rules.min_quantity)
    high = info.market_max_qty
    if quantity <= 0 or quantity < low or (high is not None and quantity > high):
        raise InvalidOrder(
            f"{request.symbol}: market quantity {quantity} outside [{low}, {high}]", venue=VENUE
        )
    params["quantity"] = _plain(quantity)
    return params


def _priced_params(info: SymbolInfo, request: OrderRequest) -> dict[str, str]:
    """LIMIT, LIMIT_MAKER and STOP_LOSS_LIMIT: quantity and price, checked against the filters
    (PRICE_FILTER bounds the stop price too). LIMIT_MAKER takes no timeInForce (Binance answers
    -1106 to one); a stop-limit rests GTC once triggered."""
    rules = info.rules
    if request.price is None or request.quantity is None or request.quote_quantity:
        raise InvalidOrder(f"a {request.type} order needs quantity and price", venue=VENUE)
    price = rules.quantise_price(request.price, request.side)
    quantity = rules.quantise_quantity(request.quantity)
    rule = rules.violation(quantity, price)
    if rule:
        raise InvalidOrder(
            f"{request.symbol}: {quantity} @ {price} breaks {rule} "
            f"(Binance would answer 'Filter failure')",
            venue=VENUE,
        )
    params = {"quantity": _plain(quantity), "price": _plain(price)}
    if request.type is not OrderType.LIMIT_MAKER:
        params["timeInForce"] = "GTC"
    if request.stop_price is not None:
        # On the tick the way that triggers no later than asked (a sell stop up, a buy down).
        stop = rules.quantise_price(request.stop_price, request.side)
        if rules.violation(quantity, stop) in ("price_range", "price_tick"):
            raise InvalidOrder(
                f"{request.symbol}: stop price {stop} breaks PRICE_FILTER", venue=VENUE
            )
        params["stopPrice"] = _plain(stop)
    return params


def _plain(value: Decimal) -> str:
    """Decimal as Binance accepts it: no exponent, no trailing zeros."""
    return format(value.normalize(), "f")
