"""The /_sim/ control API (package docstring) and the checkout pages behind each init_point.
Not Mercado Pago's: unauthenticated, for tests and the local stack (the server binds loopback)."""

from __future__ import annotations

import html
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import HTMLResponse, RedirectResponse

from simulators.mercadopago.api import AccountDep
from simulators.mercadopago.resources import PAYMENT_TYPES, Payment, Preference
from simulators.mercadopago.state import METHODS, Account
from simulators.mercadopago.wire import MpError, iso, not_found

router = APIRouter(prefix="/_sim", tags=["simulator control"])

Method = Literal["pix", "boleto", "card"]
Outcome = Literal["approved", "rejected"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Pay(_Body):
    method: Method = "pix"
    status: Outcome = "approved"


class Charge(_Body):
    status: Outcome = "approved"


class Webhook(_Body):
    url: str | None


class ClockUpdate(_Body):
    advance_seconds: float = Field(default=0)


def _preference(acct: Account, pref_id: str) -> Preference:
    pref = acct.preferences.get(pref_id)
    if pref is None:
        raise not_found(f"preference {pref_id} not found")
    return pref


def _paid(acct: Account, payment: Payment) -> dict[str, Any]:
    return payment.document(acct.config.live_mode)


# -- what the payer does ---------------------------------------------------------------------


@router.post("/preapproval/{pre_id}/authorize")
async def authorize(pre_id: str, acct: AccountDep) -> dict[str, Any]:
    """The payer subscribes: authorized, first month charged and approved."""
    pre = acct.preapproval(pre_id)
    payment = acct.authorize(pre)
    return {"preapproval": pre.document(), "payment": _paid(acct, payment)}


@router.post("/preapproval/{pre_id}/charge")
async def charge(pre_id: str, acct: AccountDep, body: Charge | None = None) -> dict[str, Any]:
    """The next period's charge, approved (renewal) or rejected (MP will retry it)."""
    pre = acct.preapproval(pre_id)
    payment = acct.charge(pre, approved=(body or Charge()).status == "approved")
    return {"preapproval": pre.document(), "payment": _paid(acct, payment)}


@router.post("/preapproval/{pre_id}/cancel")
async def cancel(pre_id: str, acct: AccountDep) -> dict[str, Any]:
    """The payer cancels the subscription in their Mercado Pago account."""
    pre = acct.preapproval(pre_id)
    acct.set_status(pre, "cancelled")
    return pre.document()


@router.post("/preferences/{pref_id}/pay")
async def pay(pref_id: str, acct: AccountDep, body: Pay | None = None) -> dict[str, Any]:
    """The payer pays the checkout by PIX, boleto or card (or the payment is rejected)."""
    body = body or Pay()
    payment = acct.pay_preference(
        _preference(acct, pref_id), body.method, approved=body.status == "approved"
    )
    return _paid(acct, payment)


# -- notifications, webhook target, clock ----------------------------------------------------


@router.get("/notifications")
async def notifications(acct: AccountDep, type: str | None = None) -> list[dict[str, Any]]:
    return [
        n.document() for n in acct.notifier.notifications.values() if type is None or n.type == type
    ]


@router.post("/notifications/{note_id}/redeliver")
async def redeliver(note_id: int, acct: AccountDep) -> dict[str, Any]:
    """Send a notification again, same id and body: a duplicate, as MP may send."""
    note = acct.notifier.notifications.get(note_id)
    if note is None:
        raise not_found(f"notification {note_id} not found")
    acct.notifier.deliver(note)
    return note.document()


@router.put("/webhook")
async def set_webhook(body: Webhook, acct: AccountDep) -> dict[str, str | None]:
    acct.notifier.url = body.url
    return {"url": body.url}


@router.get("/clock")
async def get_clock(acct: AccountDep) -> dict[str, Any]:
    return {"now": iso(acct.clock.now())}


@router.post("/clock")
async def move_clock(body: ClockUpdate, acct: AccountDep) -> dict[str, Any]:
    acct.clock.advance(body.advance_seconds)
    return {"now": iso(acct.clock.now())}


# -- the pages behind init_point (a person clicking through the local stack) -------------------


def _page(title: str, lines: list[str], action: str, buttons: list[tuple[str, str]]) -> str:
    forms = "".join(
        f'<form method="post" action="{html.escape(action)}">'
        f'<input type="hidden" name="choice" value="{html.escape(value)}">'
        f"<button>{html.escape(label)}</button></form>"
        for value, label in buttons
    )
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    head = html.escape(title)
    return f"<!doctype html><title>{head}</title><h1>{head}</h1>{body}{forms}"


async def _choice(request: Request) -> str:
    values = parse_qs((await request.body()).decode()).get("choice", [""])
    return values[0]


def _redirect(url: str, params: dict[str, Any]) -> RedirectResponse:
    separator = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{separator}{urlencode(params)}", status_code=303)


@router.get("/checkout/preferences/{pref_id}", response_class=HTMLResponse)
async def preference_page(pref_id: str, acct: AccountDep) -> str:
    pref = _preference(acct, pref_id)
    labels = {"pix": "Pay with PIX", "boleto": "Pay with boleto", "card": "Pay with card"}
    return _page(
        "Mercado Pago (simulator): checkout",
        [f"Amount: R$ {pref.amount:.2f}", f"Reference: {pref.external_reference or '-'}"],
        f"/_sim/checkout/preferences/{pref_id}",
        [
            (method, label)
            for method, label in labels.items()
            if PAYMENT_TYPES[METHODS[method]] not in pref.excluded_types
        ],
    )


@router.post("/checkout/preferences/{pref_id}")
async def preference_submit(pref_id: str, request: Request, acct: AccountDep) -> RedirectResponse:
    pref = _preference(acct, pref_id)
    method = await _choice(request)
    if method not in ("pix", "boleto", "card"):
        raise MpError(400, "bad_request", f"unknown payment method {method!r}")
    payment = acct.pay_preference(pref, method, approved=True)
    back = (pref.request.get("back_urls") or {}).get("success") or "/"
    return _redirect(
        back,
        {
            "collection_id": payment.id,
            "collection_status": payment.status,
            "payment_id": payment.id,
            "status": payment.status,
            "external_reference": payment.external_reference or "null",
            "payment_type": payment.document(False)["payment_type_id"],
            "preference_id": pref.id,
        },
    )


@router.get("/checkout/preapproval/{pre_id}", response_class=HTMLResponse)
async def preapproval_page(pre_id: str, acct: AccountDep) -> str:
    pre = acct.preapproval(pre_id)
    return _page(
        "Mercado Pago (simulator): subscription",
        [pre.reason, f"R$ {pre.amount:.2f} every {pre.frequency} {pre.frequency_type}"],
        f"/_sim/checkout/preapproval/{pre_id}",
        [("authorize", "Subscribe with card")],
    )


@router.post("/checkout/preapproval/{pre_id}")
async def preapproval_submit(pre_id: str, acct: AccountDep) -> RedirectResponse:
    pre = acct.preapproval(pre_id)
    acct.authorize(pre)
    return _redirect(pre.back_url, {"preapproval_id": pre.id})
