"""Temporal workflow definitions. Constants shared by workers, the API and tests live here."""

from enum import StrEnum


class TaskQueue(StrEnum):
    """Task queues by role; a worker polls the ones it serves. A queue's name is in every
    recorded history and running workflow: never rename one, add a new one."""

    ACCOUNTS = "accounts"  # subscriptions and plan limits
    MAINTENANCE = "maintenance"  # schedules: credential revalidation, purges
    BOTS = "bots"  # the bot workflows: woken by a feed or a command, idle otherwise
    MARKET_FEEDS = "market-feeds"  # one feed per (venue, symbol): reads and triggers
    REPORTS = "reports"  # exports and backtests: CPU-heavy work never holds up the other queues
    # Order activities per venue, so each queue can carry its venue's order rate as its limit.
    ORDERS_BINANCE = "orders-binance"
    ORDERS_MERCADO_BITCOIN = "orders-mercadobitcoin"
    ORDERS_PAPER = "orders-paper"

    @classmethod
    def orders(cls, venue: str) -> "TaskQueue":
        """The order queue of a venue (`domain.market.Venue` value)."""
        return cls(f"orders-{venue}")
