"""`crypteras up --workers 2`: two worker processes poll the queues, each serves its own
metrics; kill -9 one, `up` starts it again and work still completes."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil
import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue as TaskQueueRef
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from tests.conftest import registration
from tests.e2e.conftest import CRYPTERAS, port_of, stack_ports, wait_started
from tests.e2e.test_supervision import child, until_restarted
from workflows import TaskQueue

UPGRADE_DEADLINE_SECONDS = 120  # the killed worker's sticky and activity timeouts, plus backoff
POLL_DEADLINE_SECONDS = 60


async def pollers(client: Client, queue: str, kind: TaskQueueType.ValueType) -> set[int]:
    """The pids (SDK identity `pid@host`) polling `queue` for `kind` tasks lately."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueueRef(name=queue),
            task_queue_type=kind,
        )
    )
    host = f"@{socket.gethostname()}"
    return {int(p.identity.removesuffix(host)) for p in response.pollers if host in p.identity}


async def until_polled_by(client: Client, pids: set[int]) -> None:
    """Until every process in `pids` polls the accounts queue for workflow and activity tasks."""
    deadline = time.monotonic() + POLL_DEADLINE_SECONDS
    kinds = (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
    while True:
        seen = [await pollers(client, TaskQueue.ACCOUNTS, kind) for kind in kinds]
        if all(pids <= polling for polling in seen):
            return
        assert time.monotonic() < deadline, f"pollers {seen}, expected {pids}"
        await asyncio.sleep(0.5)


@pytest.mark.e2e
async def test_two_workers_poll_and_a_killed_one_is_replaced_while_work_completes(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    ports = stack_ports()
    metrics = port_of(ports, "--worker-metrics-port")
    log = tmp_path / "up.log"
    with log.open("wb") as output:
        up = subprocess.Popen(
            [*CRYPTERAS, "up", "--workers", "2", "--state-dir", str(tmp_path / "state"), *ports],
            env=stack_env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    api = f"http://127.0.0.1:{port_of(ports, '--api-port')}"

    def worker(index: int) -> psutil.Process:
        return child(up, "worker", "--metrics-address", f"127.0.0.1:{metrics + index}")

    try:
        await wait_started(log, up)
        temporal = await Client.connect(f"127.0.0.1:{port_of(ports, '--temporal-port')}")
        first, second = worker(0), worker(1)
        await until_polled_by(temporal, {first.pid, second.pid})
        async with httpx.AsyncClient(timeout=10) as http:
            for index in (0, 1):  # each process serves the SDK's metrics on its own port
                scraped = await http.get(f"http://127.0.0.1:{metrics + index}/metrics")
                assert scraped.status_code == 200 and "temporal_" in scraped.text

        first.kill()
        async with httpx.AsyncClient(base_url=api, timeout=30) as client:
            # Work arrives while one worker is dead: a paid upgrade must land.
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
            assert (await client.post(pay)).status_code == 200

            await until_restarted(up, log, "worker 1")
            replacement = worker(0)
            assert replacement.pid != first.pid
            await until_polled_by(temporal, {replacement.pid, second.pid})

            deadline = time.monotonic() + UPGRADE_DEADLINE_SECONDS
            while (await client.get("/api/subscriptions/me", headers=auth)).json()["plan"] != "PRO":
                assert time.monotonic() < deadline, "the upgrade did not land"
                await asyncio.sleep(0.5)

        up.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(up.wait, 60) == 0
    finally:
        if up.poll() is None:
            up.kill()
    said = log.read_text()
    assert "crypteras: worker 1 exited with code -9; restarting it in" in said, said
    assert "crypteras: worker 2 exited" not in said, said


@pytest.mark.e2e
def test_a_second_workers_metrics_port_chosen_twice_is_a_one_line_error(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    argv = stack_ports()
    metrics = port_of(argv, "--worker-metrics-port")
    argv[argv.index("--ui-port") + 1] = str(metrics + 1)
    result = subprocess.run(
        [*CRYPTERAS, "up", "--workers", "2", "--state-dir", str(tmp_path), *argv],
        env=stack_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"crypteras: port {metrics + 1} is chosen twice: Temporal Web UI (--ui-port) and "
        "worker 2 metrics (--worker-metrics-port, worker 2: that port + 1); "
        "choose another with --worker-metrics-port\n"
    )
