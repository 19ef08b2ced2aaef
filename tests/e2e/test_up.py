"""`crypteras up` as a person runs it: a subprocess, health, a registration, a clean stop."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from tests.conftest import registration
from tests.e2e.conftest import CRYPTERAS, port_of, stack_ports, wait_healthy


@pytest.mark.e2e
async def test_up_registers_a_user_with_a_workflow_and_stops_cleanly(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    ports = stack_ports()
    argv = [*CRYPTERAS, "up", "--state-dir", str(tmp_path / "state"), *ports]
    log = (tmp_path / "up.log").open("wb")
    process = subprocess.Popen(argv, env=stack_env, stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port_of(ports, '--api-port')}"
    try:
        await wait_healthy(f"{api}/api/health", process)
        children = psutil.Process(process.pid).children(recursive=True)
        assert len(children) >= 7  # Temporal, four simulators, worker, API

        async with httpx.AsyncClient(base_url=api, timeout=30) as client:
            body = registration()
            response = await client.post("/api/auth/register", json=body)
            assert response.status_code == 201, response.text
            user = response.json()
            tokens = (
                await client.post(
                    "/api/auth/login", json={"email": body["email"], "password": body["password"]}
                )
            ).json()
            # The demo keys of the local simulators validate through the real adapters.
            for exchange, key, secret in (
                ("binance", "demo-binance-key", "demo-binance-secret"),
                ("mercadobitcoin", "demo-mb-login", "demo-mb-password"),
            ):
                saved = await client.post(
                    "/api/credentials",
                    json={"exchange": exchange, "api_key": key, "api_secret": secret},
                    headers={"Authorization": f"Bearer {tokens['access_token']}"},
                )
                assert saved.status_code == 201, saved.text
            # A local upgrade: checkout, the "user pays" on the Stripe simulator, webhook, PRO.
            auth = {"Authorization": f"Bearer {tokens['access_token']}"}
            checkout = await client.post(
                "/api/subscriptions/checkout",
                json={"plan": "PRO", "provider": "stripe"},
                headers=auth,
            )
            assert checkout.status_code == 201, checkout.text
            sim = urlsplit(checkout.json()["checkout_url"])
            completed = await client.post(
                f"{sim.scheme}://{sim.netloc}/_sim/checkout/sessions/"
                f"{checkout.json()['checkout_id']}/complete"
            )
            assert completed.status_code == 200, completed.text
            for _ in range(100):
                plan = (await client.get("/api/subscriptions/me", headers=auth)).json()["plan"]
                if plan == "PRO":
                    break
                await asyncio.sleep(0.1)
            assert plan == "PRO"
            ui = await client.get(f"http://127.0.0.1:{port_of(ports, '--ui-port')}/")
            assert ui.status_code == 200  # the Temporal Web UI answers
            worker_metrics = await client.get(
                f"http://127.0.0.1:{port_of(ports, '--worker-metrics-port')}/metrics"
            )
            assert "temporal_" in worker_metrics.text  # the SDK's own metrics

        temporal = await Client.connect(f"127.0.0.1:{port_of(ports, '--temporal-port')}")
        description = await temporal.get_workflow_handle(
            user["subscription_workflow_id"]
        ).describe()
        assert description.status == WorkflowExecutionStatus.RUNNING
        assert user["id"] in description.id

        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
        _gone, alive = psutil.wait_procs(children, timeout=10)
        assert alive == [], f"left behind: {[p.cmdline() for p in alive]}"
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    banner = (tmp_path / "up.log").read_text()
    assert "Crypteras is up." in banner and "Temporal UI" in banner
    assert "Binance sim" in banner and "MB sim" in banner


@pytest.mark.e2e
async def test_second_up_finds_the_data_of_the_first(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    state = tmp_path / "state"
    env = {k: v for k, v in stack_env.items() if k != "DATABASE_URL"}  # the embedded SQLite
    body = registration()
    for run in range(2):
        ports = stack_ports()
        process = subprocess.Popen(
            [*CRYPTERAS, "up", "--state-dir", str(state), *ports],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        api = f"http://127.0.0.1:{port_of(ports, '--api-port')}"
        try:
            await wait_healthy(f"{api}/api/health", process)
            async with httpx.AsyncClient(base_url=api) as client:
                if run == 0:
                    assert (await client.post("/api/auth/register", json=body)).status_code == 201
                    continue
                login = await client.post(
                    "/api/auth/login", json={"email": body["email"], "password": body["password"]}
                )
                assert login.status_code == 200, login.text
                token = login.json()["access_token"]
                me = await client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
                assert me.json()["subscription"]["plan"] == "FREE"  # the workflow survived too
        finally:
            process.send_signal(signal.SIGINT)
            assert await asyncio.to_thread(process.wait, 30) == 0
    assert (state / "temporal.db").exists() and (state / "crypteras.db").exists()


@pytest.mark.e2e
def test_port_in_use_is_a_one_line_error(tmp_path: Path, stack_env: dict[str, str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports = stack_ports()
        ports[ports.index("--api-port") + 1] = str(port)
        result = subprocess.run(
            [*CRYPTERAS, "up", "--state-dir", str(tmp_path), *ports],
            env=stack_env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"crypteras: port {port} (API) is already in use on 127.0.0.1; "
        "choose another with --api-port"
    )


@pytest.mark.e2e
def test_missing_temporal_binary_is_a_one_line_error(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    env = {**stack_env, "TEMPORAL_BIN": str(tmp_path / "no-such-temporal")}
    result = subprocess.run(
        [*CRYPTERAS, "up", "--state-dir", str(tmp_path), *stack_ports()],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "no-such-temporal is not an executable file" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.e2e
def test_bad_configuration_is_a_clear_error(tmp_path: Path, stack_env: dict[str, str]) -> None:
    env = {**stack_env, "DATABASE_URL": "mysql://somewhere/db"}
    result = subprocess.run(
        [*CRYPTERAS, "migrate"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert "DATABASE_URL: Value error, must be a postgresql:// or sqlite:/// URL" in result.stderr
    assert "Traceback" not in result.stderr
