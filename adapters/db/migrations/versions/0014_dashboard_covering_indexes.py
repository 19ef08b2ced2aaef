"""dashboard: the buys' and the trades' indexes carry what the dashboard sums (index-only scans)

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ORDERS = ["user_id", "side", "created_at"]
_ORDERS_SUMMED = ["strategy", "symbol", "quote_quantity"]
_TRADES = ["user_id", "closed_at"]
_TRADES_SUMMED = ["context_id", "strategy", "quote", "won", "profit", "opened_at"]


def _replace(table: str, name: str, columns: list[str]) -> None:
    op.drop_index(name, table_name=table)
    op.create_index(name, table, columns)


def upgrade() -> None:
    _replace("bot_orders", "ix_bot_orders_user_side", _ORDERS + _ORDERS_SUMMED)
    _replace("bot_trades", "ix_bot_trades_user_closed", _TRADES + _TRADES_SUMMED)


def downgrade() -> None:
    _replace("bot_orders", "ix_bot_orders_user_side", _ORDERS)
    _replace("bot_trades", "ix_bot_trades_user_closed", _TRADES)
