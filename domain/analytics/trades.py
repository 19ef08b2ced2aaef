"""A trader's results in money, exact: closed trades (a position bought and sold, its profit
net of every fee), what is still held at today's price, and holding the coin instead.

Decided where the usual definitions leave a gap:
- a trade is a closed position, however many buys and sales it took; a win made money (a
  profit of exactly 0 is neither a win nor a loss);
- the profit factor is None without a loss: gross profit over nothing is not a number (the
  API shows null), and 0 with losses but no win;
- unrealized P&L marks the position at a price without the sale's fee (the venue's last price
  or best bid, the caller says which), against its cost with every fee paid so far.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

_ZERO = Decimal(0)


@dataclass(frozen=True)
class ClosedTrade:
    opened_at: datetime  # the position's first buy
    closed_at: datetime  # the sale that closed it
    profit: Decimal  # quote, net of every fee


def win_rate(trades: Sequence[ClosedTrade]) -> Decimal | None:
    """The share of trades that made money (0.5 is half); None without a trade."""
    if not trades:
        return None
    return Decimal(sum(1 for t in trades if t.profit > 0)) / len(trades)


def profit_factor(trades: Sequence[ClosedTrade]) -> Decimal | None:
    """Gross profit over gross loss; None without a loss."""
    won = sum((t.profit for t in trades if t.profit > 0), _ZERO)
    lost = sum((-t.profit for t in trades if t.profit < 0), _ZERO)
    return gross_ratio(won, lost)


def gross_ratio(gross_profit: Decimal, gross_loss: Decimal) -> Decimal | None:
    """The profit factor of trades that won `gross_profit` and lost `gross_loss` (> 0)."""
    return gross_profit / gross_loss if gross_loss > 0 else None


def average_hold(trades: Sequence[ClosedTrade]) -> timedelta | None:
    """How long a position was held, on average; None without a trade."""
    if not trades:
        return None
    return sum((t.closed_at - t.opened_at for t in trades), timedelta()) / len(trades)


def unrealized_pnl(quantity: Decimal, cost: Decimal, price: Decimal) -> Decimal:
    """What the held `quantity`, bought for `cost` (quote, fees included), gained or lost at
    `price`."""
    return quantity * price - cost if quantity > 0 else _ZERO


def buy_and_hold(first_price: Decimal, last_price: Decimal) -> Decimal:
    """The return of holding the coin over a period (0.1 is +10 %): what the bots' returns
    over the same period are compared with."""
    if first_price <= 0:
        raise ValueError("a price to start from must be positive")
    return last_price / first_price - 1
