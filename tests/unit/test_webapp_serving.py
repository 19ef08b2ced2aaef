"""The web app's files as the API serves them at /app: the index for every app route, hashed
assets cached for good, nothing outside the build, the app's CSP, and a clear page when the app
was not built."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from adapters.settings import Settings
from api.app import create_app

INDEX = '<!doctype html><script type="module" src="/app/assets/index-abc123.js"></script>'


async def client_for(dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(_env_file=None, web_dist_dir=str(dist)))  # type: ignore[call-arg]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    built = tmp_path / "dist"
    (built / "assets").mkdir(parents=True)
    (built / "index.html").write_text(INDEX)
    (built / "assets" / "index-abc123.js").write_text("console.log('app')")
    (tmp_path / "secret.txt").write_text("not for the web")
    return built


@pytest.fixture
async def web(dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_for(dist):
        yield client


@pytest.mark.parametrize("path", ["/app", "/app/", "/app/bots/7b6c", "/app/login?next=/bots"])
async def test_every_app_route_answers_the_index_under_the_apps_csp(
    web: httpx.AsyncClient, path: str
) -> None:
    response = await web.get(path)
    assert response.status_code == 200
    assert response.text == INDEX
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe" not in csp and "connect-src 'self'" in csp
    assert response.headers["cache-control"] == "no-store"  # a new build is seen at once


async def test_hashed_assets_are_cached_for_good(web: httpx.AsyncClient) -> None:
    response = await web.get("/app/assets/index-abc123.js")
    assert response.status_code == 200
    assert response.text == "console.log('app')"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize(
    "path",
    [
        "/app/assets/missing.js",
        "/app/assets/../../secret.txt",
        "/app/assets/%2e%2e/%2e%2e/secret.txt",
        "/app/assets/..%2f..%2fsecret.txt",
        "/app/assets/",
    ],
)
async def test_nothing_outside_the_built_assets_is_served(
    web: httpx.AsyncClient, path: str
) -> None:
    response = await web.get(path)
    assert "not for the web" not in response.text
    if response.status_code == 200:  # a client folded the `..` away: the app's index
        assert response.text == INDEX
    else:
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


async def test_without_a_build_the_app_says_how_to_make_one(tmp_path: Path) -> None:
    async for client in client_for(tmp_path / "never-built"):
        response = await client.get("/app/bots")
        assert response.status_code == 503
        assert "scripts/web.sh" in response.text
        assert response.headers["content-type"].startswith("text/html")
