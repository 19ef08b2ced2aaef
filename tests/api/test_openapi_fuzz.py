"""Schemathesis over the whole OpenAPI, as a hostile client would: every operation, positive and
negative data, authenticated, every check. It runs the real CLI against the live API (uvicorn
over HTTP, real database, real Temporal, the payment and exchange simulators behind it), bounded
by a fixed number of examples per operation and a time budget, with a fixed seed so a failure
reproduces.

`schemathesis.toml` beside this file lists, with reasons, the operations where a request the
schema allows may still be refused (a weak password, an unsigned webhook, keys the venue refuses).

The report (JUnit and NDJSON) lands in the test's temporary folder; a failure prints
schemathesis' own summary, which names the operation, the check and a curl line to replay it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import STRONG_PASSWORD, registration

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")  # the refusals no schema can express
# Operations the fuzzer must not run with the shared identity: deleting the account would leave
# every later request unauthenticated (deletion has its own tests).
EXCLUDED = ("delete_me_api_users_me_delete",)
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))
MAX_SECONDS = int(os.environ.get("FUZZ_MAX_SECONDS", "150"))


async def _access_token(base_url: str) -> str:
    body = registration()
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        registered = await http.post("/api/auth/register", json=body)
        assert registered.status_code == 201, registered.text
        login = await http.post(
            "/api/auth/login", json={"email": body["email"], "password": STRONG_PASSWORD}
        )
        assert login.status_code == 200, login.text
        token: Any = login.json()["access_token"]
        return str(token)


@pytest.mark.once  # the API surface: one database is enough
async def test_schemathesis_finds_nothing(live_api: str, db: AsyncSession, tmp_path: Path) -> None:
    token = await _access_token(live_api)
    exclusions = [arg for operation in EXCLUDED for arg in ("--exclude-operation-id", operation)]
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"{live_api}/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--max-time",
        str(MAX_SECONDS),
        "--seed",
        "20261201",
        # One thread: Python 3.11's ast.parse, which hypothesis calls to describe its filters,
        # can fail from two threads at once with "AST constructor recursion depth mismatch"
        # (cpython#106905), and the run stops on it.
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
        "--report",
        "junit,ndjson",
        "--report-dir",
        str(tmp_path),
        *exclusions,
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
        cwd=tmp_path,  # its example database lands here, not in the repository
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-20000:]
