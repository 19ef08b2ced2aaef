"""What the OpenAPI document promises is what the API does: the cases schemathesis found where
the two disagreed (tests/api/test_openapi_fuzz.py), each pinned down."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import assert_error, bearer


async def test_405_allows_every_method_of_the_path(api: httpx.AsyncClient) -> None:
    # GET and PUT /api/auth/me are two routes; Starlette's 405 named only the first.
    response = await api.request("OPTIONS", "/api/auth/me")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET, PUT"


async def test_a_body_that_is_not_text_is_400_malformed_body_and_documented(
    api: httpx.AsyncClient,
) -> None:
    response = await api.post(
        "/api/auth/login", content=b"\xff\xfe\x00", headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "malformed_body")
    schema = (await api.get("/openapi.json")).json()
    assert "400" in schema["paths"]["/api/auth/login"]["post"]["responses"]


async def test_null_in_a_partial_update_is_422_not_500(
    api: httpx.AsyncClient, login: Callable[..., Any]
) -> None:
    _, tokens = await login()
    for body in ({"name": None}, {"new_password": None}, {"current_password": None}):
        response = await api.put("/api/auth/me", json=body, headers=bearer(tokens))
        assert_error(response, 422, "validation_error")


async def test_consents_take_booleans_not_numbers(
    api: httpx.AsyncClient, login: Callable[..., Any]
) -> None:
    _, tokens = await login()
    for body in ({"marketing_accepted": 0}, {"marketing_accepted": None}, {}):
        response = await api.post("/api/legal/consents", json=body, headers=bearer(tokens))
        assert response.status_code == 422, (body, response.text)


async def test_update_me_schema_says_what_is_needed(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/openapi.json")).json()["components"]["schemas"]["UpdateMeRequest"]
    assert schema["dependentRequired"] == {
        "email": ["current_password"],
        "new_password": ["current_password"],
    }
    assert {"required": ["name"]} in schema["anyOf"]
