"""The site root: plain HTML linking on, nothing loaded from elsewhere."""

from __future__ import annotations

import re

import httpx


async def page(api: httpx.AsyncClient, path: str, **params: str) -> str:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    html = response.text
    assert not re.search(r"<script|<style|src=|https?://", html)  # no scripts, no assets
    return html


async def test_root_is_a_page_linking_on(api: httpx.AsyncClient) -> None:
    html = await page(api, "/")
    assert "<h1>Crypteras</h1>" in html
    assert 'href="/app/"' in html
    assert 'href="/docs"' in html and 'href="/api/health"' in html
