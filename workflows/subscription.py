"""The per-user subscription workflow: a long-lived entity that holds the user's plan.

Started at registration with the FREE plan; payment events (a later issue) will signal it.
Its id comes from the user id, so a repeated start cannot create a second one.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.plans import Plan, SubscriptionStatus


def subscription_workflow_id(user_id: UUID) -> str:
    return f"subscription:{user_id}"


class SubscriptionInput(BaseModel):
    user_id: UUID
    # Carried across continue-as-new; None on the first run.
    state: SubscriptionState | None = None


class SubscriptionState(BaseModel):
    user_id: UUID
    plan: Plan
    status: SubscriptionStatus
    since: datetime


class CloseAccount(BaseModel):
    reason: str


@workflow.defn
class SubscriptionWorkflow:
    @workflow.init
    def __init__(self, input: SubscriptionInput) -> None:
        self._state = input.state or SubscriptionState(
            user_id=input.user_id,
            plan=Plan.FREE,
            status=SubscriptionStatus.ACTIVE,
            since=workflow.now(),
        )

    @workflow.run
    async def run(self, input: SubscriptionInput) -> SubscriptionState:
        await workflow.wait_condition(
            lambda: (
                self._state.status is SubscriptionStatus.CLOSED
                or workflow.info().is_continue_as_new_suggested()
            )
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._state.status is not SubscriptionStatus.CLOSED:
            workflow.continue_as_new(SubscriptionInput(user_id=input.user_id, state=self._state))
        return self._state

    @workflow.query
    def state(self) -> SubscriptionState:
        return self._state

    @workflow.signal
    def close_account(self, _request: CloseAccount) -> None:
        self._state = self._state.model_copy(
            update={"status": SubscriptionStatus.CLOSED, "since": workflow.now()}
        )
