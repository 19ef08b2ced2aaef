"""Backtests through the API (PRO and MAX): `POST /api/backtests` asks for a bot configuration
(or one of the caller's bots) over a venue's past candles and answers 202; a Temporal workflow
downloads the candles and runs it (`workflows/backtests.py`); `GET /api/backtests/{id}`
returns its status and, when ready, the summary (the dashboard's metrics) and the result
(daily equity, orders with their creation context, closed trades). `GET /api/backtests` lists
the newest.

Checked before anything runs: the plan (403 plan_feature), the period against the plan's
longest (403 plan_limit), the config as bot creation checks it (422 invalid_config), the
venue's market and timeframe (422), the daily quota (429 backtest_quota, with the time it
resets) and at most `MAX_PENDING` in the making (429 too_many_backtests).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from adapters.db.backtests import BacktestRecord, BacktestStatus, BacktestStore
from adapters.db.models import User
from adapters.exchanges.errors import ExchangeError
from api.bots.creation import bot_config, check_plan, check_strategy, invalid_config
from api.bots.endpoints import owned_bot
from api.bots.workflow_calls import start_job
from api.dashboard.plans import plan_window, require
from api.deps import CurrentUser, ExchangesDep, SessionDep, TemporalDep
from api.errors import ApiError, error_responses
from api.exchanges.endpoints import market_unreadable
from domain.bots.state import BotKind
from domain.indicators.availability import timeframe_refusal, timeframe_seconds
from domain.market import Symbol, Venue
from domain.plans import PLANS, Feature, Plan
from workflows.backtests import BacktestWorkflow, backtest_workflow_id

router = APIRouter(
    prefix="/api/backtests", tags=["backtests"], responses=error_responses(401, 422, 500)
)

MAX_PENDING = 2  # backtests one user may have in the making at once
MAX_CANDLES = 1_100_000  # two years of minute candles: what one run may hold in memory
QUOTA_ZONE = ZoneInfo("America/Sao_Paulo")  # the users' day, as the chat's quota counts it


class _Period(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    venue: Venue | None = Field(None, description="default: the bot's venue, else paper")
    timeframe: str = Field("1m", max_length=4, description="of the candles replayed")
    period_from: AwareDatetime = Field(alias="from")
    period_to: AwareDatetime = Field(alias="to")


class ConfigBacktest(_Period):
    """A config, as bot creation takes it."""

    kind: BotKind
    config: dict[str, Any]


class BotBacktest(_Period):
    """One of the caller's bots: its kind, config and venue."""

    bot_id: uuid.UUID


BacktestRequest = ConfigBacktest | BotBacktest


class BacktestOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: uuid.UUID
    kind: BotKind
    config: dict[str, Any]
    venue: Venue
    symbol: str
    timeframe: str
    period_from: datetime = Field(serialization_alias="from")
    period_to: datetime = Field(serialization_alias="to")
    status: BacktestStatus
    requested_at: datetime
    finished_at: datetime | None
    error: str | None = Field(description="why it could not be run (status failed)")
    summary: dict[str, Any] | None = Field(description="the metrics, once ready")

    @classmethod
    def of(cls, row: BacktestRecord) -> BacktestOut:
        return cls.model_validate(row, from_attributes=True)


class BacktestDetail(BacktestOut):
    result: dict[str, Any] | None = Field(
        description="daily equity, the newest 5,000 orders (orders_total: all) and the trades"
    )


