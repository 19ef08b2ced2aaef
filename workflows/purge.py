"""Daily purge of expired login throttles and old throttled-login audit rows."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.purge import PurgeActivities, PurgeResult


@workflow.defn
class LoginRecordsPurgeWorkflow:
    @workflow.run
    async def run(self) -> PurgeResult:
        return await workflow.execute_activity_method(
            PurgeActivities.purge_login_records,
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(maximum_attempts=5),
        )
