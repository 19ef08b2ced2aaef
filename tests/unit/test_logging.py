from __future__ import annotations

import io
import json
import logging

import structlog


def test_secrets_never_reach_a_log_line(captured_log: io.StringIO) -> None:
    log = structlog.get_logger("test")
    log.info(
        "login attempt",
        password="hunter2-secret",
        request={"headers": {"Authorization": "Bearer abc.def.ghi"}, "api_key": "K-123"},
        note="sent Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    )
    logging.getLogger("library").warning("token=%s", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln")
    text = captured_log.getvalue()
    for secret in ("hunter2-secret", "abc.def.ghi", "K-123", "c2lnbmF0dXJl", "eyJzdWIiOiIxIn0"):
        assert secret not in text
    first = json.loads(text.splitlines()[0])
    assert first["password"] == "[REDACTED]"
    assert first["request"]["headers"]["Authorization"] == "[REDACTED]"


def test_bound_context_appears_on_every_line(captured_log: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(request_id="r-1", user_id="u-1", workflow_id="w-1")
    try:
        structlog.get_logger("test").info("something happened")
    finally:
        structlog.contextvars.clear_contextvars()
    line = json.loads(captured_log.getvalue().splitlines()[-1])
    assert (line["request_id"], line["user_id"], line["workflow_id"]) == ("r-1", "u-1", "w-1")