@router.post(
    "",
    status_code=202,
    response_model=BacktestOut,
    response_model_by_alias=True,
    responses=error_responses(403, 429, 503),
)
async def request_backtest(
    body: BacktestRequest,
    user: CurrentUser,
    session: SessionDep,
    exchanges: ExchangesDep,
    temporal: TemporalDep,
) -> BacktestOut:
    window = await plan_window(session, user)
    plan = window.plan
    require(plan, Feature.BACKTESTING, "backtesting")
    if isinstance(body, BotBacktest):
        bot, bot_venue = await owned_bot(session, user.id, body.bot_id, include_deleted=True)
        kind, raw, venue = BotKind(bot.kind), bot.config, body.venue or bot_venue
    else:
        kind, raw, venue = body.kind, body.config, body.venue or Venue.PAPER
    await check_plan(session, user, kind)
    _check_period(body, plan.plan, window.now)
    symbol = _symbol(raw)
    config = bot_config(kind, raw, symbol)
    await check_strategy(session, user, config, venue)
    refusal = timeframe_refusal(venue, body.timeframe)
    if refusal is not None or body.timeframe == "1M":
        message = refusal.message if refusal else "monthly candles vary in length"
        raise ApiError(422, "timeframe_unsupported", message, {"timeframe": body.timeframe})
    span = (body.period_to - body.period_from).total_seconds()
    if span / timeframe_seconds(body.timeframe) > MAX_CANDLES:
        raise ApiError(
            422,
            "too_many_candles",
            f"At most {MAX_CANDLES:,} candles a backtest: pick a longer timeframe.",
            {"max_candles": MAX_CANDLES},
        )
    await _check_market(exchanges, venue, symbol)
    store = BacktestStore(session)
    await _check_quota(store, user, plan.plan, window.now)
    backtest = BacktestRecord(
        id=uuid.uuid4(),
        user_id=user.id,
        kind=kind.value,
        config=config.model_dump(mode="json"),
        venue=venue.value,
        symbol=symbol,
        timeframe=body.timeframe,
        period_from=body.period_from,
        period_to=body.period_to,
        status=BacktestStatus.PENDING,
        requested_at=window.now,
    )
    store.add(backtest)
    await session.flush()  # committed when the route returns; the activity waits for it
    await start_job(temporal, BacktestWorkflow.run, backtest.id, backtest_workflow_id(backtest.id))
    return BacktestOut.of(backtest)


@router.get("", response_model=list[BacktestOut], response_model_by_alias=True)
async def list_backtests(user: CurrentUser, session: SessionDep) -> list[BacktestOut]:
    """The caller's 50 newest backtests, newest first."""
    return [BacktestOut.of(row) for row in await BacktestStore(session).newest(user.id, 50)]


@router.get(
    "/{backtest_id}",
    response_model=BacktestDetail,
    response_model_by_alias=True,
    responses=error_responses(404),
)
async def get_backtest(
    backtest_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> BacktestDetail:
    backtest = await BacktestStore(session).get(user.id, backtest_id)
    if backtest is None:
        raise ApiError(404, "backtest_not_found", "No such backtest.")
    return BacktestDetail.model_validate(backtest, from_attributes=True)


def _symbol(config: dict[str, Any]) -> str:
    text = config.get("symbol")
    if isinstance(text, str):
        try:
            return str(Symbol.parse(text))
        except ValueError:
            pass
    raise invalid_config(
        [{"field": "config.symbol", "message": "the market, e.g. BTC-BRL", "type": "missing"}]
    )


def _check_period(body: _Period, plan: Plan, now: datetime) -> None:
    start, end = body.period_from, body.period_to
    if not start < end <= now:
        raise ApiError(
            422,
            "invalid_period",
            "The period must end after it starts, and not in the future.",
            {"from": start.isoformat(), "to": end.isoformat()},
        )
    longest = PLANS[plan].backtest_days
    if end - start > timedelta(days=longest):
        raise ApiError(
            403,
            "plan_limit",
            f"The {PLANS[plan].name} plan backtests up to {longest} days at a time.",
            {"plan": plan.value, "backtest_days": longest, "unlocked_by": Plan.MAX.value},
        )


async def _check_market(exchanges: ExchangesDep, venue: Venue, symbol: str) -> None:
    try:
        async with exchanges.connect(venue) as exchange:
            await exchange.market_rules(symbol)
    except ExchangeError as error:
        raise market_unreadable(venue, symbol, error) from None


async def _check_quota(store: BacktestStore, user: User, plan: Plan, now: datetime) -> None:
    if await store.pending(user.id) >= MAX_PENDING:
        raise ApiError(
            429,
            "too_many_backtests",
            f"{MAX_PENDING} backtests are running; wait for them before asking for more.",
            {"pending": MAX_PENDING},
        )
    local = now.astimezone(QUOTA_ZONE)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    allowed = PLANS[plan].backtests_per_day
    if await store.requested_since(user.id, day) >= allowed:
        resets = day + timedelta(days=1)
        raise ApiError(
            429,
            "backtest_quota",
            f"The {PLANS[plan].name} plan runs {allowed} backtests a day; more from "
            f"{resets.isoformat()}.",
            {"plan": plan.value, "per_day": allowed, "resets_at": resets.isoformat()},
            headers={"Retry-After": str(max(1, int((resets - local).total_seconds())))},
        )
