"""The long-lived watchers around the bots: one market feed per (venue, symbol) in use and one
account sync per venue account with open orders.

Each is a thin durable loop around one long-running, heartbeating activity (the read loop
runs in the activity, so a feed reading every second costs a workflow task every few minutes,
not every read). A watcher ends when nothing needs it (no bot watching the market, no open order
on the account) and is started again by the next bot that needs it: bots reach it with
signal-with-start (`ensure`), and an `ensure` that arrives while the watcher decides to end keeps
it running (the server refuses the completion of a run that has an unseen signal), so a bot is
never left with no feed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows import TaskQueue

with workflow.unsafe.imports_passed_through():
    from activities.bot_models import AccountRef, FeedRef, SyncResult, WatchResult

# A watch returns every few minutes (Settings.watch_run_seconds); a silent worker is replaced
# after the heartbeat timeout, a failing activity retried for as long as it takes.
HEARTBEAT = timedelta(seconds=30)
RUN_LIMIT = timedelta(minutes=30)
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
RUNS_PER_HISTORY = 100


class _Watcher:
    def __init__(self) -> None:
        self._ensured = False

    @workflow.signal
    def ensure(self) -> None:
        """A bot needs this watcher: it must not end on the run in progress."""
        self._ensured = True

    async def _watch(
        self,
        activity: str,
        ref: FeedRef | AccountRef,
        queue: TaskQueue,
        needed: Callable[[Any], int],
        result_type: type[Any],
    ) -> None:
        """Run `activity` again and again until `needed(result)` is 0 and no bot asked for the
        watcher meanwhile; a long history hands over to a new run."""
        for _ in range(RUNS_PER_HISTORY):
            self._ensured = False
            result = await workflow.execute_activity(
                activity,
                ref,
                task_queue=queue,
                start_to_close_timeout=RUN_LIMIT,
                heartbeat_timeout=HEARTBEAT,
                retry_policy=RETRY,
                result_type=result_type,
            )
            if needed(result) == 0 and not self._ensured:
                return
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(ref)


@workflow.defn(name="MarketFeed")
class MarketFeedWorkflow(_Watcher):
    @workflow.run
    async def run(self, feed: FeedRef) -> None:
        await self._watch(
            "watch_market", feed, TaskQueue.MARKET_FEEDS, lambda r: r.watching, WatchResult
        )


@workflow.defn(name="AccountSync")
class AccountSyncWorkflow(_Watcher):
    @workflow.run
    async def run(self, account: AccountRef) -> None:
        await self._watch(
            "sync_account", account, TaskQueue.BOTS, lambda r: r.open_orders, SyncResult
        )
