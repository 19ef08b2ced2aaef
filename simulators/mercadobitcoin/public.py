"""Public data: /authorize, /symbols, /tickers, /{symbol}/orderbook, /{symbol}/trades, /candles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from domain.market import BookLevel, Side
from simulators.mercadobitcoin.deps import VenueDep, json_body, public_market, throttle
from simulators.mercadobitcoin.prices import MONTH, RESOLUTIONS, candles
from simulators.mercadobitcoin.state import Venue
from simulators.mercadobitcoin.wire import MbError, MbJSON, invalid_parameter, money, required

router = APIRouter()
_MAX_ROWS = 1000
_HALF_SPREAD = Decimal("0.0005")


@router.post("/authorize")
async def authorize(venue: VenueDep, request: Request) -> MbJSON:
    throttle(venue, request, "overall")
    body = await json_body(request)
    login = body.get("login") if isinstance(body, dict) else None
    password = body.get("password") if isinstance(body, dict) else None
    if not isinstance(login, str) or not login:
        raise required("login")
    if not isinstance(password, str) or not password:
        raise required("password")
    account = venue.login(login, password)
    if account is None:
        raise MbError(400, "AUTHORIZE|AUTHORIZATION|FORBIDDEN", "Invalid login or password")
    token, expiration = venue.tokens.issue(account.key)
    return MbJSON({"access_token": token, "expiration": expiration})


@router.get("/symbols")
async def symbols(venue: VenueDep, request: Request, symbols: str | None = None) -> MbJSON:
    """Column-oriented, as MB answers: one array per field, one position per symbol."""
    throttle(venue, request, "public")
    wanted = (
        [public_market(venue, s) for s in symbols.split(",")]
        if symbols
        else list(venue.engine.markets)
    )
    specs = {m.rules.symbol: m for m in venue.config.markets}
    columns: dict[str, list[Any]] = {}
    for symbol in wanted:
        rules, base, quote = venue.engine.markets[symbol], *symbol.split("-")
        exponent = rules.price_tick.normalize().as_tuple().exponent
        decimals = max(0, -exponent) if isinstance(exponent, int) else 0
        row: dict[str, Any] = {
            "symbol": symbol,
            "description": specs[symbol].description or base,
            "currency": quote,
            "base-currency": base,
            "exchange-listed": True,
            "exchange-traded": True,
            "minmovement": money(rules.price_tick),
            "pricescale": 10**decimals,
            "session-regular": "24x7",
            "timezone": "America/Sao_Paulo",
            "type": "CRYPTO",
            "withdraw-minimum": money(rules.min_quantity),
            "withdrawal-fee": money(Decimal(0)),
            "deposit-minimum": money(rules.min_quantity),
            "min-price": money(rules.min_price),
            "max-price": money(rules.max_price or Decimal(0)),
            "min-volume": money(rules.min_quantity),
            "max-volume": money(rules.max_quantity or Decimal(0)),
            "min-cost": money(rules.min_notional),
            "max-cost": money(rules.max_notional or Decimal(0)),
        }
        for key, value in row.items():
            columns.setdefault(key, []).append(value)
    return MbJSON(columns)


def _book(venue: Venue, symbol: str, depth: int) -> tuple[list[BookLevel], list[BookLevel]]:
    """A synthetic book around the last price, with every account's resting orders in it."""
    rules, last = venue.engine.markets[symbol], venue.price(symbol)
    spread = max(rules.price_tick, rules.quantise_price(last * _HALF_SPREAD, Side.BUY))
    levels: dict[Side, dict[Decimal, Decimal]] = {Side.BUY: {}, Side.SELL: {}}
    for k in range(1, depth + 1):
        size = max(rules.min_quantity, rules.quantise_quantity(Decimal(500 * k) / last))
        bid = rules.quantise_price(last - spread * k, Side.BUY)
        if bid > 0:
            levels[Side.BUY][bid] = size
        levels[Side.SELL][rules.quantise_price(last + spread * k, Side.SELL)] = size
    for account_id in venue.account_ids():
        for order in venue.engine.open_orders(account_id, symbol):
            if order.price is not None:
                side = levels[order.side]
                rest = order.quantity - order.filled_quantity
                side[order.price] = side.get(order.price, Decimal(0)) + rest
    bids = sorted(levels[Side.BUY].items(), reverse=True)[:depth]
    asks = sorted(levels[Side.SELL].items())[:depth]
    return (
        [BookLevel(price=p, quantity=q) for p, q in bids],
        [BookLevel(price=p, quantity=q) for p, q in asks],
    )


