"""Platform maintenance workflows, started by Temporal Schedules (workers/schedules.py)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from enum import StrEnum

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.credentials import (
        CredentialActivities,
        CredentialPage,
        RevalidateCredential,
    )
    from domain.accounts import CredentialStatus

PAGE_SIZE = 100
# Venues rate-limit per IP: a handful of checks at a time is plenty for a daily job.
CONCURRENCY = 5
REVALIDATION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=5,
    non_retryable_error_types=["VaultError"],
)


class Outcome(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    UNREACHABLE = "unreachable"  # the venue could not be asked, even after retries
    GONE = "gone"  # deleted while the job ran


class RevalidationProgress(BaseModel):
    """Carried across continue-as-new; also the result."""

    after: uuid.UUID | None = None
    valid: int = 0
    invalid: int = 0
    unreachable: int = 0  # the venue could not be asked, even after retries


@workflow.defn
class CredentialRevalidationWorkflow:
    """Re-checks every saved exchange key with its venue and marks broken ones."""

    @workflow.run
    async def run(self, progress: RevalidationProgress) -> RevalidationProgress:
        while True:
            page = await workflow.execute_activity_method(
                CredentialActivities.list_credential_ids,
                CredentialPage(after=progress.after, limit=PAGE_SIZE),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=10),
            )
            if not page.ids:
                return progress
            for start in range(0, len(page.ids), CONCURRENCY):
                chunk = page.ids[start : start + CONCURRENCY]
                outcomes = await asyncio.gather(
                    *(self._revalidate(credential_id) for credential_id in chunk)
                )
                for outcome in outcomes:
                    if outcome is not Outcome.GONE:
                        setattr(progress, outcome, getattr(progress, outcome) + 1)
            progress.after = page.ids[-1]
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(progress)

    async def _revalidate(self, credential_id: uuid.UUID) -> Outcome:
        try:
            result = await workflow.execute_activity_method(
                CredentialActivities.revalidate_credential,
                RevalidateCredential(credential_id=credential_id),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=REVALIDATION_RETRY,
            )
        except ActivityError:
            workflow.logger.warning("credential %s could not be re-validated", credential_id)
            return Outcome.UNREACHABLE
        if result.status is None:
            return Outcome.GONE
        return Outcome.VALID if result.status is CredentialStatus.VALID else Outcome.INVALID
