"""What a bot's workflow asks of the world, each as one activity call with its options: read the
market, place and cancel orders, project its state, notify its user, make sure its feed and
account sync run. Activities are named by string (activities/bot_models.py documents them),
so the workflow never imports the adapters behind them.

Outside services never fail the workflow: a call that keeps failing past its schedule-to-close
returns None and the bot goes on (an order in doubt stays blocked until the account sync
settles it; a projection is carried by the next one).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows import TaskQueue

with workflow.unsafe.imports_passed_through():
    from activities.bot_models import (
        PLACEMENT_GIVE_UP,
        AccountRef,
        BotNotice,
        BotProjection,
        BotRef,
        CancelOrder,
        FeedRef,
        MarketView,
        OrderOutcome,
        PlaceOrder,
    )

T = TypeVar("T")

# Retried until the call's schedule-to-close; a database or venue outage only delays the bot.
_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)
# A placement's attempt waits at most PLACEMENT_MAX_WAIT (15 s) for the venue's budget and then
# follows a market order to its fills: its start-to-close must exceed both.
ORDER_ATTEMPT = timedelta(seconds=60)
ORDER_GIVE_UP = PLACEMENT_GIVE_UP
STATE_ATTEMPT = timedelta(seconds=30)
STATE_GIVE_UP = timedelta(minutes=10)
OBSERVE_ATTEMPT = timedelta(seconds=10)
OBSERVE_GIVE_UP = timedelta(seconds=60)


async def _call(
    name: str,
    arg: Any,
    result_type: type[T] | None,
    *,
    task_queue: str,
    attempt: timedelta,
    give_up: timedelta,
) -> T | None:
    try:
        result: T | None = await workflow.execute_activity(
            name,
            arg,
            task_queue=task_queue,
            start_to_close_timeout=attempt,
            schedule_to_close_timeout=give_up,
            retry_policy=_RETRY,
            result_type=result_type,
        )
    except ActivityError as error:
        workflow.logger.warning("activity %s gave up: %s", name, error.cause or error)
        return None
    return result


async def _call_locally(
    name: str, arg: Any, result_type: type[T] | None, *, attempt: timedelta, give_up: timedelta
) -> T | None:
    """A call run by this worker inside the workflow task that makes it: no task round trip
    (the result is recorded as a marker)."""
    try:
        result: T | None = await workflow.execute_local_activity(
            name,
            arg,
            start_to_close_timeout=attempt,
            schedule_to_close_timeout=give_up,
            retry_policy=_RETRY,
            result_type=result_type,
        )
    except ActivityError as error:
        workflow.logger.warning("local activity %s gave up: %s", name, error.cause or error)
        return None
    return result


async def observe(bot: BotRef) -> MarketView | None:
    """The market now (ticker and rules)."""
    return await _call_locally(
        "bot_observe", bot, MarketView, attempt=OBSERVE_ATTEMPT, give_up=OBSERVE_GIVE_UP
    )


async def place(order: PlaceOrder) -> OrderOutcome | None:
    return await _call(
        "bot_place_order",
        order,
        OrderOutcome,
        task_queue=TaskQueue.orders(order.bot.venue.value),
        attempt=ORDER_ATTEMPT,
        give_up=ORDER_GIVE_UP,
    )


async def cancel(bot: BotRef, client_order_id: str) -> OrderOutcome | None:
    return await _call(
        "bot_cancel_order",
        CancelOrder(bot=bot, client_order_id=client_order_id),
        OrderOutcome,
        task_queue=TaskQueue.orders(bot.venue.value),
        attempt=ORDER_ATTEMPT,
        give_up=ORDER_GIVE_UP,
    )


async def _state_call(name: str, arg: Any) -> None:
    await _call(
        name, arg, None, task_queue=TaskQueue.BOTS, attempt=STATE_ATTEMPT, give_up=STATE_GIVE_UP
    )


async def project(projection: BotProjection) -> bool:
    """The bot's row and triggers, and its feed started when `projection.start_feed`, in the
    workflow task that changed the state: no activity task and no extra workflow task. False:
    not written (given up on; the next projection carries the state)."""
    written = await _call_locally(
        "bot_project", projection, bool, attempt=STATE_ATTEMPT, give_up=STATE_GIVE_UP
    )
    return bool(written)


async def project_as_task(projection: BotProjection) -> bool:
    """Before PROJECT_LOCALLY: the projection as an activity task of its own."""
    written = await _call(
        "bot_project",
        projection,
        bool,
        task_queue=TaskQueue.BOTS,
        attempt=STATE_ATTEMPT,
        give_up=STATE_GIVE_UP,
    )
    return bool(written)


async def notify(notice: BotNotice) -> None:
    await _state_call("bot_notify", notice)


async def ensure_feed(bot: BotRef) -> None:
    """Before PROJECT_LOCALLY (now `BotProjection.start_feed`)."""
    await _state_call("bot_ensure_feed", FeedRef(venue=bot.venue, symbol=bot.symbol))


async def ensure_account_sync(bot: BotRef) -> None:
    await _state_call("bot_ensure_account_sync", AccountRef(user_id=bot.user_id, venue=bot.venue))
