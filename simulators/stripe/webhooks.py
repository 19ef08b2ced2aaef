"""Webhook delivery as Stripe does it: the event JSON POSTed to the endpoint, signed with
`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "{t}.{body}")>`, retried with backoff
on non-2xx, at least once. First attempts go out one at a time in a chosen order (creation order
by default); retries run on their own schedule, so a failing event never holds the others."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from simulators.stripe.config import DeliveryConfig

log = logging.getLogger(__name__)

USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def sign(body: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class Attempt:
    number: int
    url: str
    sent_at: float  # wall clock, unix seconds
    status: int | None  # None: no HTTP answer (see error)
    error: str | None
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class EventDelivery:
    event: dict[str, Any]
    # Serialised once: every attempt (and re-delivery) sends the same bytes, as Stripe does.
    body: bytes
    attempts: list[Attempt] = field(default_factory=list)
    retrying: bool = False

    @property
    def delivered(self) -> bool:
        return any(a.ok for a in self.attempts)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.event["id"],
            "type": self.event["type"],
            "created": self.event["created"],
            "object_id": self.event["data"]["object"].get("id"),
            "delivered": self.delivered,
            "retrying": self.retrying,
            "attempts": [
                {
                    "number": a.number,
                    "url": a.url,
                    "sent_at": a.sent_at,
                    "status": a.status,
                    "error": a.error,
                    "duration_ms": round(a.duration_ms, 1),
                }
                for a in self.attempts
            ],
        }


class Deliverer:
    def __init__(
        self, url: str | None, secret: str | None, policy: DeliveryConfig, *, auto: bool = True
    ) -> None:
        self.url = url
        self.secret = secret
        self.policy = policy
        # auto=False holds new events (undelivered) until /_sim/events/deliver sends them.
        self.auto = auto
        self.deliveries: dict[str, EventDelivery] = {}  # insertion order = creation order
        self._queue: asyncio.Queue[list[str]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self._worker: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.on_attempt: Callable[[], None] = lambda: None  # e.g. save the state (--state-file)

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.policy.timeout)
        self._worker = asyncio.create_task(self._work(), name="stripe-sim-webhooks")

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._worker] if self._worker else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    def record(self, event: dict[str, Any]) -> None:
        """A new event: stored, and queued for delivery when an endpoint is set and auto."""
        body = json.dumps(event, indent=2).encode()
        self.deliveries[event["id"]] = EventDelivery(event=event, body=body)
        if self.auto and self.url and self.secret:
            self.send([event["id"]])

    def send(self, event_ids: list[str]) -> None:
        """Queue first attempts of these events, in this order (a re-delivery if delivered)."""
        self._idle.clear()
        self._queue.put_nowait(event_ids)

    async def wait_idle(self) -> None:
        """Until every queued first attempt has been made (retries may still be pending)."""
        await self._idle.wait()

    async def settle(self) -> None:
        """Until nothing is queued and no retry is scheduled: every event has its final
        outcome (delivered, or given up)."""
        while True:
            await self._idle.wait()
            if not self._tasks:
                return
            await asyncio.wait(set(self._tasks))

    def pending(self) -> list[str]:
        return [i for i, d in self.deliveries.items() if not d.attempts and not d.retrying]

    def unfinished(self) -> list[str]:
        """Events neither delivered nor given up on: what a restarted simulator sends again."""
        return [
            i
            for i, d in self.deliveries.items()
            if not d.delivered and len(d.attempts) < self.policy.max_attempts
        ]

    async def _work(self) -> None:
        while True:
            batch = await self._queue.get()
            for event_id in batch:
                delivery = self.deliveries[event_id]
                if not await self._attempt(delivery):
                    self._spawn_retries(delivery)
            if self._queue.empty():
                self._idle.set()

    def _spawn_retries(self, delivery: EventDelivery) -> None:
        if delivery.retrying or self.policy.max_attempts <= 1:
            return
        delivery.retrying = True
        task = asyncio.create_task(self._retry(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _retry(self, delivery: EventDelivery) -> None:
        try:
            for n in range(1, self.policy.max_attempts):
                await asyncio.sleep(self.policy.delay_after(n))
                if await self._attempt(delivery):
                    return
            log.warning(
                "webhook %s: gave up after %d attempts",
                delivery.event["id"],
                self.policy.max_attempts,
            )
        finally:
            delivery.retrying = False

    async def _attempt(self, delivery: EventDelivery) -> bool:
        url, secret = self.url, self.secret
        if not url or not secret or self._client is None:
            return False
        number = len(delivery.attempts) + 1
        sent_at = time.time()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Stripe-Signature": sign(delivery.body, secret, int(sent_at)),
        }
        status: int | None = None
        error: str | None = None
        started = time.perf_counter()
        try:
            response = await self._client.post(url, content=delivery.body, headers=headers)
            status = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        attempt = Attempt(
            number=number,
            url=url,
            sent_at=sent_at,
            status=status,
            error=error,
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        delivery.attempts.append(attempt)
        self.on_attempt()
        return attempt.ok
