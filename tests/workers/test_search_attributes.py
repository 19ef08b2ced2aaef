"""Support finds a user's bots in Temporal by our search attributes: registered when missing,
idempotent, and a workflow started with a bot's attributes is listed by them."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributeKey
from temporalio.worker import Worker

from activities.bot_models import BotRef
from adapters.temporal import SearchAttributeConflict, ensure_search_attributes
from domain.bots.state import BotKind, BotStatus
from domain.market import Venue
from workflows.search_attributes import (
    BOT_STATUS,
    SEARCH_ATTRIBUTES,
    USER_ID,
    bot_search_attributes,
)

VISIBILITY_DEADLINE_SECONDS = 30  # visibility is eventually consistent


@workflow.defn(sandboxed=False)
class PausesOnSignal:
    def __init__(self) -> None:
        self.paused = False
        self.done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.paused or self.done)
        if self.paused:
            workflow.upsert_search_attributes([BOT_STATUS.value_set(BotStatus.PAUSED.value)])
        await workflow.wait_condition(lambda: self.done)

    @workflow.signal
    def pause(self) -> None:
        self.paused = True

    @workflow.signal
    def finish(self) -> None:
        self.done = True


async def custom_attributes(client: Client) -> dict[str, int]:
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    return dict(listed.custom_attributes)


async def listed_ids(client: Client, query: str, expected: set[str]) -> set[str]:
    """The running workflows `query` lists, once they include `expected` (bounded wait)."""
    deadline = time.monotonic() + VISIBILITY_DEADLINE_SECONDS
    while True:
        found = {
            w.id
            async for w in client.list_workflows(query)
            if w.status == WorkflowExecutionStatus.RUNNING
        }
        if expected <= found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def test_our_attributes_are_keywords_of_the_namespace(temporal: Client) -> None:
    defined = await custom_attributes(temporal)
    for key in SEARCH_ATTRIBUTES:
        assert defined[key.name] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    await ensure_search_attributes(temporal)  # again: nothing to do, no error


async def test_a_missing_attribute_is_registered_once(temporal: Client) -> None:
    key = SearchAttributeKey.for_keyword(f"CrypterasTest{secrets.token_hex(4)}")
    assert key.name not in await custom_attributes(temporal)
    await ensure_search_attributes(temporal, [key])
    await ensure_search_attributes(temporal, [key])  # a second worker starting
    assert (await custom_attributes(temporal))[key.name] == (
        IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    )


async def test_an_attribute_of_another_type_is_a_conflict(temporal: Client) -> None:
    name = f"CrypterasTest{secrets.token_hex(4)}"
    await temporal.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=temporal.namespace,
            search_attributes={name: IndexedValueType.INDEXED_VALUE_TYPE_TEXT},
        )
    )
    with pytest.raises(SearchAttributeConflict, match=f"{name} is a INDEXED_VALUE_TYPE_TEXT"):
        await ensure_search_attributes(temporal, [SearchAttributeKey.for_keyword(name)])


async def test_a_bot_workflow_is_found_by_user_and_by_status(temporal: Client) -> None:
    queue = f"search-{uuid.uuid4()}"
    user = uuid.uuid4()

    def bot(symbol: str) -> BotRef:
        return BotRef(
            bot_id=uuid.uuid4(),
            user_id=user,
            context_id=uuid.uuid4(),
            kind=BotKind.SMART,
            venue=Venue.PAPER,
            symbol=symbol,
        )

    bots = [bot("ETH-BTC"), bot("BTC-USDT")]
    stranger = bot("ETH-BTC").model_copy(update={"user_id": uuid.uuid4()})
    async with Worker(temporal, task_queue=queue, workflows=[PausesOnSignal]):
        handles = [
            await temporal.start_workflow(
                PausesOnSignal.run,
                id=b.workflow_id,
                task_queue=queue,
                search_attributes=bot_search_attributes(b, BotStatus.RUNNING),
            )
            for b in [*bots, stranger]
        ]
        try:
            mine = {b.workflow_id for b in bots}
            assert await listed_ids(temporal, f'{USER_ID.name} = "{user}"', mine) == mine
            query = f'{USER_ID.name} = "{user}" AND CrypterasSymbol = "ETH-BTC"'
            assert await listed_ids(temporal, query, {bots[0].workflow_id}) == {bots[0].workflow_id}

            await handles[1].signal(PausesOnSignal.pause)
            paused = f'{USER_ID.name} = "{user}" AND {BOT_STATUS.name} = "paused"'
            assert await listed_ids(temporal, paused, {bots[1].workflow_id}) == {
                bots[1].workflow_id
            }
            described = await handles[1].describe()
            assert described.typed_search_attributes[BOT_STATUS] == "paused"
            assert described.typed_search_attributes[USER_ID] == str(user)
        finally:
            for handle in handles:
                await handle.signal(PausesOnSignal.finish)
            for handle in handles:
                await asyncio.wait_for(handle.result(), 30)
