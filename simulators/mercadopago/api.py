"""The Mercado Pago REST API the SDK calls: preferences, preapprovals, payments, invoices."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import JSONResponse

from simulators.mercadopago.state import Account, numeric_id
from simulators.mercadopago.wire import (
    MpError,
    bad_request,
    loads,
    not_found,
    paging,
    unauthorized,
)

router = APIRouter()
M = TypeVar("M", bound=BaseModel)


def account(request: Request) -> Account:
    acct: Account = request.app.state.account
    return acct


AccountDep = Annotated[Account, Depends(account)]


def access_token(acct: AccountDep, authorization: Annotated[str | None, Header()] = None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("unauthorized")
    if token not in acct.config.access_tokens:
        raise unauthorized()
    return token


TokenDep = Annotated[str, Depends(access_token)]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class Item(_Loose):
    title: str = Field(min_length=1)
    quantity: int = Field(gt=0)
    unit_price: Decimal = Field(gt=0)
    currency_id: str = "BRL"


class PreferenceCreate(_Loose):
    items: list[Item] = Field(min_length=1)
    external_reference: str | None = None
    notification_url: str | None = None


class AutoRecurring(_Loose):
    frequency: int = Field(gt=0)
    frequency_type: Literal["days", "months"]
    transaction_amount: Decimal = Field(gt=0)
    currency_id: str = Field(min_length=3, max_length=3)


class PreapprovalCreate(_Loose):
    reason: str = Field(min_length=1)
    payer_email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    back_url: str = Field(min_length=1)
    external_reference: str | None = None
    auto_recurring: AutoRecurring
    # An authorized preapproval needs a card_token_id from MP's card form, which the
    # simulator does not tokenise: the payer authorizes on the init_point page instead.
    status: Literal["pending"] = "pending"


class PreapprovalUpdate(_Loose):
    status: Literal["pending", "authorized", "paused", "cancelled"] | None = None
    reason: str | None = Field(default=None, min_length=1)


def _parse(model: type[M], body: Any) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        cause = [
            {
                "code": "invalid_parameter",
                "description": f"{'.'.join(map(str, e['loc']))}: {e['msg']}",
            }
            for e in exc.errors()
        ]
        raise bad_request("invalid parameters", cause) from None


async def _json(request: Request) -> Any:
    try:
        return loads(await request.body())
    except ValueError:
        raise bad_request("the request body is not valid JSON") from None


async def _idempotent(
    request: Request, acct: Account, token: str, create: Callable[[Any], dict[str, Any]]
) -> JSONResponse:
    """POSTs honour X-Idempotency-Key: a repeat answers the stored result and creates
    nothing; the same key with a different body is a conflict."""
    body = await _json(request)
    key = request.headers.get("x-idempotency-key")
    if key and (stored := acct.idempotency.get((token, key))):
        stored_body, status, document = stored
        if stored_body != body:
            raise MpError(409, "conflict", "the idempotency key was used with another request")
        return JSONResponse(document, status_code=status)
    document = create(body)
    if key:
        acct.idempotency[(token, key)] = (body, 201, document)
    return JSONResponse(document, status_code=201)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.post("/checkout/preferences")
async def create_preference(request: Request, acct: AccountDep, token: TokenDep) -> JSONResponse:
    def create(body: Any) -> dict[str, Any]:
        _parse(PreferenceCreate, body)
        return acct.create_preference(body, _base(request)).document()

    return await _idempotent(request, acct, token, create)


@router.get("/checkout/preferences/{pref_id}")
async def get_preference(pref_id: str, acct: AccountDep, _: TokenDep) -> dict[str, Any]:
    pref = acct.preferences.get(pref_id)
    if pref is None:
        raise not_found(f"preference {pref_id} not found")
    return pref.document()


@router.post("/preapproval")
async def create_preapproval(request: Request, acct: AccountDep, token: TokenDep) -> JSONResponse:
    def create(body: Any) -> dict[str, Any]:
        parsed = _parse(PreapprovalCreate, body)
        recurring = parsed.auto_recurring.model_dump()
        return acct.create_preapproval(body, recurring, _base(request)).document()

    return await _idempotent(request, acct, token, create)


@router.get("/preapproval/search")
async def search_preapprovals(
    acct: AccountDep,
    _: TokenDep,
    payer_email: str | None = None,
    status: str | None = None,
    external_reference: str | None = None,
    offset: int = 0,
    limit: int = 30,
) -> dict[str, Any]:
    found = [
        p.document()
        for p in acct.preapprovals.values()
        if (payer_email is None or p.payer_email == payer_email)
        and (status is None or p.status == status)
        and (external_reference is None or p.external_reference == external_reference)
    ]
    return paging(found, offset, limit)


@router.get("/preapproval/{pre_id}")
async def get_preapproval(pre_id: str, acct: AccountDep, _: TokenDep) -> dict[str, Any]:
    return acct.preapproval(pre_id).document()


@router.put("/preapproval/{pre_id}")
async def update_preapproval(
    pre_id: str, request: Request, acct: AccountDep, _: TokenDep
) -> dict[str, Any]:
    pre = acct.preapproval(pre_id)
    update = _parse(PreapprovalUpdate, await _json(request))
    if update.status is not None:
        acct.set_status(pre, update.status)
    if update.reason is not None:
        pre.reason = update.reason
    return pre.document()


@router.get("/v1/payments/search")
async def search_payments(
    acct: AccountDep,
    _: TokenDep,
    external_reference: str | None = None,
    status: str | None = None,
    criteria: Literal["asc", "desc"] = "desc",
    offset: int = 0,
    limit: int = 30,
) -> dict[str, Any]:
    live = acct.config.live_mode
    found = [
        p.document(live)
        for p in sorted(acct.payments.values(), key=lambda p: p.id, reverse=criteria == "desc")
        if (external_reference is None or p.external_reference == external_reference)
        and (status is None or p.status == status)
    ]
    return paging(found, offset, limit)


@router.get("/v1/payments/{payment_id}")
async def get_payment(payment_id: str, acct: AccountDep, _: TokenDep) -> dict[str, Any]:
    return acct.payment(payment_id).document(acct.config.live_mode)


@router.get("/authorized_payments/{invoice_id}")
async def get_authorized_payment(invoice_id: str, acct: AccountDep, _: TokenDep) -> dict[str, Any]:
    key = numeric_id(invoice_id)
    invoice = acct.authorized_payments.get(key) if key is not None else None
    if invoice is None:
        raise not_found(f"authorized payment {invoice_id} not found")
    return invoice.document()
