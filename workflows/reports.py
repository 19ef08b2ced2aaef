"""A report a user asked for, produced once: the activity renders it (retried while the
database or a worker is away); a report it cannot produce is marked failed, with the reason,
instead of staying pending forever."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.reports import FailedReport, ReportActivities

PRODUCE_ATTEMPT = timedelta(minutes=10)  # a PDF of the newest 2,000 orders renders in ~2 s
PRODUCE_GIVE_UP = timedelta(hours=1)


def report_workflow_id(report_id: uuid.UUID) -> str:
    return f"report:{report_id}"


@workflow.defn
class ReportWorkflow:
    @workflow.run
    async def run(self, report_id: uuid.UUID) -> None:
        try:
            await workflow.execute_activity_method(
                ReportActivities.produce_report,
                report_id,
                start_to_close_timeout=PRODUCE_ATTEMPT,
                schedule_to_close_timeout=PRODUCE_GIVE_UP,
                retry_policy=RetryPolicy(maximum_attempts=5),
            )
        except ActivityError as error:
            await workflow.execute_activity_method(
                ReportActivities.fail_report,
                FailedReport(report_id=report_id, reason=str(error.cause or error)),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
            )
