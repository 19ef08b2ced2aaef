"""Webhook notifications as MP sends them: signed with ``x-signature``, retried until a 2xx.

POST ``{url}?data.id={id}&type={type}`` with headers ``x-request-id`` and
``x-signature: ts={unix seconds},v1={hex}``, where v1 is HMAC-SHA256(secret,
``id:{data.id};request-id:{x-request-id};ts:{ts};``) and data.id is lower-cased when
alphanumeric. Each attempt gets its own request id and timestamp; the body, and so the
notification id, stay the same across retries and re-deliveries.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from simulators.mercadopago.config import Delivery
from simulators.mercadopago.wire import iso

log = logging.getLogger(__name__)


def manifest(data_id: str | None, request_id: str | None, ts: str) -> str:
    """The signed template; parts whose value is absent are left out."""
    parts = []
    if data_id:
        parts.append(
            f"id:{data_id.lower() if data_id.isascii() and data_id.isalnum() else data_id}"
        )
    if request_id:
        parts.append(f"request-id:{request_id}")
    parts.append(f"ts:{ts}")
    return ";".join(parts) + ";"


def sign(secret: str, data_id: str | None, request_id: str | None, ts: str) -> str:
    digest = hmac.new(
        secret.encode(), manifest(data_id, request_id, ts).encode(), hashlib.sha256
    ).hexdigest()
    return f"ts={ts},v1={digest}"


@dataclass
class Attempt:
    at: datetime
    request_id: str
    status: int | None  # None: no HTTP answer (refused, timed out)
    error: str | None = None

    def document(self) -> dict[str, Any]:
        return {
            "at": iso(self.at),
            "request_id": self.request_id,
            "status": self.status,
            "error": self.error,
        }


@dataclass
class Notification:
    id: int
    type: str
    action: str
    data_id: str
    url: str | None
    body: dict[str, Any]
    attempts: list[Attempt] = field(default_factory=list)
    delivered: bool = False
    in_flight: int = 0  # delivery runs under way (a re-delivery may overlap a retry)
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "action": self.action,
            "data_id": self.data_id,
            "url": self.url,
            "body": self.body,
            "delivered": self.delivered,
            "attempts": [a.document() for a in self.attempts],
        }


class Notifier:
    """Keeps every notification and delivers each in its own task (never in order)."""

    def __init__(
        self,
        *,
        secret: str,
        url: str | None,
        user_id: int,
        live_mode: bool,
        policy: Delivery,
        now: Callable[[], datetime],
    ) -> None:
        self.secret, self.url, self.policy = secret, url, policy
        self._user_id, self._live_mode, self._now = user_id, live_mode, now
        self.notifications: dict[int, Notification] = {}
        self._next_id = 110_000_000_001
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self.on_attempt: Callable[[], None] = lambda: None  # e.g. save the state (--state-file)

    def emit(self, type_: str, action: str, data_id: str, url: str | None = None) -> Notification:
        """Record a notification and start delivering it to `url` (else the configured one)."""
        self._next_id += 1
        body = {
            "id": self._next_id,
            "live_mode": self._live_mode,
            "type": type_,
            "date_created": iso(self._now()),
            "user_id": self._user_id,
            "api_version": "v1",
            "action": action,
            "data": {"id": data_id},
        }
        note = Notification(self._next_id, type_, action, data_id, url or self.url, body)
        self.notifications[note.id] = note
        self.deliver(note)
        return note

    def restore(self, notes: list[Notification]) -> None:
        """Notifications a previous run of the simulator recorded (`resume` sends them)."""
        self.notifications = {note.id: note for note in notes}
        self._next_id = max(self.notifications, default=self._next_id)

    def resume(self) -> None:
        """Deliver again what is neither delivered nor given up on (after a restart)."""
        for note in self.notifications.values():
            if not note.delivered and len(note.attempts) < self.policy.max_attempts:
                self.deliver(note)

    def deliver(self, note: Notification) -> None:
        if note.url is None:
            log.warning("no webhook URL configured; notification %s kept undelivered", note.id)
            return
        note.in_flight += 1
        note.idle.clear()
        task = asyncio.get_running_loop().create_task(self._deliver(note, note.url))
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._finished(note, t))

    def _finished(self, note: Notification, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        note.in_flight -= 1
        if not note.in_flight:
            note.idle.set()

    async def settled(self, note_id: int) -> Notification:
        """The notification once no delivery of it is under way (delivered or given up)."""
        note = self.notifications[note_id]
        if note.in_flight:
            await note.idle.wait()
        return note

    async def _deliver(self, note: Notification, url: str) -> None:
        separator = "&" if "?" in url else "?"
        target = f"{url}{separator}{urlencode({'data.id': note.data_id, 'type': note.type})}"
        payload = json.dumps(note.body).encode()
        delay = self.policy.initial_delay_seconds
        for attempt in range(self.policy.max_attempts):
            if attempt:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.policy.max_delay_seconds)
            if await self._attempt(note, target, payload):
                return

    async def _attempt(self, note: Notification, target: str, payload: bytes) -> bool:
        request_id = str(uuid.uuid4())
        now = self._now()
        headers = {
            "content-type": "application/json",
            "x-request-id": request_id,
            "x-signature": sign(self.secret, note.data_id, request_id, str(int(now.timestamp()))),
        }
        try:
            response = await self._http().post(target, content=payload, headers=headers)
        except httpx.HTTPError as exc:
            note.attempts.append(Attempt(now, request_id, None, type(exc).__name__))
            self.on_attempt()
            return False
        note.attempts.append(Attempt(now, request_id, response.status_code))
        note.delivered = note.delivered or response.is_success
        self.on_attempt()
        return response.is_success

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.policy.timeout_seconds)
        return self._client

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
