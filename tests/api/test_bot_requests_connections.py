"""A bots request holds no database connection while it waits on the bot's workflow (a query
up to 2 s, an Update up to 20 s): slow bots never starve the API's pool. Checked where it
matters, at the moment the API asks Temporal, through an interceptor on the API's client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    QueryWorkflowInput,
    StartWorkflowUpdateInput,
    WorkflowUpdateHandle,
)

from adapters.db.engine import create_engine, session_factory
from adapters.settings import Settings
from api.app import create_app
from api.deps import Services
from tests.api.bot_helpers import (
    MANUAL,
    Sessions,
    Trader,
    add_context,
    create_bot,
    end_bots,
    trader,
)

__all__ = ["end_bots", "trader"]  # fixtures

pytestmark = pytest.mark.usefixtures("end_bots")


class HeldConnections(Interceptor):
    """The connections the API's pool had checked out each time the API asked a bot."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.seen: list[tuple[str, int]] = []

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Recording(next, self)

    def note(self, call: str) -> None:
        self.seen.append((call, self.engine.pool.checkedout()))  # type: ignore[attr-defined]


class _Recording(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, held: HeldConnections) -> None:
        super().__init__(next)
        self._held = held

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        self._held.note(input.query)
        return await super().query_workflow(input)

    async def start_workflow_update(
        self, input: StartWorkflowUpdateInput
    ) -> WorkflowUpdateHandle[Any]:
        self._held.note(input.update)
        return await super().start_workflow_update(input)


async def test_no_connection_is_held_while_a_request_waits_on_its_bot(
    api: httpx.AsyncClient,
    trader: Callable[[], Awaitable[Trader]],
    sessions: Sessions,
    settings: Settings,
    temporal: Client,
    database_url: str,
) -> None:
    t = await trader()
    url = f"/api/bots/{(await create_bot(api, t, await add_context(sessions, t.id)))['id']}"

    engine = create_engine(database_url)  # the API's own pool, nobody else's connections
    held = HeldConnections(engine)
    config = temporal.config()
    config["interceptors"] = [held]
    app = create_app(settings, Services.build(settings, session_factory(engine), Client(**config)))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as own:
            for response in (
                await own.get(url, headers=t.headers),
                await own.put(f"{url}/config", json=MANUAL, headers=t.headers),
                await own.post(f"{url}/pause", headers=t.headers),
                await own.post(f"{url}/resume", headers=t.headers),  # reads the context too
                await own.post(f"{url}/sell", json={"amount": "1"}, headers=t.headers),
                await own.post(f"{url}/stop", headers=t.headers),
                await own.delete(url, headers=t.headers),
            ):
                assert response.status_code in (200, 204, 409), response.text
    finally:
        await engine.dispose()
    assert held.seen == [
        ("view", 0),
        ("configure", 0),
        ("pause", 0),
        ("resume", 0),
        ("sell", 0),
        ("stop", 0),
        ("delete", 0),
    ]
