"""The caller's bots: create, read, configure, command, delete; and each bot's orders.

The bot's workflow (`bot:<id>`) is the single writer of its trading state: commands and config
changes are Temporal Updates it applies in order, answered with its view; reads prefer its live
view and fall back to the row it projects (DESIGN "Single writer")."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Body, Response
from sqlalchemy.ext.asyncio import AsyncSession

from activities.bot_models import BotProjection, BotRef, ManualOrder, SmartBotInput
from adapters.contexts import ContextRepository
from adapters.db.bots import BotStore
from adapters.db.models import TradingContext
from adapters.db.models_bots import BotRecord
from api.bots.creation import (
    active_context,
    bot_config,
    check_funds,
    check_plan,
    check_plan_runs,
    check_strategy,
    lock_caller,
    venue_free_balance,
)
from api.bots.schemas import (
    BotCreate,
    BotPublic,
    FundsPublic,
    ManualOrderBody,
)
from api.bots.workflow_calls import bot_update, bot_view, start_bot
from api.deps import CurrentUser, ExchangesDep, SessionDep, TemporalDep, VaultDep, utcnow
from api.errors import ApiError, error_responses
from api.orders.endpoints import (
    OrderList,
    OrderQueryDep,
    order_list,
)
from domain.bots.candle import CandleBotConfig
from domain.bots.dca import DcaBotConfig
from domain.bots.funds import BotFunds
from domain.bots.kinds import KindConfig, engine_config, parse_config
from domain.bots.risk import RiskState
from domain.bots.state import BotStatus, Decision, PauseReason, SmartBotState
from domain.market import Venue

router = APIRouter(prefix="/api/bots", tags=["bots"], responses=error_responses(401, 422, 500))

# A command's answers besides 200: not the caller's bot, refused by the bot, Temporal down, the
# bot busy past the wait.
COMMAND_RESPONSES = error_responses(404, 409, 503, 504)


def _not_found() -> ApiError:
    return ApiError(404, "bot_not_found", "No such bot.")


def _ref(bot: BotRecord, venue: Venue) -> BotRef:
    return BotRef(
        bot_id=bot.id,
        user_id=bot.user_id,
        context_id=bot.context_id,
        kind=bot.kind,
        venue=venue,
        symbol=bot.config["symbol"],
    )


def _from_row(bot: BotRecord, venue: Venue) -> BotPublic:
    return BotPublic(
        id=bot.id,
        context_id=bot.context_id,
        kind=bot.kind,
        name=bot.name,
        venue=venue,
        symbol=bot.config["symbol"],
        status=bot.status,
        pause_reason=PauseReason(bot.pause_reason) if bot.pause_reason else None,
        pause_detail=bot.pause_detail,
        config=parse_config(bot.kind, bot.config),
        funds=FundsPublic.of(BotFunds.model_validate(bot.funds)),
        risk=RiskState.model_validate(bot.risk),
        last_decision=Decision.model_validate(bot.last_decision) if bot.last_decision else None,
        live=False,
        created_at=bot.created_at,
        updated_at=bot.updated_at,
    )


def _from_view(bot: BotRecord, view: BotProjection) -> BotPublic:
    return BotPublic(
        id=bot.id,
        context_id=bot.context_id,
        kind=bot.kind,
        name=bot.name,
        venue=view.bot.venue,
        symbol=view.bot.symbol,
        status=view.status,
        pause_reason=view.pause_reason,
        pause_detail=view.pause_detail,
        config=parse_config(bot.kind, view.config),
        funds=FundsPublic.of(view.funds),
        risk=view.risk,
        last_decision=view.last_decision,
        live=True,
        created_at=bot.created_at,
        updated_at=max(bot.updated_at, view.at),
    )


async def owned_bot(
    session: AsyncSession, user_id: uuid.UUID, bot_id: uuid.UUID, *, include_deleted: bool = False
) -> tuple[BotRecord, Venue]:
    bot = await BotStore(session).get_bot(user_id, bot_id, include_deleted=include_deleted)
    if bot is None:
        raise _not_found()
    context = await session.get(TradingContext, bot.context_id)
    assert context is not None  # a context with bots cannot be deleted (foreign key)
    return bot, Venue(context.exchange)


async def _release(session: AsyncSession) -> None:
    """End the request's reads before it waits on the bot's workflow (a query up to 2 s, an
    Update up to 20 s): it holds no pooled connection meanwhile, so slow bots never starve the
    API's pool. Nothing was written yet; the rows read stay loaded (expire_on_commit is off)."""
    await session.commit()


