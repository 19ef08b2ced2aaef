"""A bot's fund ledger: what it holds free, blocked by open orders, invested at cost, and what it
has made, moved only by pure transitions (a placement, a fill, a final status).

Invariants after every event, exact in `Decimal` (arithmetic runs in a wide context that raises
rather than rounds; the one division, the cost of a partial sale, is rounded explicitly and
moves `invested` and `realized_profit` by the same amount):
    free + blocked + invested == allocated_balance + realized_profit
    position_quantity == base bought - base sold, net of the fees charged in base

Accounting decisions:
- A buy blocks quote: a limit (or stop-limit) buy price x quantity, a market buy by quote amount
  that amount; a market buy by base quantity has no price, so the caller passes `reserve` (its
  estimate). No fee is reserved by default, because our venues charge a buy's fee in base (the
  received asset) or in BNB; a caller on a venue that charges quote passes a `reserve` with it.
- A fill is a fact from the venue, so it is recorded even when it costs more than its order
  blocked (a market buy's estimate, a quote fee): the excess comes from `free`, which may then go
  negative (`overdrawn`) and stops the bot from buying; only events that cannot have happened are
  refused (FundsError).
- Fees count as the venue charged them: in quote, a buy's fee adds to its cost and a sale's fee
  reduces its proceeds; in base, a buy receives less and a sale gives more. A fee in a third asset
  (Binance's BNB) moves neither quote nor base: it is paid from the account's BNB, not from the
  bot's allocation, and valuing it needs a BNB price the fill does not carry; it is recorded in
  `fees` (every asset is), for the P&L to value separately. So the bot's quote and base always
  match the venue's quote and base movements for its fills.
- A sale's realized profit is its net proceeds minus the average cost of the base it gave.
- Every event is idempotent: a fill's trade id is remembered on its order (the user stream and
  REST syncs deliver the same fill twice), a repeated placement or final status changes nothing.
  Finished orders stay known, so a late fill (read by a sync after the stream's CANCELED) still
  lands; `forget` drops a finished order once its fills are reconciled.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)

from pydantic import Field, computed_field

from domain.market import Fill, Money, OrderRequest, Side, Symbol, _Model

# Any rounding in the books' sums raises: the invariants hold exactly or not at all.
_EXACT = Context(prec=60, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])
_ROUND = Context(prec=60, rounding=ROUND_HALF_EVEN)
# A partial sale's cost share is rounded here: far below any venue's precision.
COST_QUANTUM = Decimal("1e-18")
_ZERO = Decimal(0)


class FundsError(Exception):
    """An event the ledger refuses: it cannot have happened, or the bot may not do it. Never
    retryable: the same event fails the same way."""


class UnknownOrder(FundsError):
    pass


class DuplicateOrder(FundsError):
    """A client order id already used for a different order."""


class InsufficientFunds(FundsError):
    pass


class InsufficientPosition(FundsError):
    pass


class OverFill(FundsError):
    pass


class InvalidEvent(FundsError):
    pass


class OrderFunds(_Model):
    """What the ledger keeps of one of the bot's orders."""

    side: Side
    quantity: Money | None  # base asked; None for a buy by quote amount
    quote_quantity: Money | None  # the quote cap of a buy by quote amount
    reserved: Money  # blocked at placement: quote for a buy, base for a sell
    blocked: Money  # of that, still blocked
    filled_quantity: Money = _ZERO  # base, gross of fees
    filled_quote: Money = _ZERO  # quote notional (price x quantity), gross of fees
    trade_ids: frozenset[str] = frozenset()
    final: bool = False

    @property
    def complete(self) -> bool:
        if self.quantity is not None:
            return self.filled_quantity == self.quantity
        return self.filled_quote == self.quote_quantity


