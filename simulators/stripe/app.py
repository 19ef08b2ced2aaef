"""Assembly: one simulated Stripe account (store, clock, webhook deliverer) behind FastAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from simulators.snapshots import SnapshotFile, save_after_changes
from simulators.stripe import api, control, persistence
from simulators.stripe.clock import SimClock
from simulators.stripe.config import SimConfig
from simulators.stripe.store import Store
from simulators.stripe.webhooks import Deliverer


def create_app(config: SimConfig, state_file: Path | None = None) -> FastAPI:
    """With `state_file` the account survives a restart: saved after every change, loaded at
    start, and the webhooks not yet delivered are sent again (`simulators.snapshots`)."""
    snapshots = SnapshotFile(state_file) if state_file else None
    saved = snapshots.load() if snapshots else None
    clock = (
        persistence.restored_clock(saved)
        if saved
        else SimClock(config.clock_start, frozen=config.clock_frozen)
    )
    deliverer = Deliverer(config.webhook_url, config.webhook_secret, config.delivery)
    store = Store(config, clock, deliverer.record, lambda: 1 if deliverer.url else 0)
    stripe_api = api.Api(config, store)
    if saved:
        persistence.restore(saved, store, stripe_api, deliverer)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await deliverer.start()
        if unfinished := deliverer.unfinished():
            deliverer.send(unfinished)
        try:
            yield
        finally:
            await deliverer.stop()

    app = FastAPI(title="Stripe simulator", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.include_router(control.router(store, clock, deliverer))
    app.include_router(api.router(stripe_api))
    if snapshots:

        def save() -> None:
            snapshots.save(persistence.capture(clock, store, stripe_api, deliverer))

        deliverer.on_attempt = save
        save_after_changes(app, save)
    return app
