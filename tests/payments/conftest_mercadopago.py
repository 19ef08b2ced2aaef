"""Fixtures of the Mercado Pago tests (prefixed `mp_`): the simulator on a free loopback port, a
webhook receiver it delivers to, the gateway and the raw SDK pointed at it, and the payer's
hands (the /_sim/ control API, over HTTP)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import mercadopago
import pytest
import uvicorn

from adapters.payments.mercadopago import MercadoPagoGateway, RebasedHttpClient
from simulators.mercadopago import Delivery, RunningSim, SimConfig, running

MP_TOKEN = "TEST-1234567890-sim-access-token"
MP_SECRET = "mp-test-webhook-secret"
MP_PRICES = {"PRO": Decimal("19.90"), "MAX": Decimal("97.00")}
# Fast retries: the attempts of one notification finish in well under a second.
MP_DELIVERY = Delivery(
    max_attempts=4, initial_delay_seconds=0.01, max_delay_seconds=0.05, timeout_seconds=5
)
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    """One webhook request as it reached the receiver."""

    headers: dict[str, str]
    query: dict[str, str]
    body: bytes


@dataclass
class MpReceiver:
    """A webhook endpoint: records every request; answers `fail_next` requests with 500, then
    200."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    fail_next: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        status = 500 if self.fail_next > 0 else 200
        self.fail_next = max(0, self.fail_next - 1)
        async with self._changed:
            self.received.append(
                Received(
                    headers={k.decode(): v.decode() for k, v in scope["headers"]},
                    query=dict(parse_qsl(scope["query_string"].decode())),
                    body=b"".join(chunks),
                )
            )
            self._changed.notify_all()
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def wait_for(
        self, predicate: Callable[[list[Received]], bool], timeout: float = 5.0
    ) -> list[Received]:
        """Every request received so far, once `predicate` holds for them."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: predicate(self.received)), timeout
            )
            return list(self.received)

    async def of_type(self, type_: str, count: int = 1) -> list[Received]:
        """The first `count` requests whose query type is `type_` (waiting for them)."""
        matching = await self.wait_for(
            lambda got: sum(r.query.get("type") == type_ for r in got) >= count
        )
        return [r for r in matching if r.query.get("type") == type_][:count]


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOOPBACK, 0))
    sock.listen(128)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://{LOOPBACK}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class MpControl:
    """The /_sim/ control API of one running simulator."""

    http: httpx.AsyncClient

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self.http.post(f"/_sim{path}", json=body or {})
        response.raise_for_status()
        return response.json()

    async def notifications(self, type_: str | None = None) -> list[dict[str, Any]]:
        params = {"type": type_} if type_ else {}
        response = await self.http.get("/_sim/notifications", params=params)
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()
        return found


@dataclass
class _Receivers:
    """One server for the session (a uvicorn shutdown costs ~0.2 s); each test gets its own
    path, so a late delivery from an earlier test's simulator lands nowhere."""

    url: str = ""
    by_path: dict[str, MpReceiver] = field(default_factory=dict)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        receiver = self.by_path.get(scope["path"])
        if receiver is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await receiver(scope, receive, send)


@pytest.fixture(scope="session")
async def mp_receivers() -> AsyncIterator[_Receivers]:
    receivers = _Receivers()
    async with serve(receivers) as url:
        receivers.url = url
        yield receivers


@pytest.fixture
async def mp_receiver(mp_receivers: _Receivers) -> AsyncIterator[MpReceiver]:
    path = f"/api/webhooks/mercadopago/{uuid.uuid4().hex}"
    receiver = mp_receivers.by_path[path] = MpReceiver(url=mp_receivers.url + path)
    yield receiver
    del mp_receivers.by_path[path]


@pytest.fixture
async def mp_sim(mp_receiver: MpReceiver) -> AsyncIterator[RunningSim]:
    config = SimConfig(
        access_tokens=[MP_TOKEN],
        webhook_secret=MP_SECRET,
        webhook_url=mp_receiver.url,
        delivery=MP_DELIVERY,
    )
    async with running(config) as sim:
        yield sim


@pytest.fixture
def mp_gateway(mp_sim: RunningSim) -> MercadoPagoGateway:
    return MercadoPagoGateway(MP_TOKEN, MP_SECRET, prices=MP_PRICES, api_base=mp_sim.url)


@pytest.fixture
def mp_sdk(mp_sim: RunningSim) -> Any:
    """The official SDK, unchanged but for its HTTP client. Blocking: call it in a thread."""
    return mercadopago.SDK(MP_TOKEN, http_client=RebasedHttpClient(mp_sim.url))


@pytest.fixture
async def mp_control(mp_sim: RunningSim) -> AsyncIterator[MpControl]:
    async with httpx.AsyncClient(base_url=mp_sim.url, timeout=10) as http:
        yield MpControl(http)
