"""A backtest a user asked for, run once: the activity downloads the candles and runs it
(retried while the venue, the database or a worker is away); one it cannot run is marked
failed, with the reason, instead of staying pending forever."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.backtests import BacktestActivities, FailedBacktest

RUN_ATTEMPT = timedelta(minutes=15)  # two years of minute candles: a download and a run
RUN_GIVE_UP = timedelta(hours=2)


def backtest_workflow_id(backtest_id: uuid.UUID) -> str:
    return f"backtest:{backtest_id}"


@workflow.defn
class BacktestWorkflow:
    @workflow.run
    async def run(self, backtest_id: uuid.UUID) -> None:
        try:
            await workflow.execute_activity_method(
                BacktestActivities.run_backtest,
                backtest_id,
                start_to_close_timeout=RUN_ATTEMPT,
                schedule_to_close_timeout=RUN_GIVE_UP,
                retry_policy=RetryPolicy(maximum_attempts=5),
            )
        except ActivityError as error:
            await workflow.execute_activity_method(
                BacktestActivities.fail_backtest,
                FailedBacktest(backtest_id=backtest_id, reason=str(error.cause or error)),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
            )
