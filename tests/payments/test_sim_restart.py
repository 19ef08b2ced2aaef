"""A payment simulator killed with webhooks still to deliver, then started again with the same
state file, delivers them: nothing paid is lost with the process (`--state-file`)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request

from simulators.serving import LISTENING

TOKEN = "TEST-restart-token"
WHSEC = "whsec_restart_secret"


class Receiver:
    """A webhook endpoint whose port is reserved (bound, not listening: deliveries are refused)
    until `listening`, so the simulator must keep what it could not deliver."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/hook"
        self.bodies: list[dict[str, Any]] = []
        self.changed = asyncio.Event()

    @asynccontextmanager
    async def listening(self) -> AsyncIterator[None]:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> dict[str, bool]:
            self.bodies.append(json.loads(await request.body()))
            self.changed.set()
            return {"received": True}

        self.socket.listen(64)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        task = asyncio.create_task(server.serve(sockets=[self.socket]))
        try:
            yield
        finally:
            server.should_exit = True
            await task

    async def until(self, done: Callable[[list[dict[str, Any]]], bool]) -> None:
        async with asyncio.timeout(60):
            while not done(self.bodies):
                self.changed.clear()
                await self.changed.wait()


def start_sim(name: str, state: Path, webhook_url: str, *options: str) -> tuple[Any, str]:
    """`crypteras sim NAME` on a port of its choosing, and its base URL (the line it prints)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "workers.cli", "sim", name, "--port", "0", *options,
         "--state-file", str(state), "--webhook-url", webhook_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()  # printed once the socket listens
    found = LISTENING.search(line.strip())
    assert found, f"{name} simulator did not say where it listens: {line!r}"
    return process, re.sub(r"^.*listening on ", "", line.strip())


async def test_a_restarted_stripe_simulator_delivers_its_pending_webhooks(tmp_path: Path) -> None:
    receiver, state = Receiver(), tmp_path / "stripe.state"
    options = ("--webhook-secret", WHSEC, "--api-key", "sk_test_restart", "--backoff-base", "0.2")
    first, url = start_sim("stripe", state, receiver.url, *options)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            session = await http.post(
                "/v1/checkout/sessions",
                headers={"Authorization": "Bearer sk_test_restart"},
                data={
                    "mode": "subscription",
                    "line_items[0][price]": "price_crypteras_pro_monthly",
                    "line_items[0][quantity]": "1",
                    "success_url": "https://app.example/ok",
                    "client_reference_id": "user-1",
                },
            )
            assert session.status_code == 200, session.text
            paid = await http.post(f"/_sim/checkout/sessions/{session.json()['id']}/complete")
            assert paid.status_code == 200
            events = (await http.get("/_sim/events")).json()
        assert any(e["type"] == "checkout.session.completed" for e in events)
    finally:
        first.kill()  # kill -9: whatever was only in memory is gone
        first.wait()

    async with receiver.listening():
        second, url = start_sim("stripe", state, receiver.url, *options)
        try:
            wanted = {e["id"] for e in events}
            await receiver.until(lambda bodies: wanted <= {b["id"] for b in bodies})
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                kept = await http.get(
                    f"/v1/checkout/sessions/{session.json()['id']}",
                    headers={"Authorization": "Bearer sk_test_restart"},
                )
            assert kept.json()["status"] == "complete"  # the account survived too
        finally:
            second.terminate()
            second.wait()


async def test_a_restarted_mercadopago_simulator_delivers_its_pending_notifications(
    tmp_path: Path,
) -> None:
    receiver, state = Receiver(), tmp_path / "mp.state"
    options = ("--access-token", TOKEN, "--webhook-secret", "mp-secret", "--retry-delay", "0.2")
    first, url = start_sim("mercadopago", state, receiver.url, *options)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            preference = await http.post(
                "/checkout/preferences",
                headers={"Authorization": f"Bearer {TOKEN}"},
                json={
                    "items": [{"title": "PRO", "quantity": 1, "unit_price": 19.9}],
                    "external_reference": "user-1:PRO",
                },
            )
            assert preference.status_code == 201, preference.text
            paid = await http.post(
                f"/_sim/preferences/{preference.json()['id']}/pay", json={"method": "pix"}
            )
            assert paid.status_code == 200, paid.text
    finally:
        first.kill()
        first.wait()

    async with receiver.listening():
        second, url = start_sim("mercadopago", state, receiver.url, *options)
        try:
            payment = str(paid.json()["id"])
            await receiver.until(lambda bodies: any(b["data"]["id"] == payment for b in bodies))
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                kept = await http.get(
                    f"/v1/payments/{payment}", headers={"Authorization": f"Bearer {TOKEN}"}
                )
            assert kept.json()["status"] == "approved"  # the account survived too
        finally:
            second.terminate()
            second.wait()
