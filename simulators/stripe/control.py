"""The /_sim/ control API (JSON, unauthenticated, not part of Stripe): what the customer does on
Stripe's pages, what Stripe's billing engine does at period ends, the clock, and webhook
delivery. Documented in the package docstring."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict

from simulators.stripe.clock import SimClock
from simulators.stripe.objects import Obj
from simulators.stripe.store import SimError, Store
from simulators.stripe.webhooks import Deliverer
from simulators.stripe.wire import StripeApiError


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CompleteBody(_Body):
    email: str | None = None


class FailBody(_Body):
    exhausted: bool = False


class ClockBody(_Body):
    now: float | None = None
    advance_seconds: float | None = None
    frozen: bool | None = None


class WebhookBody(_Body):
    url: str | None = None
    secret: str | None = None
    auto: bool | None = None


class DeliverBody(_Body):
    ids: list[str] | None = None  # default: every event not yet sent (held while auto=false)
    order: str = "given"  # "given" | "reversed"


def _page_html(session: Obj) -> str:
    amount = f"{session['amount_total'] / 100:.2f} {session['currency'].upper()}"
    cancel = session.get("cancel_url")
    cancel_link = f'<p><a href="{html.escape(cancel)}">Cancel</a></p>' if cancel else ""
    return (
        "<!doctype html><title>Stripe Checkout (simulator)</title>"
        f"<h1>Subscribe: {html.escape(amount)} / month</h1>"
        f"<p>Session {html.escape(session['id'])}: {html.escape(session['status'])}</p>"
        f'<form method="post" action="/_sim/checkout/{html.escape(session["id"])}/pay">'
        '<input name="email" type="email" placeholder="email">'
        '<button type="submit">Pay</button></form>' + cancel_link
    )


def router(store: Store, clock: SimClock, deliverer: Deliverer) -> APIRouter:
    r = APIRouter(prefix="/_sim")

    def act(action: Callable[[], Obj], key: str) -> dict[str, Any]:
        before = len(store.events)
        try:
            obj = action()
        except SimError as exc:
            raise HTTPException(409, str(exc)) from None
        except StripeApiError as exc:
            raise HTTPException(404, exc.message) from None
        emitted = list(store.events.values())[before:]
        return {key: obj, "events": [{"id": e["id"], "type": e["type"]} for e in emitted]}

    @r.get("/checkout/{session_id}", response_class=HTMLResponse)
    async def checkout_page(session_id: str) -> str:
        session = store.sessions.get(session_id)
        if session is None:
            raise HTTPException(404, "no such checkout session")
        return _page_html(session)

    @r.post("/checkout/{session_id}/pay")
    async def pay(session_id: str, request: Request) -> Response:
        """The page's Pay button: completes and redirects to success_url, as Checkout does."""
        # The page's own form, parsed here: no multipart dependency for one field.
        form = dict(parse_qsl((await request.body()).decode(errors="replace")))
        email = form.get("email") or None
        result = act(lambda: store.complete_session(session_id, email), "s")
        target = result["s"].get("success_url")
        if not target:
            return JSONResponse(result)
        return RedirectResponse(target.replace("{CHECKOUT_SESSION_ID}", session_id), 303)

    @r.post("/checkout/sessions/{session_id}/complete")
    async def complete(session_id: str, body: CompleteBody | None = None) -> dict[str, Any]:
        email = body.email if body else None
        return act(lambda: store.complete_session(session_id, email), "checkout_session")

    @r.post("/subscriptions/{sub_id}/renew")
    async def renew(sub_id: str) -> dict[str, Any]:
        return act(lambda: store.renew(sub_id), "subscription")

    @r.post("/subscriptions/{sub_id}/fail")
    async def fail(sub_id: str, body: FailBody | None = None) -> dict[str, Any]:
        exhausted = body.exhausted if body else False
        return act(lambda: store.fail_payment(sub_id, exhausted=exhausted), "subscription")

    @r.post("/subscriptions/{sub_id}/recover")
    async def recover(sub_id: str) -> dict[str, Any]:
        return act(lambda: store.recover(sub_id), "subscription")

    @r.post("/subscriptions/{sub_id}/period-end")
    async def period_end(sub_id: str) -> dict[str, Any]:
        return act(lambda: store.reach_period_end(sub_id), "subscription")

    @r.get("/clock")
    async def get_clock() -> dict[str, Any]:
        return {"now": clock.now(), "frozen": clock.frozen}

    @r.post("/clock")
    async def set_clock(body: ClockBody) -> dict[str, Any]:
        target = body.now
        if body.advance_seconds is not None:
            if body.advance_seconds < 0:
                raise HTTPException(400, "advance_seconds must not be negative")
            target = (target if target is not None else clock.now()) + body.advance_seconds
        try:
            clock.set(target if target is not None else clock.now(), frozen=body.frozen)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return {"now": clock.now(), "frozen": clock.frozen}

    @r.get("/webhooks")
    async def get_webhooks() -> dict[str, Any]:
        return {
            "url": deliverer.url,
            "secret_set": bool(deliverer.secret),
            "auto": deliverer.auto,
        }

    @r.post("/webhooks")
    async def set_webhooks(body: WebhookBody) -> dict[str, Any]:
        fields = body.model_fields_set
        if "url" in fields:
            deliverer.url = body.url
        if body.secret is not None:
            if not body.secret.startswith("whsec_"):
                raise HTTPException(400, "a webhook secret starts with whsec_")
            deliverer.secret = body.secret
        if body.auto is not None:
            deliverer.auto = body.auto
        return await get_webhooks()

    @r.get("/events")
    async def list_events(
        type: str | None = None, delivered: bool | None = None, full: bool = False
    ) -> list[dict[str, Any]]:
        out = []
        for d in deliverer.deliveries.values():
            if type not in (None, d.event["type"]):
                continue
            if delivered is not None and d.delivered != delivered:
                continue
            out.append({**d.summary(), **({"event": d.event} if full else {})})
        return out

    @r.get("/events/{event_id}")
    async def get_event(event_id: str) -> dict[str, Any]:
        d = deliverer.deliveries.get(event_id)
        if d is None:
            raise HTTPException(404, "no such event")
        return {**d.summary(), "event": d.event}

    @r.post("/events/settle")
    async def settle() -> list[dict[str, Any]]:
        await deliverer.settle()
        return [d.summary() for d in deliverer.deliveries.values()]

    async def send(ids: list[str]) -> list[dict[str, Any]]:
        unknown = [i for i in ids if i not in deliverer.deliveries]
        if unknown:
            raise HTTPException(404, f"no such events: {unknown}")
        if not deliverer.url or not deliverer.secret:
            raise HTTPException(409, "no webhook endpoint: POST /_sim/webhooks {url} first")
        deliverer.send(ids)
        await deliverer.wait_idle()  # answers with the outcome of the first attempts
        return [deliverer.deliveries[i].summary() for i in ids]

    @r.post("/events/{event_id}/deliver")
    async def redeliver(event_id: str) -> dict[str, Any]:
        return (await send([event_id]))[0]

    @r.post("/events/deliver")
    async def deliver(body: DeliverBody) -> list[dict[str, Any]]:
        ids = body.ids if body.ids is not None else deliverer.pending()
        if body.order not in ("given", "reversed"):
            raise HTTPException(400, "order is 'given' or 'reversed'")
        return await send(list(reversed(ids)) if body.order == "reversed" else ids)

    return r
