"""API clients calling from a chosen peer address, with chosen settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from adapters.settings import Settings
from api.app import create_app
from api.deps import Services

ClientAt = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def client_at(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    workers: list[Worker],
    db: AsyncSession,
) -> AsyncIterator[ClientAt]:
    """`client_at("198.51.100.1", trusted_proxies="10.0.0.0/8")`: the API as seen from that
    peer address, with those settings changed."""
    opened: list[httpx.AsyncClient] = []

    def make(peer: str, **overrides: Any) -> httpx.AsyncClient:
        changed = settings.model_copy(update=overrides)
        app = create_app(changed, Services.build(changed, sessions, temporal))
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(peer, 51000)),
            base_url="http://testserver",
        )
        opened.append(client)
        return client

    yield make
    for client in opened:
        await client.aclose()
