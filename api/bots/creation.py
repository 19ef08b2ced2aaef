"""What a new bot must pass before it exists: an active context of the caller's, a plan with the
feature and room under its bot limit, a valid config for the context's market, and funds the
venue account holds beyond what the caller's other bots there may still spend."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.contexts import ContextRepository
from adapters.db.bots import BotStore
from adapters.db.models import ContextStatus, TradingContext, User
from adapters.db.models_bots import BotRecord, plain
from adapters.exchanges.errors import AuthError, ExchangeError
from adapters.exchanges.factory import ExchangeFactory
from adapters.vault import Vault
from api.errors import ApiError
from api.subscriptions.endpoints import stored_subscription
from api.venue_accounts import account_exchange, keys_rejected
from domain.bots.candle import CandleBotConfig
from domain.bots.config import SmartBotConfig
from domain.bots.kinds import KIND_FEATURES, KindConfig, parse_config, plan_refusal
from domain.bots.state import BotKind, BotStatus
from domain.indicators.availability import advanced_refusal, timeframe_refusal
from domain.market import Venue
from domain.plans import PLANS
from domain.signals import advanced_rules


async def active_context(
    session: AsyncSession, user_id: uuid.UUID, context_id: uuid.UUID
) -> TradingContext:
    context = await ContextRepository(session).get(user_id, context_id)
    if context is None:
        raise ApiError(404, "context_not_found", "No such trading context.")
    if context.status != ContextStatus.ACTIVE:
        raise ApiError(
            409,
            "context_paused",
            "The trading context is paused; resume it first.",
            {"context_id": str(context.id), "reason": context.paused_reason},
        )
    return context


async def lock_caller(session: AsyncSession, user: User) -> None:
    """Hold the caller's row until the request commits: two bots created at once are counted
    and funded one after the other, never both against the same room. An UPDATE, not SELECT
    ... FOR UPDATE: the row lock on PostgreSQL, the write lock on SQLite (whose driver opens the
    transaction at the first write) — so nothing that writes through another connection (the
    paper venue's balance read) may run while it is held."""
    await session.execute(
        update(User)
        .where(User.id == user.id)
        .values(updated_at=User.updated_at)
        .execution_options(synchronize_session=False)
    )


async def check_plan(session: AsyncSession, user: User, kind: BotKind) -> None:
    """The plan's feature for `kind`, then its bot limit (per user: every bot not deleted);
    checked again under `lock_caller` for the count to hold."""
    state = await stored_subscription(session, user)
    plan = PLANS[state.plan]
    feature = KIND_FEATURES[kind]
    if not plan.allows(feature):
        raise ApiError(
            403,
            "plan_feature",
            f"The {plan.name} plan has no {kind.value} bots; upgrade to use them.",
            {"plan": state.plan.value, "feature": feature.value},
        )
    count = await BotStore(session).count_bots(user.id)
    if not plan.within(plan.max_bots, count):
        raise ApiError(
            403,
            "plan_limit",
            f"The {plan.name} plan allows {plan.max_bots} bot(s); delete one or upgrade.",
            {"plan": state.plan.value, "limit": plan.max_bots, "current": count},
        )


async def check_plan_runs(session: AsyncSession, user: User, bot: BotRecord) -> None:
    """A command that sets the bot trading (start, resume, reset) needs a plan that runs it:
    its kind, and a Candle strategy's advanced rules (403 plan_feature)."""
    state = await stored_subscription(session, user)
    refusal = plan_refusal(PLANS[state.plan], bot.kind, parse_config(bot.kind, bot.config))
    if refusal is not None:
        raise ApiError(
            403,
            "plan_feature",
            f"{refusal[0].upper()}{refusal[1:]}; upgrade to run this bot.",
            {"plan": state.plan.value, "kind": bot.kind},
        )


def bot_config(kind: BotKind, raw: dict[str, Any], symbol: str) -> KindConfig:
    """The `kind` bot's config for the market `symbol` (filled in when left out); 422
    invalid_config naming every field refused."""
    raw = {**raw, "symbol": raw.get("symbol") or symbol}
    try:
        config = parse_config(kind, raw)
    except ValidationError as exc:
        raise invalid_config(
            [
                {
                    "field": ".".join(("config", *(str(part) for part in error["loc"]))),
                    "message": error["msg"].removeprefix("Value error, "),
                    "type": error["type"],
                }
                for error in exc.errors()
            ]
        ) from None
    if config.symbol != symbol:
        message = f"must be the context's market {symbol}"
        raise invalid_config(
            [{"field": "config.symbol", "message": message, "type": "symbol_mismatch"}]
        )
    return config


async def check_strategy(
    session: AsyncSession, user: User, config: KindConfig, venue: Venue
) -> None:
    """A Candle bot's strategy on `venue`: a timeframe the venue serves (422 invalid_config,
    naming the valid ones), and advanced indicators only for the MAX plan (403 plan_feature)
    on a venue whose candles carry them (422 venue_unsupported)."""
    if not isinstance(config, CandleBotConfig):
        return
    strategy = config.strategy
    refusal = timeframe_refusal(venue, strategy.timeframe)
    if refusal is not None:
        field = {"field": "config.strategy.timeframe", "message": refusal.message}
        raise invalid_config([{**field, "type": refusal.code}])
    advanced = advanced_rules(strategy)
    if not advanced:
        return
    plan = PLANS[(await stored_subscription(session, user)).plan]
    refusal = advanced_refusal(plan, venue)
    if refusal is not None:
        status = 403 if refusal.code == "plan_feature" else 422
        detail = {**refusal.detail, "rules": [rule.value for rule in advanced]}
        raise ApiError(status, refusal.code, refusal.message, detail)


def invalid_config(fields: list[dict[str, str]]) -> ApiError:
    return ApiError(422, "invalid_config", "The bot's config is not valid.", {"fields": fields})


async def venue_free_balance(
    session: AsyncSession,
    vault: Vault,
    exchanges: ExchangeFactory,
    user_id: uuid.UUID,
    venue: Venue,
    config: SmartBotConfig,
) -> Decimal:
    """The account's free quote at the venue (read before `lock_caller`: creating a bot moves
    no money at the venue, so the read stays true under the lock)."""
    quote = config.symbol.split("-", 1)[1]
    return await _free_balance(session, vault, exchanges, user_id, venue, quote)


async def check_funds(
    session: AsyncSession,
    user_id: uuid.UUID,
    venue: Venue,
    config: SmartBotConfig,
    available: Decimal,
) -> None:
    """The account's free quote (`available`), less what the caller's other live bots on the
    venue may still spend of it, must cover the new allocation.

    What another bot may still spend is its own `free`: what it has invested is no longer
    quote, and what its open orders block is the venue's `locked`, neither in the account's
    free balance; subtracting its whole allocation would count those twice."""
    quote = config.symbol.split("-", 1)[1]
    committed = await _committed_elsewhere(session, user_id, venue, quote)
    if available - committed < config.allocated_balance:
        free, held, asked = (
            format(plain(amount), "f")
            for amount in (available, committed, config.allocated_balance)
        )
        raise ApiError(
            409,
            "insufficient_funds",
            f"The {venue.value} account has {free} {quote} free, {held} of it committed to "
            f"your other bots: not enough for {asked}.",
            {"asset": quote, "free": free, "committed_to_bots": held, "requested": asked},
        )


async def _free_balance(
    session: AsyncSession,
    vault: Vault,
    exchanges: ExchangeFactory,
    user_id: uuid.UUID,
    venue: Venue,
    asset: str,
) -> Decimal:
    exchange = await account_exchange(session, vault, exchanges, user_id, venue)
    try:
        balances = await exchange.balances()
    except AuthError as exc:
        raise keys_rejected(venue, exc) from None
    except ExchangeError as exc:
        raise ApiError(
            503,
            "exchange_unavailable",
            f"{venue.value} cannot be reached to read your balance: {exc.message}",
        ) from None
    finally:
        await exchange.aclose()
    return next((b.free for b in balances if b.asset == asset), Decimal(0))


async def _committed_elsewhere(
    session: AsyncSession, user_id: uuid.UUID, venue: Venue, quote: str
) -> Decimal:
    rows = await session.scalars(
        select(BotRecord.funds)
        .join(TradingContext, TradingContext.id == BotRecord.context_id)
        .where(
            BotRecord.user_id == user_id,
            BotRecord.deleted_at.is_(None),
            BotRecord.status.in_([BotStatus.RUNNING, BotStatus.PAUSED]),
            TradingContext.exchange == venue.value,
            TradingContext.fiat == quote,
        )
    )
    return sum((max(Decimal(funds["free"]), Decimal(0)) for funds in rows), Decimal(0))
