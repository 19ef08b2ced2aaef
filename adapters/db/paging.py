"""Pages newest first, by keyset: a page's end is its last row's time and id, encoded as an
opaque cursor; the next page holds the rows older than it (the orders', signals' and alerts'
lists)."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import TypeVar

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T")


def encode_place(at: datetime, row_id: uuid.UUID) -> str:
    """A page's end: the last row's time and id (`decode_cursor` reads it back)."""
    raw = f"{at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """ValueError for anything this module did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, order_id = raw.partition("|")
        moment = datetime.fromisoformat(at)
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ValueError("invalid cursor") from error
    if moment.tzinfo is None:
        raise ValueError("invalid cursor")
    return moment, uuid.UUID(order_id)


def older_than(
    time: InstrumentedAttribute[T],
    row_id: InstrumentedAttribute[uuid.UUID],
    at: T,
    last_id: uuid.UUID,
) -> ColumnElement[bool]:
    """The rows after a page that ended at (`at`, `last_id`), newest first: older, or as old
    with a smaller id (so rows recorded meanwhile neither repeat nor shift the pages)."""
    return or_(time < at, and_(time == at, row_id < last_id))
