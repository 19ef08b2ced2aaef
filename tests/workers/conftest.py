"""Fixtures the worker-side tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.exchanges.factory import ExchangeFactory
from adapters.settings import Settings


@pytest.fixture
async def factory(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[ExchangeFactory]:
    exchanges = ExchangeFactory(settings, sessions=sessions)
    yield exchanges
    await exchanges.aclose()