class BotFunds(_Model):
    base: str
    quote: str
    allocated_balance: Money
    free: Money  # quote the bot may still commit; negative only after an overdrawing fill
    blocked: Money = _ZERO  # quote held by open buys
    invested: Money = _ZERO  # the position's cost, fees in quote and base included
    proceeds: Money = _ZERO  # quote received from sales, net of quote fees
    realized_profit: Money = _ZERO
    position_quantity: Money = _ZERO  # base held, including what open sells block
    blocked_quantity: Money = _ZERO  # base held by open sells
    fees: dict[str, Money] = Field(default_factory=dict)  # asset -> total charged
    orders: dict[str, OrderFunds] = Field(default_factory=dict)  # by client order id

    @classmethod
    def allocate(cls, symbol: str, allocated_balance: Decimal) -> BotFunds:
        if allocated_balance < 0:
            raise InvalidEvent(f"cannot allocate {allocated_balance}")
        try:
            market = Symbol.parse(symbol)
        except ValueError as error:
            raise InvalidEvent(str(error)) from error
        return cls(base=market.base, quote=market.quote, allocated_balance=allocated_balance,
                   free=allocated_balance)  # fmt: skip

    @computed_field  # type: ignore[prop-decorator]
    @property
    def average_price(self) -> Money | None:
        """The position's average cost per base unit (None without a position)."""
        if self.position_quantity <= 0:
            return None
        return (
            _ROUND.divide(self.invested, self.position_quantity)
            .quantize(COST_QUANTUM, context=_ROUND)
            .normalize(_ROUND)
        )

    @property
    def sellable_quantity(self) -> Decimal:
        return self.position_quantity - self.blocked_quantity

    @property
    def overdrawn(self) -> bool:
        return self.free < 0

    @property
    def symbol(self) -> str:
        return f"{self.base}-{self.quote}"

    def reallocate(self, allocated_balance: Decimal) -> BotFunds:
        """Change the allocation; what is taken away must be free."""
        with localcontext(_EXACT):
            free = self.free + allocated_balance - self.allocated_balance
        if allocated_balance < 0 or free < 0:
            raise InsufficientFunds(f"only {self.free} {self.quote} free to take back")
        return self.model_copy(update={"allocated_balance": allocated_balance, "free": free})

    def place(self, request: OrderRequest, *, reserve: Decimal | None = None) -> BotFunds:
        """An order about to be sent: a buy blocks quote, a sell blocks base from the position.

        Applied before the order leaves, so two decisions cannot spend the same funds; a
        REJECTED answer is then a `finish`. `reserve` replaces a buy's computed block (needed
        for a market buy by base quantity); a placement repeated with the same client order id
        and amounts changes nothing."""
        if request.symbol != self.symbol:
            raise InvalidEvent(f"order on {request.symbol}, the bot trades {self.symbol}")
        cid = request.client_order_id
        order = _new_order(request, reserve)
        known = self.orders.get(cid)
        if known is not None:
            if _same_order(known, order):
                return self
            raise DuplicateOrder(f"client order id {cid} is already another order")
        with localcontext(_EXACT):
            if order.side is Side.BUY:
                if order.reserved > self.free:
                    raise InsufficientFunds(
                        f"blocking {order.reserved} {self.quote} with {self.free} free"
                    )
                update = {"free": self.free - order.reserved,
                          "blocked": self.blocked + order.reserved}  # fmt: skip
            else:
                if order.reserved > self.sellable_quantity:
                    raise InsufficientPosition(
                        f"selling {order.reserved} {self.base} with {self.sellable_quantity} "
                        "not already on sale"
                    )
                update = {"blocked_quantity": self.blocked_quantity + order.reserved}
        return self.model_copy(update={**update, "orders": {**self.orders, cid: order}})

    def fill(self, client_order_id: str, fill: Fill) -> BotFunds:
        """A trade of one of the bot's orders; a trade id already applied changes nothing."""
        order = self._order(client_order_id)
        if fill.trade_id in order.trade_ids:
            return self
        self._check_fill(order, fill)
        with localcontext(_EXACT):
            notional = fill.price * fill.quantity
            quote_fee = fill.fee if fill.fee_asset == self.quote else _ZERO
            base_fee = fill.fee if fill.fee_asset == self.base else _ZERO
            filled = order.model_copy(update={
                "filled_quantity": order.filled_quantity + fill.quantity,
                "filled_quote": order.filled_quote + notional,
                "trade_ids": order.trade_ids | {fill.trade_id},
            })  # fmt: skip
            _check_overfill(client_order_id, filled)
            if order.side is Side.BUY:
                funds, filled = self._buy(filled, notional + quote_fee, fill.quantity - base_fee)
            else:
                funds, filled = self._sell(filled, fill.quantity, base_fee, notional - quote_fee)
            fees = dict(self.fees)
            if fill.fee:
                fees[fill.fee_asset] = fees.get(fill.fee_asset, _ZERO) + fill.fee
        funds = funds.model_copy(
            update={"fees": fees, "orders": {**self.orders, client_order_id: filled}}
        )
        return funds.finish(client_order_id) if filled.complete else funds

    def finish(self, client_order_id: str) -> BotFunds:
        """The order reached a final status (filled, canceled, expired, rejected): what it
        still blocks is released. Fills may still arrive for it afterwards."""
        order = self._order(client_order_id)
        if order.final:
            return self
        with localcontext(_EXACT):
            if order.side is Side.BUY:
                update = {"free": self.free + order.blocked,
                          "blocked": self.blocked - order.blocked}  # fmt: skip
            else:
                update = {"blocked_quantity": self.blocked_quantity - order.blocked}
        done = order.model_copy(update={"blocked": _ZERO, "final": True})
        return self.model_copy(update={**update, "orders": {**self.orders, client_order_id: done}})

    def forget(self, client_order_ids: Iterable[str]) -> BotFunds:
        """Drop finished orders whose fills are all applied (the database keeps their history);
        a fill for one afterwards is an unknown order."""
        dropped = set(client_order_ids)
        still_open = [cid for cid in dropped if cid in self.orders
                      and not self.orders[cid].final]  # fmt: skip
        if still_open:
            raise InvalidEvent(f"orders still open: {', '.join(sorted(still_open))}")
        kept = {cid: o for cid, o in self.orders.items() if cid not in dropped}
        return self if len(kept) == len(self.orders) else self.model_copy(update={"orders": kept})

    def violations(self) -> list[str]:
        """The invariants this ledger breaks (none, unless a bug let it)."""
        broken = []
        with localcontext(_EXACT):
            if self.free + self.blocked + self.invested != (
                self.allocated_balance + self.realized_profit
            ):
                broken.append("free + blocked + invested != allocated_balance + realized_profit")
            buys = [o.blocked for o in self.orders.values() if o.side is Side.BUY]
            sells = [o.blocked for o in self.orders.values() if o.side is Side.SELL]
            if self.blocked != sum(buys, _ZERO):
                broken.append("blocked != what the open buys block")
            if self.blocked_quantity != sum(sells, _ZERO):
                broken.append("blocked_quantity != what the open sells block")
        if min(self.blocked, self.invested, self.blocked_quantity) < 0:
            broken.append("a negative balance")
        if self.sellable_quantity < 0:
            broken.append("more base on sale than held")
        return broken

    def _order(self, client_order_id: str) -> OrderFunds:
        order = self.orders.get(client_order_id)
        if order is None:
            raise UnknownOrder(f"no order {client_order_id} in this bot's funds")
        return order

    def _check_fill(self, order: OrderFunds, fill: Fill) -> None:
        if fill.symbol != self.symbol or fill.side is not order.side:
            raise InvalidEvent(
                f"a {fill.side} fill on {fill.symbol} for a {order.side} order on {self.symbol}"
            )
        if fill.price <= 0 or fill.quantity <= 0 or fill.fee < 0:
            raise InvalidEvent(f"fill {fill.trade_id}: price, quantity and fee must be positive")
        with localcontext(_EXACT):
            received = fill.quantity if order.side is Side.BUY else fill.price * fill.quantity
        received_asset = self.base if order.side is Side.BUY else self.quote
        if fill.fee_asset == received_asset and fill.fee >= received:
            raise InvalidEvent(f"fill {fill.trade_id}: a fee of all it received")

    def _buy(
        self, order: OrderFunds, cost: Decimal, received: Decimal
    ) -> tuple[BotFunds, OrderFunds]:
        # The order's block pays first; a fill that cost more draws the rest from free.
        from_block = min(cost, order.blocked)
        funds = self.model_copy(update={
            "free": self.free - (cost - from_block),
            "blocked": self.blocked - from_block,
            "invested": self.invested + cost,
            "position_quantity": self.position_quantity + received,
        })  # fmt: skip
        return funds, order.model_copy(update={"blocked": order.blocked - from_block})

    def _sell(
        self, order: OrderFunds, quantity: Decimal, base_fee: Decimal, net: Decimal
    ) -> tuple[BotFunds, OrderFunds]:
        # The order's block gives the quantity sold; a fee in base, or a late fill after the
        # block was released, comes from base not on sale, then from what the order still blocks.
        from_block = min(quantity, order.blocked)
        short = quantity - from_block + base_fee - self.sellable_quantity
        if short > order.blocked - from_block:
            raise InsufficientPosition(
                f"a fill of {quantity} {self.base} (fee {base_fee}) beyond what the bot holds"
            )
        from_block += max(short, _ZERO)
        given = quantity + base_fee
        if given == self.position_quantity:
            cost = self.invested
        else:
            share = _ROUND.divide(_ROUND.multiply(self.invested, given), self.position_quantity)
            cost = share.quantize(COST_QUANTUM, context=_ROUND)
        funds = self.model_copy(update={
            "free": self.free + net,
            "invested": self.invested - cost,
            "proceeds": self.proceeds + net,
            "realized_profit": self.realized_profit + net - cost,
            "position_quantity": self.position_quantity - given,
            "blocked_quantity": self.blocked_quantity - from_block,
        })  # fmt: skip
        return funds, order.model_copy(update={"blocked": order.blocked - from_block})


