"""Assembly: one simulated Stripe account (store, clock, webhook deliverer) behind FastAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from simulators.stripe import api, control
from simulators.stripe.clock import SimClock
from simulators.stripe.config import SimConfig
from simulators.stripe.store import Store
from simulators.stripe.webhooks import Deliverer


def create_app(config: SimConfig) -> FastAPI:
    clock = SimClock(config.clock_start, frozen=config.clock_frozen)
    deliverer = Deliverer(config.webhook_url, config.webhook_secret, config.delivery)
    store = Store(config, clock, deliverer.record, lambda: 1 if deliverer.url else 0)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await deliverer.start()
        try:
            yield
        finally:
            await deliverer.stop()

    app = FastAPI(title="Stripe simulator", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.include_router(control.router(store, clock, deliverer))
    app.include_router(api.router(api.Api(config, store)))
    return app
