"""`crypteras up --demo`: the demo user, its paper context and its running SmartBot are made
through the API once per state folder (a second `up --demo` reuses them), and the bot has filled
orders within a minute."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import stat
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError

from activities.bot_models import bot_workflow_id
from tests.e2e.conftest import CRYPTERAS, port_of, stack_ports
from workers.demo import DEMO_BOT_CONFIG, DEMO_FILE, DEMO_SYMBOL, DemoAccount, provision_demo

FILLED_WITHIN_SECONDS = 60  # the promise
UP_DEADLINE_SECONDS = 120


@pytest.fixture
async def made_bots(temporal: Client, db: AsyncSession) -> AsyncIterator[list[str]]:
    """Bot ids the test made: their workflows are ended before `db` empties their tables."""
    bots: list[str] = []
    yield bots
    for bot_id in bots:
        with contextlib.suppress(RPCError):
            await temporal.get_workflow_handle(bot_workflow_id(uuid.UUID(bot_id))).terminate(
                "test ended"
            )


async def logged_in(http: httpx.AsyncClient, account: DemoAccount) -> dict[str, str]:
    login = await http.post(
        "/api/auth/login", json={"email": account.email, "password": account.password}
    )
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def filled_orders(
    http: httpx.AsyncClient, auth: dict[str, str], bot_id: str, count: int
) -> list[dict[str, Any]]:
    """The bot's filled orders, once there are `count` (bounded wait)."""
    deadline = time.monotonic() + FILLED_WITHIN_SECONDS
    while True:
        response = await http.get(f"/api/bots/{bot_id}/orders", headers=auth)
        assert response.status_code == 200, response.text
        filled = [o for o in response.json()["orders"] if o["status"] == "FILLED"]
        if len(filled) >= count or time.monotonic() > deadline:
            return filled
        await asyncio.sleep(1)


async def test_the_demo_is_made_once_and_its_bot_fills_orders_within_a_minute(
    live_api: str, made_bots: list[str], tmp_path: Path
) -> None:
    demo = await provision_demo(live_api, tmp_path)
    assert demo.bot_id is not None
    made_bots.append(demo.bot_id)
    marker = tmp_path / DEMO_FILE
    assert json.loads(marker.read_text()) == asdict(demo)
    assert stat.S_IMODE(marker.stat().st_mode) == 0o600  # it holds the password

    assert await provision_demo(live_api, tmp_path) == demo  # a second `up --demo`

    async with httpx.AsyncClient(base_url=live_api, timeout=30) as http:
        auth = await logged_in(http, demo)
        assert (await http.get("/api/auth/me", headers=auth)).json()["id"] == demo.user_id
        contexts = (await http.get("/api/contexts", headers=auth)).json()
        assert [(c["id"], c["symbol"], c["exchange"]) for c in contexts] == [
            (demo.context_id, DEMO_SYMBOL, "paper")
        ]
        bots = (await http.get("/api/bots", headers=auth)).json()
        assert [b["id"] for b in bots] == [demo.bot_id]
        bot = bots[0]
        assert bot["status"] == "running"
        assert bot["config"]["mode"] == "CONTINUOUS"
        assert bot["config"]["interval_seconds"] == DEMO_BOT_CONFIG["interval_seconds"]

        # The first buy comes at once, the next one an interval later: it keeps trading.
        filled = await filled_orders(http, auth, demo.bot_id, 2)
        assert len(filled) >= 2, f"{len(filled)} filled order(s) in {FILLED_WITHIN_SECONDS} s"
        assert any(o["side"] == "buy" for o in filled)
        assert all(Decimal(o["filled_quantity"]) > 0 for o in filled)
        funds = (await http.get(f"/api/bots/{demo.bot_id}", headers=auth)).json()["funds"]
        books = [Decimal(funds[k]) for k in ("free", "blocked", "invested")]
        assert sum(books) == Decimal(funds["allocated_balance"]) + Decimal(funds["realized_profit"])


