"""What identifies a bot's order: its client order id and the strategy it belongs to.

The client order id is the placement's idempotency key at the venue (Binance
``newClientOrderId``, Mercado Bitcoin ``externalId``), so it is derived, never drawn: the same
(workflow id, sequence) always gives the same id, and a retried placement asks for the order
that may already exist instead of making a second one. The bot's workflow owns the sequence and
carries it through ``continue_as_new`` (the workflow id ``bot:<id>`` stays).
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

__all__ = [
    "MAX_SEQUENCE",
    "ORDER_ID_PREFIX",
    "Strategy",
    "bot_order_prefix",
    "client_order_id",
]


class Strategy(StrEnum):
    """Which strategy made an order: the key the P&L per strategy groups by."""

    MANUAL = "manual"  # the user's own buy, sell or emergency sell
    SMART = "smart"
    CANDLE = "candle"
    DCA = "dca"


# Marks the orders Crypteras placed, so an account sync tells them from orders the user made
# on the venue's own site (Binance names those ``web_...``, ``and_...``, ``ios_...``).
ORDER_ID_PREFIX = "cx"
_HASH_CHARS = 20  # 80 bits of the workflow id's SHA-256: no two bots' prefixes meet in practice
_SEQUENCE_CHARS = 36 - len(ORDER_ID_PREFIX) - _HASH_CHARS - 1
MAX_SEQUENCE = 36**_SEQUENCE_CHARS - 1
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def bot_order_prefix(workflow_id: str) -> str:
    """The start every client order id of this bot shares (``cx<hash>-``)."""
    if not workflow_id:
        raise ValueError("workflow_id must not be empty")
    digest = hashlib.sha256(workflow_id.encode()).hexdigest()[:_HASH_CHARS]
    return f"{ORDER_ID_PREFIX}{digest}-"


def client_order_id(workflow_id: str, sequence: int) -> str:
    """The client order id of the bot's ``sequence``-th order: ``cx`` + a hash of the
    workflow id + ``-`` + the sequence in base 36: at most 36 characters of ``[a-z0-9-]``, within
    Binance's ``^[a-zA-Z0-9-_]{1,36}$`` and `OrderRequest.client_order_id`."""
    if not 0 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"sequence must be within 0..{MAX_SEQUENCE}, got {sequence}")
    return bot_order_prefix(workflow_id) + _base36(sequence)


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = _DIGITS[digit] + digits
        if not number:
            return digits