@router.get("/tickers")
async def tickers(venue: VenueDep, request: Request, symbols: str | None = None) -> MbJSON:
    throttle(venue, request, "public")
    if not symbols:
        raise required("symbols")
    now = venue.clock.now()
    out = []
    for symbol in [public_market(venue, s) for s in symbols.split(",")]:
        # One candle over the rolling day (24 hourly ones cost 20x as much for a random walk).
        day = venue.sources[symbol].candle(now - timedelta(hours=24), now)
        last = venue.price(symbol)
        bids, asks = _book(venue, symbol, 1)
        out.append(
            {
                "pair": symbol,
                "high": money(max(day.high, last)),
                "low": money(min(day.low, last)),
                "vol": money(day.volume),
                "last": money(last),
                "buy": money(bids[0].price if bids else last),
                "sell": money(asks[0].price if asks else last),
                "open": money(day.open),
                "date": int(now.timestamp()),
            }
        )
    return MbJSON(out)


@router.get("/{symbol}/orderbook")
async def orderbook(venue: VenueDep, request: Request, symbol: str, limit: int = 50) -> MbJSON:
    """Asks ascending, bids descending: best price first on both sides."""
    throttle(venue, request, "public")
    name = public_market(venue, symbol)
    if not 1 <= limit <= _MAX_ROWS:
        raise invalid_parameter("API|REQUEST")
    bids, asks = _book(venue, name, limit)
    return MbJSON(
        {
            "asks": [[money(x.price), money(x.quantity)] for x in asks],
            "bids": [[money(x.price), money(x.quantity)] for x in bids],
            "timestamp": int(venue.clock.now().timestamp() * 1_000_000_000),
        }
    )


@router.get("/{symbol}/trades")
async def trades(
    venue: VenueDep,
    request: Request,
    symbol: str,
    since: int | None = None,
    limit: int = _MAX_ROWS,
) -> MbJSON:
    """Every account's fills on the market, oldest first (`since` = after that trade id)."""
    throttle(venue, request, "public")
    name = public_market(venue, symbol)
    if not 1 <= limit <= _MAX_ROWS:
        raise invalid_parameter("API|REQUEST")
    fills = [f for f in venue.all_fills(name) if since is None or int(f.trade_id) > since]
    return MbJSON(
        [
            {
                "tid": int(f.trade_id),
                "date": int(f.at.timestamp()),
                "type": f.side.value,
                "price": money(f.price),
                "amount": money(f.quantity),
            }
            for f in fills[-limit:]
        ]
    )


@router.get("/candles")
async def list_candles(
    venue: VenueDep,
    request: Request,
    symbol: str | None = None,
    resolution: str | None = None,
    to: int | None = None,
    start: Annotated[int | None, Query(alias="from")] = None,
    countback: int | None = None,
) -> MbJSON:
    """Columns t,o,h,l,c,v, oldest first; `countback` (bars up to `to`) wins over `from`."""
    throttle(venue, request, "public")
    for name, value in (("symbol", symbol), ("resolution", resolution), ("to", to)):
        if value is None:
            raise required(name)
    assert symbol is not None and resolution is not None and to is not None
    market = public_market(venue, symbol)
    if resolution not in RESOLUTIONS and resolution != MONTH:
        raise invalid_parameter("API|REQUEST")
    if countback is not None and not 1 <= countback <= _MAX_ROWS:
        raise invalid_parameter("API|REQUEST")
    to_at = datetime.fromtimestamp(to, UTC)
    bar = timedelta(seconds=RESOLUTIONS.get(resolution, 31 * 86400))
    end = min(to_at + bar, venue.clock.now())  # the bar holding `to`, as far as it has formed
    bars = countback or _MAX_ROWS
    begin = end - bar * bars
    if countback is None and start is not None:
        begin = datetime.fromtimestamp(start, UTC)
    path = venue.sources[market]
    rows = [c for c in candles(path, resolution, begin, end) if c.open_time <= to_at][-bars:]
    return MbJSON(
        {
            "t": [int(c.open_time.timestamp()) for c in rows],
            "o": [money(c.open) for c in rows],
            "h": [money(c.high) for c in rows],
            "l": [money(c.low) for c in rows],
            "c": [money(c.close) for c in rows],
            "v": [money(c.volume) for c in rows],
        }
    )
