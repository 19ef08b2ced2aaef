"""A report a user asked for, produced once (workflows/jobs.py): the activity renders it; a
report it cannot produce is marked failed, with the reason."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio import workflow

from workflows.jobs import do_once

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
        await do_once(
            ReportActivities.produce_report,
            report_id,
            ReportActivities.fail_report,
            lambda reason: FailedReport(report_id=report_id, reason=reason),
            attempt=PRODUCE_ATTEMPT,
            give_up=PRODUCE_GIVE_UP,
        )
