"""A backtest a user asked for, run once (workflows/jobs.py): the activity downloads the
candles and runs it; one it cannot run is marked failed, with the reason."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio import workflow

from workflows.jobs import do_once

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
        await do_once(
            BacktestActivities.run_backtest,
            backtest_id,
            BacktestActivities.fail_backtest,
            lambda reason: FailedBacktest(backtest_id=backtest_id, reason=reason),
            attempt=RUN_ATTEMPT,
            give_up=RUN_GIVE_UP,
        )