def _new_order(request: OrderRequest, reserve: Decimal | None) -> OrderFunds:
    quantity, quote_quantity = request.quantity, request.quote_quantity
    if (quantity is None) == (quote_quantity is None):
        raise InvalidEvent("an order has a base quantity or a quote amount, one of them")
    if request.side is Side.SELL:
        if quantity is None or reserve is not None:
            raise InvalidEvent("the bot sells a base quantity")
        block = quantity
    elif reserve is not None:
        block = reserve
    elif quote_quantity is not None:
        block = quote_quantity
    elif request.price is not None and quantity is not None:
        with localcontext(_EXACT):
            block = request.price * quantity
    else:
        raise InvalidEvent("a market buy by base quantity needs a reserve (its quote estimate)")
    if block <= 0 or (quantity or quote_quantity or _ZERO) <= 0:
        raise InvalidEvent("an order blocks a positive amount")
    return OrderFunds(
        side=request.side, quantity=quantity, quote_quantity=quote_quantity,
        reserved=block, blocked=block,
    )  # fmt: skip


def _same_order(known: OrderFunds, new: OrderFunds) -> bool:
    return (known.side, known.quantity, known.quote_quantity, known.reserved) == (
        new.side, new.quantity, new.quote_quantity, new.reserved
    )  # fmt: skip


def _check_overfill(client_order_id: str, order: OrderFunds) -> None:
    if order.quantity is not None and order.filled_quantity > order.quantity:
        raise OverFill(f"{client_order_id}: {order.filled_quantity} filled of {order.quantity}")
    if order.quote_quantity is not None and order.filled_quote > order.quote_quantity:
        raise OverFill(f"{client_order_id}: {order.filled_quote} spent of {order.quote_quantity}")
