"""`crypteras up` stays up like a supervised deployment: kill -9 the worker, the API and the
Stripe simulator while users pay, and every upgrade still lands; conflicting ports are a
one-line error."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil
import pytest

from tests.conftest import free_port, registration
from tests.e2e.conftest import CRYPTERAS, port_of, stack_ports, wait_healthy, wait_started

USERS_PER_BATCH = 2
LANDING_DEADLINE_SECONDS = 180  # activity timeouts of a killed worker (30 s) plus backoffs


def child(up: subprocess.Popen[bytes], *argv: str) -> psutil.Process:
    """The live child of `up` whose command line contains `argv` (a child killed a moment ago
    may still be listed, a zombie until `up` reaps it: it is not live)."""
    for process in psutil.Process(up.pid).children(recursive=True):
        try:
            command = " ".join(process.cmdline())
        except psutil.NoSuchProcess:  # ZombieProcess is one
            continue
        if " ".join(argv) in command:
            return process
    raise AssertionError(f"no child {argv} of crypteras up")


async def until_restarted(up: subprocess.Popen[bytes], log: Path, name: str) -> None:
    """Until up says it restarted `name` (the line comes after the new process started)."""
    deadline = time.monotonic() + 60
    while f"crypteras: {name} restarted" not in log.read_text():
        assert up.poll() is None, f"crypteras up exited with {up.returncode}"
        assert time.monotonic() < deadline, f"{name} was not restarted:\n{log.read_text()}"
        await asyncio.sleep(0.2)


@pytest.mark.e2e
async def test_every_paid_upgrade_lands_through_kill_9_of_worker_api_and_stripe_simulator(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    ports = stack_ports()
    log = tmp_path / "up.log"
    with log.open("wb") as output:
        up = subprocess.Popen(
            [*CRYPTERAS, "up", "--state-dir", str(tmp_path / "state"), *ports],
            env=stack_env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    api = f"http://127.0.0.1:{port_of(ports, '--api-port')}"
    try:
        await wait_started(log, up)
        async with httpx.AsyncClient(base_url=api, timeout=30) as client:
            users = []
            for _ in range(3 * USERS_PER_BATCH):  # three batches, one per kill
                body = registration()
                assert (await client.post("/api/auth/register", json=body)).status_code == 201
                login = await client.post(
                    "/api/auth/login", json={"email": body["email"], "password": body["password"]}
                )
                auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
                checkout = await client.post(
                    "/api/subscriptions/checkout",
                    json={"plan": "PRO", "provider": "stripe"},
                    headers=auth,
                )
                assert checkout.status_code == 201, checkout.text
                sim = urlsplit(checkout.json()["checkout_url"])
                pay = (
                    f"{sim.scheme}://{sim.netloc}/_sim/checkout/sessions/"
                    f"{checkout.json()['checkout_id']}/complete"
                )
                users.append((auth, pay))

            async def pay(batch: int) -> None:
                for _, url in users[batch * USERS_PER_BATCH : (batch + 1) * USERS_PER_BATCH]:
                    assert (await client.post(url)).status_code == 200

            # 1. The worker dies while the first payments' webhooks are being worked on.
            await pay(0)
            child(up, "workers.cli", "worker").kill()
            await pay(1)
            await until_restarted(up, log, "worker")
            # 2. The API dies, so the next payments' webhooks cannot be delivered; then the
            # Stripe simulator holding them dies too. Its state file keeps them.
            child(up, "workers.cli", "api").kill()
            await pay(2)
            child(up, "workers.cli", "sim", "stripe").kill()
            await until_restarted(up, log, "api")
            await until_restarted(up, log, "stripe simulator")

            await wait_healthy(f"{api}/api/health", up)
            deadline = time.monotonic() + LANDING_DEADLINE_SECONDS
            waiting = list(range(len(users)))
            while waiting and time.monotonic() < deadline:
                plans = [
                    (await client.get("/api/subscriptions/me", headers=users[i][0])).json()
                    for i in waiting
                ]
                waiting = [i for i, p in zip(waiting, plans, strict=True) if p["plan"] != "PRO"]
                await asyncio.sleep(0.5)
            assert waiting == [], f"upgrades lost: {waiting}"

        up.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(up.wait, 60) == 0
    finally:
        if up.poll() is None:
            up.kill()
    said = log.read_text()
    for name in ("worker", "api", "stripe simulator"):
        assert f"crypteras: {name} exited with code -9; restarting it in" in said, said
        assert f"crypteras: {name} restarted (pid " in said


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("clash", "message"),
    [
        (
            lambda p: ["--api-port", str(p), "--temporal-port", str(p + 1)],
            "port {p1} is chosen twice: Temporal (--temporal-port) and worker metrics "
            "(--worker-metrics-port, default: the API port + 1); "
            "choose another with --worker-metrics-port",
        ),
        (
            lambda p: ["--api-port", str(p), "--ui-port", str(p)],
            "port {p} is chosen twice: API (--api-port) and Temporal Web UI (--ui-port); "
            "choose another with --ui-port",
        ),
        (
            lambda p: ["--temporal-port", str(p), "--worker-metrics-port", str(p)],
            "port {p} is chosen twice: Temporal (--temporal-port) and worker metrics "
            "(--worker-metrics-port); choose another with --worker-metrics-port",
        ),
    ],
)
def test_ports_chosen_twice_are_a_one_line_error(
    tmp_path: Path, stack_env: dict[str, str], clash: object, message: str
) -> None:
    port = free_port()
    argv = stack_ports()
    for option, value in zip(clash(port)[::2], clash(port)[1::2], strict=True):  # type: ignore[operator]
        argv[argv.index(option) + 1] = value
    if "--worker-metrics-port" not in clash(port):  # type: ignore[operator]
        index = argv.index("--worker-metrics-port")
        del argv[index : index + 2]  # its default: the API port + 1
    result = subprocess.run(
        [*CRYPTERAS, "up", "--state-dir", str(tmp_path), *argv],
        env=stack_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr == "crypteras: " + message.format(p=port, p1=port + 1) + "\n"
