"""Plain server-rendered pages where a browser lands: the site root and the pages the payment
providers send the payer back to after checkout (Stripe's success and cancel URLs, Mercado
Pago's back_url). Until the web app owns them they say what happened and link on. No scripts,
styles or external assets; every value from the URL is escaped."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

# Mercado Pago's back_url query `status` / `collection_status` values.
_MP_PAID = {"approved", "authorized"}
_MP_WAITING = {"pending", "in_process", "in_mediation"}


def _page(title: str, *paragraphs: str) -> HTMLResponse:
    """`paragraphs` are trusted markup; anything taken from the request is escaped by the
    caller."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} · Crypteras</title></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    # Unstyled on purpose: the API's CSP (default-src 'none', api.middleware) covers these
    # pages too, so nothing inline or external would load anyway.
    return HTMLResponse(html)


_PLAN_LINK = (
    'Your plan and its period: <a href="/api/subscriptions/me"><code>GET '
    "/api/subscriptions/me</code></a> (signed in)."
)
_HOME_LINK = '<a href="/">Back to Crypteras</a>'


def pages_router(docs_enabled: bool) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    async def home() -> HTMLResponse:
        docs = '<a href="/docs">API documentation</a> · ' if docs_enabled else ""
        return _page(
            "Crypteras",
            "Crypto trading bots on Mercado Bitcoin, Binance or paper, with plans, dashboards "
            "and LGPD compliance. The web app is on its way; the API is here.",
            f'{docs}<a href="/api/health">Service health</a> · '
            '<a href="/api/legal/terms">Terms</a> · <a href="/api/legal/privacy">Privacy</a>',
        )

    @router.get("/billing/success", response_class=HTMLResponse)
    async def billing_success(session_id: str | None = None) -> HTMLResponse:
        """Stripe sends the payer here once Checkout is paid."""
        reference = f" (reference <code>{escape(session_id)}</code>)" if session_id else ""
        return _page(
            "Payment received",
            f"Thank you: Stripe has taken your payment{reference}. Your new plan starts as "
            "soon as Stripe confirms it to us, usually within seconds.",
            _PLAN_LINK,
            _HOME_LINK,
        )

    @router.get("/billing/canceled", response_class=HTMLResponse)
    async def billing_canceled() -> HTMLResponse:
        """Stripe sends the payer here when they leave Checkout without paying."""
        return _page(
            "Checkout canceled",
            "Nothing was charged and your plan is unchanged. You can start a new checkout "
            "whenever you like.",
            _HOME_LINK,
        )

    @router.get("/billing/return", response_class=HTMLResponse)
    async def billing_return(
        status: str | None = None,
        collection_status: str | None = None,
        payment_id: str | None = None,
        preapproval_id: str | None = None,
    ) -> HTMLResponse:
        """Mercado Pago sends the payer back here, with the outcome in the query string. It is
        only what the browser was told: the plan changes on Mercado Pago's notification."""
        outcome = (collection_status or status or "").lower()
        ref = payment_id or preapproval_id
        reference = f" (reference <code>{escape(ref)}</code>)" if ref else ""
        if outcome in _MP_PAID:
            title = "Payment received"
            what = (
                f"Mercado Pago has approved your payment{reference}. Your new plan starts as "
                "soon as Mercado Pago confirms it to us, usually within seconds."
            )
        elif outcome in _MP_WAITING:
            title = "Payment pending"
            what = (
                f"Mercado Pago is waiting for your payment{reference}. A PIX is usually "
                "confirmed in minutes, a boleto in up to three business days; your plan "
                "starts when it is."
            )
        else:
            title = "Payment not completed"
            what = (
                f"Mercado Pago did not complete the payment{reference}. Nothing was charged "
                "and your plan is unchanged; you can try again."
            )
        return _page(title, what, _PLAN_LINK, _HOME_LINK)

    return router