@router.post(
    "", status_code=201, response_model=BotPublic, responses=error_responses(403, 404, 409, 503)
)
async def create_bot(
    body: BotCreate,
    user: CurrentUser,
    session: SessionDep,
    temporal: TemporalDep,
    vault: VaultDep,
    exchanges: ExchangesDep,
) -> BotPublic:
    """Needs, in this order: an active context of yours (404 context_not_found, 409
    context_paused), a plan with the bot kind (403 plan_feature) and room under its bot limit
    (403 plan_limit), a valid config for the context's market (422 invalid_config), and the
    allocation free on the venue account beyond what your other bots there may still spend
    (409 credentials_missing, credentials_rejected, insufficient_funds). The bot starts
    running at once."""
    context = await active_context(session, user.id, body.context_id)
    await check_plan(session, user, body.kind)
    shown = bot_config(body.kind, body.config, context.symbol)
    config = engine_config(shown)
    venue = Venue(context.exchange)
    await check_strategy(session, user, shown, venue)
    available = await venue_free_balance(session, vault, exchanges, user.id, venue, config)
    await lock_caller(session, user)
    await check_plan(session, user, body.kind)  # again: a bot created meanwhile counts
    await check_funds(session, user.id, venue, config, available)
    funds = BotFunds.allocate(config.symbol, config.allocated_balance)
    bot = await BotStore(session).create_bot(
        user_id=user.id,
        context_id=context.id,
        kind=body.kind,
        name=body.name,
        config=shown,
        funds=funds,
        risk=RiskState(),
        at=utcnow(),
    )
    # Started after the row is written and before it commits: a failed start raises, and the
    # request's unit of work rolls the row back.
    state = SmartBotState(
        config=config,
        dca=shown if isinstance(shown, DcaBotConfig) else None,
        candle=shown if isinstance(shown, CandleBotConfig) else None,
        funds=funds,
    )
    await start_bot(temporal, SmartBotInput(bot=_ref(bot, venue), state=state))
    return _from_row(bot, venue)


@router.get("", response_model=list[BotPublic])
async def list_bots(user: CurrentUser, session: SessionDep) -> list[BotPublic]:
    """Your bots, oldest first, as last projected (`live` false); deleted bots are gone."""
    venues = {c.id: Venue(c.exchange) for c in await ContextRepository(session).for_user(user.id)}
    return [
        _from_row(bot, venues[bot.context_id]) for bot in await BotStore(session).list_bots(user.id)
    ]


@router.get("/{bot_id}", response_model=BotPublic, responses=error_responses(404))
async def get_bot(
    bot_id: uuid.UUID, user: CurrentUser, session: SessionDep, temporal: TemporalDep
) -> BotPublic:
    """The bot's live state from its workflow; its last projection when the workflow does not
    answer quickly (`live` false)."""
    bot, venue = await owned_bot(session, user.id, bot_id)
    await _release(session)
    view = await bot_view(temporal, _ref(bot, venue))
    return _from_row(bot, venue) if view is None else _from_view(bot, view)


@router.put("/{bot_id}/config", response_model=KindConfig, responses=COMMAND_RESPONSES)
async def configure_bot(
    bot_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    temporal: TemporalDep,
    config: dict[str, Any] = Body(
        description="The whole new config, of the bot's kind (SmartBotConfig, DcaBotConfig, "
        "CandleBotConfig)"
    ),
) -> KindConfig:
    """Replace the bot's config; answers the config the bot applied. The market stays the
    bot's (`symbol` may be left out); every invalid field is named (422 invalid_config)."""
    bot, venue = await owned_bot(session, user.id, bot_id)
    checked = bot_config(bot.kind, config, bot.config["symbol"])
    await check_strategy(session, user, checked, venue)
    await _release(session)
    view = await bot_update(
        temporal,
        _ref(bot, venue),
        "configure",
        checked.model_dump(mode="json"),
        invalid_code="invalid_config",
    )
    return parse_config(bot.kind, view.config)


