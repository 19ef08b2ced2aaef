"""Every API call to a bot's workflow (`bot:<id>`): its start, its Updates (the user's commands
and config changes) and its `view` query, each with a time limit, and the Temporal errors
mapped to the API's refusals by their type and status code, never by their message. The
one-off jobs' workflows (reports, backtests) are started here too, with the same limit."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import structlog
from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.types import MethodAsyncSingleParam

from activities.bot_models import BotProjection, BotRef, SmartBotInput
from adapters.temporal import TEMPORAL_CALL_ERRORS, ensure_search_attributes
from api.errors import ApiError
from domain.bots.state import BotKind, BotStatus
from workflows import TaskQueue
from workflows.search_attributes import bot_search_attributes

log = structlog.get_logger(__name__)

# Each kind's workflow type: one engine, a name per kind for support (workflows/bots/smart.py).
BOT_WORKFLOWS = {BotKind.SMART: "SmartBot", BotKind.DCA: "DcaBot", BotKind.CANDLE: "CandleBot"}
VIEW_QUERY = "view"
# The workflow's refusal of a command it cannot apply in its state (stop a stopped bot, ...).
COMMAND_REFUSED = "BotCommandRefused"

# One round trip to the Temporal frontend; past it the caller answers 503.
TEMPORAL_RPC_TIMEOUT = timedelta(seconds=5)
# A command waits for the tick in progress (an order being placed and followed) before it is
# applied in turn; past this the request answers 504 and the command may still apply.
UPDATE_TIMEOUT = 20.0
# A read prefers the bot's live view; a bot whose worker does not answer this fast is shown
# from its last projection instead.
VIEW_TIMEOUT = 2.0


def temporal_unavailable() -> ApiError:
    return ApiError(
        503, "temporal_unavailable", "The bot service cannot be reached; try again shortly."
    )


# Namespaces whose search attributes this process has made sure of: a start with an undefined
# attribute is refused, and the API may start a bot before any worker registered them.
_ATTRIBUTES_READY: set[str] = set()


async def start_job(
    temporal: Client,
    run: MethodAsyncSingleParam[Any, uuid.UUID, None],
    job_id: uuid.UUID,
    workflow_id: str,
) -> None:
    """Start a one-off job's workflow (a report, a backtest) on the reports queue; 503 when
    Temporal does not answer in time (the job's row rolls back with the request)."""
    try:
        async with asyncio.timeout(TEMPORAL_RPC_TIMEOUT.total_seconds()):
            await temporal.start_workflow(
                run,
                job_id,
                id=workflow_id,
                task_queue=TaskQueue.REPORTS,
                rpc_timeout=TEMPORAL_RPC_TIMEOUT,
            )
    except (TimeoutError, *TEMPORAL_CALL_ERRORS) as exc:
        log.warning("job workflow not started", workflow_id=workflow_id, error=str(exc))
        raise temporal_unavailable() from None


async def start_bot(temporal: Client, smart: SmartBotInput) -> None:
    """Start the new bot's workflow, of its kind's type. When the answer is lost (a time-out
    after the server may have started it), the workflow is terminated, best effort: the caller
    rolls its row back, and a bot must not trade without one."""
    bot = smart.bot
    try:
        async with asyncio.timeout(TEMPORAL_RPC_TIMEOUT.total_seconds()):
            if temporal.namespace not in _ATTRIBUTES_READY:
                await ensure_search_attributes(temporal)
                _ATTRIBUTES_READY.add(temporal.namespace)
            await temporal.start_workflow(
                BOT_WORKFLOWS[bot.kind],
                smart,
                id=bot.workflow_id,
                task_queue=TaskQueue.BOTS,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=bot_search_attributes(bot, BotStatus.RUNNING),
                rpc_timeout=TEMPORAL_RPC_TIMEOUT,
            )
    except (TimeoutError, *TEMPORAL_CALL_ERRORS) as exc:
        log.warning("bot workflow not started", bot_id=str(bot.bot_id), error=str(exc))
        await _terminate_quietly(temporal, bot)
        raise temporal_unavailable() from None


async def _terminate_quietly(temporal: Client, bot: BotRef) -> None:
    try:
        async with asyncio.timeout(TEMPORAL_RPC_TIMEOUT.total_seconds()):
            await temporal.get_workflow_handle(bot.workflow_id).terminate(
                reason="the bot's creation failed", rpc_timeout=TEMPORAL_RPC_TIMEOUT
            )
    except (TimeoutError, *TEMPORAL_CALL_ERRORS):
        pass  # not started (NOT_FOUND), or Temporal is down and did not start it either


async def bot_view(temporal: Client, bot: BotRef) -> BotProjection | None:
    """The bot's live state from its workflow; None when it does not answer in time (the
    caller falls back to the stored projection)."""
    handle = temporal.get_workflow_handle(bot.workflow_id)
    try:
        async with asyncio.timeout(VIEW_TIMEOUT):
            view: BotProjection = await handle.query(
                VIEW_QUERY,
                result_type=BotProjection,
                rpc_timeout=timedelta(seconds=VIEW_TIMEOUT),
            )
    except Exception as exc:  # any failure of the live read falls back to the stored row
        log.info("bot view from the stored projection", bot_id=str(bot.bot_id), error=str(exc))
        return None
    return view


async def bot_update(
    temporal: Client,
    bot: BotRef,
    update: str,
    arg: BaseModel | dict[str, Any] | None = None,
    *,
    invalid_code: str | None = None,
) -> BotProjection:
    """Run the Update `update` on the bot's workflow and answer its view.

    A refusal (`BotCommandRefused`, from the handler or the validator) is 409
    bot_command_refused; any other rejection by the validator is 422 `invalid_code` when given
    (a config: what the workflow found wrong in it), else 409 as well. An ended
    workflow is 409, an unreachable Temporal 503, a wait past `UPDATE_TIMEOUT` 504."""
    handle = temporal.get_workflow_handle(bot.workflow_id)
    args = [] if arg is None else [arg]
    try:
        async with asyncio.timeout(UPDATE_TIMEOUT):
            result: BotProjection = await handle.execute_update(
                update, args=args, result_type=BotProjection, rpc_timeout=TEMPORAL_RPC_TIMEOUT
            )
    except WorkflowUpdateFailedError as exc:
        raise _refusal(exc.cause, invalid_code) from None
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        raise ApiError(
            504,
            "bot_command_pending",
            "The bot did not answer in time; the command may still be applied.",
        ) from None
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise ApiError(409, "bot_ended", "The bot's workflow has ended.") from None
        log.warning("bot update failed", bot_id=str(bot.bot_id), update=update, error=str(exc))
        raise temporal_unavailable() from None
    except TEMPORAL_CALL_ERRORS as exc:
        log.warning("bot update failed", bot_id=str(bot.bot_id), update=update, error=str(exc))
        raise temporal_unavailable() from None
    return result


def _refusal(cause: BaseException | None, invalid_code: str | None) -> ApiError:
    message = cause.message if isinstance(cause, ApplicationError) else str(cause)
    kind = cause.type if isinstance(cause, ApplicationError) else None
    if kind == COMMAND_REFUSED or invalid_code is None:
        return ApiError(409, "bot_command_refused", message or "The bot refused the command.")
    return ApiError(422, invalid_code, message or "The bot refused the input.")
