"""What a restarted Stripe simulator needs to go on where it stopped (`--state-file`): the
account's objects and events, the idempotency records, the clock, and every webhook delivery
with its attempts, so the events not yet delivered are sent after the restart."""

from __future__ import annotations

import time
from typing import Any

from simulators.stripe.api import Api
from simulators.stripe.clock import SimClock
from simulators.stripe.store import Store
from simulators.stripe.webhooks import Deliverer, EventDelivery

_TABLES = (
    "prices", "customers", "sessions", "session_items", "session_subscription_data",
    "subscriptions", "invoices", "events",
)  # fmt: skip


def capture(clock: SimClock, store: Store, api: Api, deliverer: Deliverer) -> dict[str, Any]:
    return {
        # The simulated time and the wall time it was taken at: a ticking clock also counts
        # the time the simulator was down.
        "clock": (clock.now(), time.time(), clock.frozen),
        "tables": {name: getattr(store, name) for name in _TABLES},
        "idempotency": api.idempotency,
        "deliveries": [(d.event, d.body, d.attempts) for d in deliverer.deliveries.values()],
    }


def restored_clock(saved: dict[str, Any]) -> SimClock:
    sim_at, wall_at, frozen = saved["clock"]
    return SimClock(sim_at if frozen else sim_at + max(time.time() - wall_at, 0), frozen=frozen)


def restore(saved: dict[str, Any], store: Store, api: Api, deliverer: Deliverer) -> None:
    for name, table in saved["tables"].items():
        setattr(store, name, table)
    api.idempotency.update(saved["idempotency"])
    deliverer.deliveries = {
        event["id"]: EventDelivery(event=event, body=body, attempts=attempts)
        for event, body, attempts in saved["deliveries"]
    }
