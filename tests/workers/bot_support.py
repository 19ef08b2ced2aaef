"""Helpers of the bot activity tests: a user with a bot in the database, its `BotRef`, and
running an activity method with a real activity context."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.testing import ActivityEnvironment

from activities.bot_models import BotRef
from adapters.db.bots import BotStore
from adapters.db.models import TradingContext, User
from domain.bots.funds import BotFunds
from domain.bots.risk import RiskState
from domain.bots.state import BotKind
from domain.market import Venue


async def make_bot(db: AsyncSession, venue: Venue, symbol: str = "BTC-BRL") -> BotRef:
    user = User(email=f"{uuid.uuid4().hex[:10]}@example.com", name="Ana", password_hash="x")
    db.add(user)
    await db.flush()
    base, quote = symbol.split("-")
    context = TradingContext(user_id=user.id, coin=base, fiat=quote, exchange=venue.value)
    db.add(context)
    await db.flush()
    bot = await BotStore(db).create_bot(
        user_id=user.id,
        context_id=context.id,
        kind=BotKind.SMART,
        name="dip buyer",
        config={"symbol": symbol},
        funds=BotFunds.allocate(symbol, Decimal("1000")),
        risk=RiskState(),
        at=datetime.now(UTC),
    )
    await db.commit()
    return BotRef(
        bot_id=bot.id,
        user_id=user.id,
        context_id=context.id,
        kind=BotKind.SMART,
        venue=venue,
        symbol=symbol,
    )


async def run(method: Any, arg: Any, *, attempt: int = 1) -> Any:
    """The activity method in a real activity context (its `activity.info()`), at `attempt`."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    return await env.run(method, arg)
