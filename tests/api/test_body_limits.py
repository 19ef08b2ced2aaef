"""Request-body limits: 413 in the error shape, without reading what is over the limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx

from api.middleware import BODY_LIMITS, DEFAULT_BODY_LIMIT
from tests.conftest import assert_error

CHUNK = 64 * 1024
HUGE = 300 * 1024 * 1024  # the size of the POST that once took the API to 2.6 GB


class CountingBody:
    """A request body that counts how many chunks the server pulled."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.chunks_read = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.total // CHUNK):
            self.chunks_read += 1
            yield b"x" * CHUNK


async def test_a_declared_oversize_webhook_is_refused_without_reading_it(
    api: httpx.AsyncClient,
) -> None:
    body = CountingBody(HUGE)
    response = await api.post(
        "/api/webhooks/stripe", content=body, headers={"Content-Length": str(HUGE)}
    )
    error = assert_error(response, 413, "body_too_large")
    assert error["details"] == {"limit_bytes": BODY_LIMITS["/api/webhooks/stripe"]}
    assert body.chunks_read == 0


async def test_a_content_length_of_thousands_of_digits_is_413_not_a_crash(
    api: httpx.AsyncClient,
) -> None:
    # int() refuses strings over 4,300 digits: such a header once raised inside the middleware.
    response = await api.post(
        "/api/webhooks/stripe", content=b"{}", headers={"Content-Length": "9" * 5001}
    )
    assert_error(response, 413, "body_too_large")


async def test_a_chunked_oversize_body_stops_being_read_at_the_limit(
    api: httpx.AsyncClient,
) -> None:
    body = CountingBody(HUGE)  # no Content-Length: sent chunked
    response = await api.post("/api/webhooks/stripe", content=body)
    assert_error(response, 413, "body_too_large")
    assert body.chunks_read <= BODY_LIMITS["/api/webhooks/stripe"] // CHUNK + 1


async def test_json_routes_take_the_default_limit(api: httpx.AsyncClient) -> None:
    padding = "x" * DEFAULT_BODY_LIMIT
    response = await api.post(
        "/api/auth/login", json={"email": "a@example.com", "password": padding}
    )
    assert_error(response, 413, "body_too_large")
    chunked = await api.post("/api/auth/login", content=CountingBody(2 * DEFAULT_BODY_LIMIT))
    assert_error(chunked, 413, "body_too_large")


async def test_a_webhook_under_its_limit_is_read(api: httpx.AsyncClient) -> None:
    """Larger than the default, smaller than the webhook limit: it reaches the signature check."""
    response = await api.post(
        "/api/webhooks/stripe",
        content=b"{" + b" " * (2 * DEFAULT_BODY_LIMIT) + b"}",
        headers={"Stripe-Signature": "t=1,v1=00"},
    )
    assert response.status_code == 400, response.text


async def test_the_live_server_answers_413_before_the_body_is_sent(live_api: str) -> None:
    """Over real HTTP: the headers promise 300 MB, we send 1 MB, the 413 comes back anyway."""
    url = urlsplit(live_api)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(
        b"POST /api/webhooks/stripe HTTP/1.1\r\nHost: api\r\n"
        b"Content-Type: application/json\r\nContent-Length: " + str(HUGE).encode() + b"\r\n\r\n"
    )
    writer.write(b"x" * (1024 * 1024))
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 30)
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 413"), status_line


async def test_body_taking_routes_document_the_413(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/openapi.json")).json()
    webhook = schema["paths"]["/api/webhooks/stripe"]["post"]["responses"]["413"]
    assert "256 KiB" in webhook["description"]
    login = schema["paths"]["/api/auth/login"]["post"]["responses"]["413"]
    assert login["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert "413" not in schema["paths"]["/api/contexts"]["get"]["responses"]