# Commands that set a bot trading: refused while its context is paused (the bot resumes with
# its context; the user resumes the context first).
_RUNS_THE_BOT = {"start", "resume", "reset_circuit_breaker"}


def _command(update: str, summary: str) -> Callable[..., Awaitable[BotPublic]]:
    async def command(
        bot_id: uuid.UUID, user: CurrentUser, session: SessionDep, temporal: TemporalDep
    ) -> BotPublic:
        bot, venue = await owned_bot(session, user.id, bot_id)
        if update in _RUNS_THE_BOT:
            await active_context(session, user.id, bot.context_id)
            await check_plan_runs(session, user, bot)
        await _release(session)
        return _from_view(bot, await bot_update(temporal, _ref(bot, venue), update))

    command.__name__ = f"{update}_bot"
    command.__doc__ = summary
    return command


def _manual(update: str, summary: str) -> Callable[..., Awaitable[BotPublic]]:
    async def manual(
        bot_id: uuid.UUID,
        user: CurrentUser,
        session: SessionDep,
        temporal: TemporalDep,
        body: ManualOrderBody | None = None,
    ) -> BotPublic:
        bot, venue = await owned_bot(session, user.id, bot_id)
        order = ManualOrder(amount=body.amount if body else None)
        await _release(session)
        return _from_view(bot, await bot_update(temporal, _ref(bot, venue), update, order))

    manual.__name__ = f"{update}_bot"
    manual.__doc__ = summary
    return manual


for _path, _handler in (
    ("start", _command("start", "Run a stopped bot again.")),
    ("pause", _command("pause", "Stop buying and selling; open orders stay.")),
    ("resume", _command("resume", "Run a bot you paused (or its key paused) again.")),
    ("stop", _command("stop", "Cancel the bot's open orders and stop; the position stays.")),
    ("buy", _manual("buy", "Buy now: `amount` of the quote, else the config's order amount.")),
    ("sell", _manual("sell", "Sell now: `amount` of the base, else the whole position.")),
    (
        "emergency-sell",
        _command("emergency_sell", "Cancel the bot's open orders and market-sell its position."),
    ),
    (
        "reset-circuit-breaker",
        _command("reset_circuit_breaker", "Resume a bot its circuit breaker paused."),
    ),
):
    router.add_api_route(
        f"/{{bot_id}}/{_path}",
        _handler,
        methods=["POST"],
        response_model=BotPublic,
        responses=COMMAND_RESPONSES,
    )


@router.delete("/{bot_id}", status_code=204, responses=error_responses(404, 409, 503, 504))
async def delete_bot(
    bot_id: uuid.UUID, user: CurrentUser, session: SessionDep, temporal: TemporalDep
) -> Response:
    """A stopped bot only (409 bot_not_stopped): it leaves your lists and its workflow ends;
    its record and orders stay for history."""
    bot, venue = await owned_bot(session, user.id, bot_id)
    store = BotStore(session)
    await _release(session)
    try:
        view = await bot_update(temporal, _ref(bot, venue), "delete")
    except ApiError as exc:
        # Its workflow ended already (a delete whose row was not written): the row decides.
        if exc.code == "bot_command_refused":
            raise _not_stopped() from None
        if exc.code != "bot_ended" or bot.status != BotStatus.STOPPED:
            raise
    else:
        await store.project_bot(
            bot.id,
            view.sequence,
            status=view.status,
            pause_reason=view.pause_reason,
            funds=view.funds,
            risk=view.risk,
            last_decision=view.last_decision,
            at=view.at,
            config=view.config,
            pause_detail=view.pause_detail,
            order_sequence=view.order_sequence,
        )
    if not await store.delete_bot(user.id, bot.id, utcnow()):
        raise _not_stopped()
    return Response(status_code=204)


def _not_stopped() -> ApiError:
    return ApiError(409, "bot_not_stopped", "Stop the bot before deleting it.")


@router.get("/{bot_id}/orders", response_model=OrderList, responses=error_responses(404))
async def bot_orders(
    bot_id: uuid.UUID, user: CurrentUser, session: SessionDep, query: OrderQueryDep
) -> OrderList:
    """The bot's orders, newest first (a deleted bot's too: its history stays)."""
    bot, _ = await owned_bot(session, user.id, bot_id, include_deleted=True)
    return await order_list(
        session, user.id, replace(query, where=replace(query.where, bot_id=bot.id))
    )
