"""The site root: a plain page linking to the web app (/app), the API documentation and the
service's health. No scripts, styles or external assets (the API's CSP, default-src 'none',
covers it)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse


def pages_router(docs_enabled: bool) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    docs = '<a href="/docs">API documentation</a> · ' if docs_enabled else ""
    home_page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        "<title>Crypteras</title></head><body><h1>Crypteras</h1>"
        "<p>Crypto trading bots on Mercado Bitcoin, Binance or paper, with plans, dashboards "
        "and LGPD compliance.</p>"
        '<p><a href="/app/">Open the web app</a></p>'
        f'<p>{docs}<a href="/api/health">Service health</a> · '
        '<a href="/app/legal/terms">Terms</a> · <a href="/app/legal/privacy">Privacy</a></p>'
        "</body></html>"
    )

    @router.get("/", response_class=HTMLResponse)
    async def home() -> HTMLResponse:
        return HTMLResponse(home_page)

    return router
