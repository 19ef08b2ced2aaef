"""A position a bot closed: what its projection writes (table bot_trades) for the dashboard's
win rate, P&L per strategy and hold times."""

from __future__ import annotations

from datetime import datetime

from domain.market import Money, _Model


class TradeResult(_Model):
    """The bot's `number`-th closed position (1, 2, ...: the key that makes a repeated
    projection write it once)."""

    number: int
    # The position's first buy fill; None for a position opened before bots kept it.
    opened_at: datetime | None
    closed_at: datetime
    closing_order: str  # client order id of the sale that closed it: its strategy is the trade's
    profit: Money  # realized since the previous trade closed, net of every fee