async def test_what_is_gone_is_made_again_and_the_rest_reused(
    live_api: str, made_bots: list[str], tmp_path: Path
) -> None:
    first = await provision_demo(live_api, tmp_path)
    assert first.bot_id is not None
    made_bots.append(first.bot_id)
    async with httpx.AsyncClient(base_url=live_api, timeout=30) as http:
        auth = await logged_in(http, first)
        stopped = await http.post(f"/api/bots/{first.bot_id}/stop", headers=auth)
        assert stopped.status_code == 200, stopped.text
        deleted = await http.delete(f"/api/bots/{first.bot_id}", headers=auth)
        assert deleted.status_code == 204, deleted.text

        again = await provision_demo(live_api, tmp_path)
        assert again.bot_id is not None
        made_bots.append(again.bot_id)
        assert (again.user_id, again.context_id) == (first.user_id, first.context_id)
        assert again.bot_id != first.bot_id
        bots = (await http.get("/api/bots", headers=auth)).json()
        assert [(b["id"], b["status"]) for b in bots] == [(again.bot_id, "running")]

    # A folder whose user the database does not know (another database): made anew.
    stranger = DemoAccount.new()
    stranger.context_id, stranger.bot_id = first.context_id, first.bot_id
    (tmp_path / DEMO_FILE).write_text(json.dumps(asdict(stranger)))
    other = await provision_demo(live_api, tmp_path)
    assert other.bot_id is not None
    made_bots.append(other.bot_id)
    assert other.email == stranger.email and other.password == stranger.password
    assert other.user_id != first.user_id
    assert other.context_id != first.context_id and other.bot_id != first.bot_id


def said(log: Path, label: str) -> str | None:
    """The value `up` printed after `label` (a line of the demo's block), once printed."""
    for line in log.read_text(errors="replace").splitlines():
        if line.strip().startswith(label + " "):
            return line.strip().removeprefix(label).strip()
    return None


async def up_demo(tmp_path: Path, env: dict[str, str], run: str) -> tuple[Any, Path, str]:
    """`crypteras up --demo` on the test's state folder, once it printed the demo."""
    ports = stack_ports()
    log = tmp_path / f"up-{run}.log"
    with log.open("wb") as output:
        up = subprocess.Popen(
            [*CRYPTERAS, "up", "--demo", "--state-dir", str(tmp_path / "state"), *ports],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + UP_DEADLINE_SECONDS
    while said(log, "Password") is None:
        if up.poll() is not None or time.monotonic() > deadline:
            up.kill()
            raise AssertionError(f"no demo printed:\n{log.read_text(errors='replace')}")
        await asyncio.sleep(0.5)
    return up, log, f"http://127.0.0.1:{port_of(ports, '--api-port')}"


async def stopped(up: Any) -> int:
    up.send_signal(signal.SIGTERM)
    return int(await asyncio.to_thread(up.wait, 60))


@pytest.mark.e2e
async def test_up_demo_prints_a_login_whose_bot_trades_and_a_second_up_reuses_it(
    tmp_path: Path, database_url: str
) -> None:
    # The stack on this run's database, as tests/e2e's `stack_env` does.
    stack_env = {**os.environ, "DATABASE_URL": database_url, "LOG_FORMAT": "json"}
    stack_env.pop("JWT_SECRET", None)
    up, log, api = await up_demo(tmp_path, stack_env, "first")
    try:
        email, password = said(log, "E-mail"), said(log, "Password")
        assert email and password
        demo = DemoAccount(email=email, password=password)
        async with httpx.AsyncClient(base_url=api, timeout=30) as http:
            auth = await logged_in(http, demo)
            (bot,) = (await http.get("/api/bots", headers=auth)).json()
            assert await filled_orders(http, auth, bot["id"], 1), "no filled order in a minute"
        assert await stopped(up) == 0
    finally:
        if up.poll() is None:
            up.kill()

    up, log, api = await up_demo(tmp_path, stack_env, "second")
    try:
        assert (said(log, "E-mail"), said(log, "Password")) == (email, password)
        async with httpx.AsyncClient(base_url=api, timeout=30) as http:
            auth = await logged_in(http, demo)
            assert [b["id"] for b in (await http.get("/api/bots", headers=auth)).json()] == [
                bot["id"]
            ]
        assert await stopped(up) == 0
    finally:
        if up.poll() is None:
            up.kill()
