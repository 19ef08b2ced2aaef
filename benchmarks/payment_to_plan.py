"""How fast a payment becomes a plan: from the moment the user pays on the provider's page
(the Stripe simulator's checkout completion) until GET /api/subscriptions/me shows PRO, and how
long the webhook endpoint takes to answer. Runs the whole local stack (`crypteras up`) as a
subprocess, so every hop is real: simulator → signed webhook over HTTP → API → Temporal signal
→ workflow → query.

    .venv/bin/python -m benchmarks.payment_to_plan [--users 40]

Set DATABASE_URL to run against PostgreSQL; the default is the embedded SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit

import httpx

from workers.stack import free_port


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def webhook_latency(metrics: str) -> tuple[int, float, str]:
    """Count, mean and the p95 bucket of the API's own histogram for the Stripe webhook."""
    route = 'route="/api/webhooks/stripe"'
    buckets: list[tuple[float, float]] = []
    total = count = 0.0
    for line in metrics.splitlines():
        if route not in line or line.startswith("#"):
            continue
        value = float(line.rsplit(" ", 1)[1])
        if line.startswith("crypteras_api_request_duration_seconds_bucket"):
            bound = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if bound == "+Inf" else float(bound), value))
        elif line.startswith("crypteras_api_request_duration_seconds_sum"):
            total = value
        elif line.startswith("crypteras_api_request_duration_seconds_count"):
            count = value
    p95 = next((f"<= {b:g} s" for b, c in sorted(buckets) if c >= 0.95 * count), "n/a")
    return int(count), (total / count if count else 0.0), p95


async def one_upgrade(api: httpx.AsyncClient, index: int) -> float:
    body = {
        "email": f"bench-{index}-{time.time_ns()}@example.com",
        "password": "Correct-Horse-42",
        "name": "Bench",
        "terms_accepted": True,
        "privacy_accepted": True,
    }
    assert (await api.post("/api/auth/register", json=body)).status_code == 201
    login = await api.post(
        "/api/auth/login", json={"email": body["email"], "password": body["password"]}
    )
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    checkout = (
        await api.post(
            "/api/subscriptions/checkout", json={"plan": "PRO", "provider": "stripe"}, headers=auth
        )
    ).json()
    sim = urlsplit(checkout["checkout_url"])
    started = time.perf_counter()
    paid = await api.post(
        f"{sim.scheme}://{sim.netloc}/_sim/checkout/sessions/{checkout['checkout_id']}/complete"
    )
    assert paid.status_code == 200, paid.text
    while (await api.get("/api/subscriptions/me", headers=auth)).json()["plan"] != "PRO":
        await asyncio.sleep(0.005)
    return time.perf_counter() - started


async def main(users: int) -> None:
    state = tempfile.mkdtemp(prefix="crypteras-bench-")
    api_port = free_port("127.0.0.1")
    argv = [
        sys.executable, "-m", "workers.cli", "up", "--state-dir", state,
        "--api-port", str(api_port), "--temporal-port", str(free_port("127.0.0.1")),
        "--ui-port", str(free_port("127.0.0.1")),
        "--worker-metrics-port", str(free_port("127.0.0.1")),
    ]  # fmt: skip
    # Every simulated user signs up from this one address: lift the per-IP sign-up limit.
    env = {**os.environ, "LOG_LEVEL": "WARNING", "REGISTER_MAX_PER_HOUR": "100000"}
    stack = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{api_port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as api:
            for _ in range(600):
                try:
                    if (await api.get("/api/health")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            await one_upgrade(api, -1)  # warm-up, not counted
            seconds = [await one_upgrade(api, i) for i in range(users)]
            count, mean, p95_bucket = webhook_latency((await api.get("/metrics")).text)
    finally:
        stack.send_signal(signal.SIGTERM)
        stack.wait(30)
    print(f"payment → plan active, {users} sequential upgrades:")
    p50, p95 = (percentile(seconds, share) * 1000 for share in (0.5, 0.95))
    print(
        f"  p50 {p50:.0f} ms   p95 {p95:.0f} ms   max {max(seconds) * 1000:.0f} ms"
        f"   mean {statistics.mean(seconds) * 1000:.0f} ms"
    )
    print(f"Stripe webhook answers: {count} requests, mean {mean * 1000:.1f} ms, p95 {p95_bucket}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=40)
    asyncio.run(main(parser.parse_args().users))
