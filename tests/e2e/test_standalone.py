"""The repository stands alone: a clone with nothing beside it runs its tests and `crypteras
up` (the paper venue included), and nothing in it points outside itself."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import registration
from tests.e2e.conftest import port_of, stack_ports, wait_healthy

REPO_ROOT = Path(__file__).resolve().parents[2]
# A path out of the checkout: the shared folder beside it, or one built from a parent of the root.
OUTSIDE = re.compile(r"\.\./shared|[\"']shared[\"']\s*/|parents\[3\]")


def test_no_tracked_file_points_outside_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout.decode()
    offenders = []
    for name in filter(None, tracked.split("\0")):
        path = REPO_ROOT / name
        if path.suffix in {".parquet", ".json"} or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        offenders += [f"{name}: {m.group(0)}" for m in OUTSIDE.finditer(text)]
    assert offenders == []


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HEAD cloned into a fresh folder that holds nothing else: no shared folder beside it."""
    alone = tmp_path_factory.mktemp("alone")
    subprocess.run(
        ["git", "clone", "--quiet", str(REPO_ROOT), str(alone / "crypteras")], check=True
    )
    assert sorted(p.name for p in alone.iterdir()) == ["crypteras"]
    return alone / "crypteras"


@pytest.mark.e2e
def test_a_clone_runs_its_data_and_paper_venue_tests(clone: Path) -> None:
    # `python -m` puts the clone first on sys.path: its own code and data are the ones used.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
         "tests/data", "tests/exchanges/test_paper.py", "tests/exchanges/test_price_paths.py"],
        cwd=clone,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"\d+ passed", result.stdout)


@pytest.mark.e2e
async def test_up_from_a_clone_serves_the_paper_venue(
    clone: Path, tmp_path: Path, stack_env: dict[str, str]
) -> None:
    ports = stack_ports()
    up = subprocess.Popen(
        [sys.executable, "-m", "workers.cli", "up", "--state-dir", str(tmp_path), *ports],
        cwd=clone,
        env=stack_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{port_of(ports, '--api-port')}"
    try:
        await wait_healthy(f"{api}/api/health", up)
        async with httpx.AsyncClient(base_url=api, timeout=30) as client:
            symbols = await client.get("/api/exchanges/symbols")
            assert symbols.status_code == 200, symbols.text
            paper = next(v for v in symbols.json() if v["exchange"] == "paper")
            assert "ETH-BTC" in paper["symbols"]  # replayed from the clone's data/ohlcv
            body = registration()
            assert (await client.post("/api/auth/register", json=body)).status_code == 201
            login = await client.post(
                "/api/auth/login", json={"email": body["email"], "password": body["password"]}
            )
            auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
            context = await client.post(
                "/api/contexts",
                json={"coin": "ETH", "fiat": "BTC", "exchange": "paper"},
                headers=auth,
            )
            assert context.status_code == 201, context.text
        up.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(up.wait, 60) == 0
    finally:
        if up.poll() is None:
            up.kill()
