"""Fixtures of the Stripe tests: the simulator under uvicorn on a free loopback port, a webhook
receiver (its own uvicorn) that records every delivery and can answer with errors, the official
SDK and `StripeGateway` pointed at the simulator."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import stripe
from fastapi import FastAPI, Request, Response

from adapters.payments.stripe import StripeGateway
from simulators.stripe import DeliveryConfig, SimConfig, ThreadedServer, create_app

STRIPE_KEY = "sk_test_crypteras_suite_0123456789"
STRIPE_SECRET = "whsec_crypteras_suite_secret"
STRIPE_PRICES = {"PRO": "price_crypteras_pro_monthly", "MAX": "price_crypteras_max_monthly"}
STRIPE_T0 = 1_767_225_600  # 2026-01-01T00:00:00Z: the simulated clock starts (frozen) here
STRIPE_FAST_DELIVERY = DeliveryConfig(max_attempts=4, backoff_base=0.05, backoff_factor=2)
WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Delivery:
    body: bytes
    headers: dict[str, str]
    status: int  # what the receiver answered

    @property
    def signature(self) -> str | None:
        return self.headers.get("stripe-signature")

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event


def stripe_checkout_params(price: str = STRIPE_PRICES["PRO"], **extra: object) -> dict[str, object]:
    """Checkout for a subscription as the gateway creates it (user-1, PRO by default)."""
    return {
        "mode": "subscription",
        "line_items": [{"price": price, "quantity": 1}],
        "customer_email": "ana@example.com",
        "client_reference_id": "user-1",
        "success_url": "https://app.example/ok?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://app.example/cancel",
        "metadata": {"user_id": "user-1", "plan": "PRO"},
        "subscription_data": {"metadata": {"user_id": "user-1", "plan": "PRO"}},
        **extra,
    }


class StripeReceiver:
    """A webhook endpoint on its own server thread. Deliveries are handed to the test's event
    loop, so tests await them instead of sleeping."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._failures: list[int] = []
        self.deliveries: list[Delivery] = []
        self._changed = asyncio.Event()
        app = FastAPI()

        @app.post("/webhook")
        async def webhook(request: Request) -> Response:
            body = await request.body()
            with self._lock:
                status = self._failures.pop(0) if self._failures else 200
            delivery = Delivery(body, dict(request.headers), status)
            self._loop.call_soon_threadsafe(self._record, delivery)
            return Response(status_code=status)

        self.server = ThreadedServer(app).start()
        self.url = f"{self.server.base_url}/webhook"

    def _record(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        self._changed.set()

    def fail_next(self, count: int, status: int = 500) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def accepted(self) -> list[Delivery]:
        return [d for d in self.deliveries if 200 <= d.status < 300]

    async def wait_for(self, done: Callable[[list[Delivery]], bool]) -> list[Delivery]:
        """Until `done(deliveries)` holds; fails the test after WAIT_SECONDS."""
        async with asyncio.timeout(WAIT_SECONDS):
            while not done(self.deliveries):
                self._changed.clear()
                await self._changed.wait()
        return self.deliveries

    async def wait_types(self, *types: str) -> list[dict[str, Any]]:
        """Until an accepted delivery of each type has arrived; their events, in that order."""

        def found(deliveries: list[Delivery]) -> bool:
            seen = {d.event["type"] for d in deliveries if 200 <= d.status < 300}
            return set(types) <= seen

        await self.wait_for(found)
        accepted = [d.event for d in self.accepted()]
        return [next(e for e in accepted if e["type"] == t) for t in types]


class StripeSimControl:
    """The running simulator and a client of its /_sim/ control API."""

    def __init__(self, server: ThreadedServer) -> None:
        self.server = server
        self.base_url = server.base_url
        self.http = httpx.AsyncClient(base_url=server.base_url, timeout=WAIT_SECONDS)

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(method, f"/_sim{path}", json=body)
        response.raise_for_status()
        return response.json()

    async def complete(self, session_id: str, email: str | None = None) -> dict[str, Any]:
        path = f"/checkout/sessions/{session_id}/complete"
        result: dict[str, Any] = await self.call("POST", path, {"email": email})
        return result

    async def action(self, sub_id: str, name: str, body: Any = None) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("POST", f"/subscriptions/{sub_id}/{name}", body)
        return result

    async def events(self, **query: str) -> list[dict[str, Any]]:
        response = await self.http.get("/_sim/events", params=query)
        response.raise_for_status()
        events: list[dict[str, Any]] = response.json()
        return events


@pytest.fixture
async def stripe_receiver() -> AsyncIterator[StripeReceiver]:
    receiver = StripeReceiver(asyncio.get_running_loop())
    yield receiver
    receiver.server.stop()


@pytest.fixture
async def stripe_sim(stripe_receiver: StripeReceiver) -> AsyncIterator[StripeSimControl]:
    config = SimConfig(
        api_keys=(STRIPE_KEY,),
        webhook_url=stripe_receiver.url,
        webhook_secret=STRIPE_SECRET,
        delivery=STRIPE_FAST_DELIVERY,
        clock_start=STRIPE_T0,
        clock_frozen=True,
    )
    server = ThreadedServer(create_app(config)).start()
    control = StripeSimControl(server)
    yield control
    await control.http.aclose()
    server.stop()


@pytest.fixture
async def stripe_sdk(stripe_sim: StripeSimControl) -> AsyncIterator[stripe.StripeClient]:
    """The official client, untouched but for the API root (no retries: tests see each answer)."""
    http = stripe.HTTPXClient(timeout=WAIT_SECONDS)
    yield stripe.StripeClient(
        STRIPE_KEY,
        base_addresses={"api": stripe_sim.base_url},
        http_client=http,
        max_network_retries=0,
    )
    await http.close_async()


@pytest.fixture
async def stripe_gateway(stripe_sim: StripeSimControl) -> AsyncIterator[StripeGateway]:
    gateway = StripeGateway(
        STRIPE_KEY, STRIPE_SECRET, api_base=stripe_sim.base_url, prices=STRIPE_PRICES
    )
    yield gateway
    await gateway.aclose()
