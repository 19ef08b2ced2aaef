"""The /v1 routes: Stripe's paths, form-encoded parameters, Bearer (or Basic) key auth,
Idempotency-Key on POSTs and Stripe's error bodies."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response

from simulators.stripe.config import API_VERSION, SimConfig
from simulators.stripe.objects import Obj, list_object
from simulators.stripe.store import RequestContext, Store
from simulators.stripe.wire import (
    Params,
    StripeApiError,
    decode_form,
    get_expand,
    get_int,
    get_str,
    invalid,
    new_id,
    reject_unknown,
)

NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
_IDEMPOTENCY_MISMATCH = (
    "Keys for idempotent requests can only be used with the same parameters they were first "
    "used with. Try using a key other than '{key}' if you meant to execute a different request."
)

Operation = Callable[[Params, RequestContext], Obj]


@dataclass(frozen=True)
class _Saved:
    fingerprint: tuple[str, str, tuple[tuple[str, str], ...]]
    status: int
    body: bytes
    request_id: str


def _mask(key: str) -> str:
    prefix = key[:8] if key.startswith(("sk_test_", "sk_live_")) else ""
    tail = key[-4:] if len(key) > len(prefix) + 8 else ""
    return prefix + "*" * max(len(key) - len(prefix) - len(tail), 0) + tail


def _json(body: Obj | bytes, status: int, headers: dict[str, str]) -> Response:
    content = body if isinstance(body, bytes) else json.dumps(body, indent=2).encode()
    return Response(content, status, headers=headers, media_type="application/json")


class Api:
    def __init__(self, config: SimConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.idempotency: dict[tuple[str, str], _Saved] = {}

    def _authenticate(self, request: Request) -> str:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        key = ""
        if scheme.lower() == "bearer":
            key = credentials.strip()
        elif scheme.lower() == "basic":  # curl -u sk_test_...:
            try:
                key = base64.b64decode(credentials.strip()).decode().partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                key = ""
        if not key:
            raise StripeApiError(401, NO_KEY)
        if not any(hmac.compare_digest(key.encode(), k.encode()) for k in self.config.api_keys):
            raise StripeApiError(401, f"Invalid API Key provided: {_mask(key)}")
        return key

    async def handle(self, request: Request, operation: Operation) -> Response:
        request_id = new_id("req_", 14)
        headers = {
            "Request-Id": request_id,
            "Stripe-Version": request.headers.get("Stripe-Version", API_VERSION),
        }
        try:
            api_key = self._authenticate(request)
            pairs = parse_qsl(request.url.query, keep_blank_values=True)
            if request.method in ("POST", "DELETE"):
                try:
                    form = (await request.body()).decode()
                except UnicodeDecodeError:
                    raise StripeApiError(400, "Invalid request body: not UTF-8.") from None
                pairs += parse_qsl(form, keep_blank_values=True)
            params = decode_form(pairs)
            key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
            fingerprint = (request.method, request.url.path, tuple(sorted(pairs)))
            if key:
                if len(key) > 255:
                    raise StripeApiError(
                        400, "Idempotency-Key must be at most 255 characters long."
                    )
                saved = self.idempotency.get((api_key, key))
                if saved is not None:
                    if saved.fingerprint != fingerprint:
                        raise StripeApiError(
                            400, _IDEMPOTENCY_MISMATCH.format(key=key), type="idempotency_error"
                        )
                    replay = {**headers, "Idempotent-Replayed": "true"}
                    replay["Original-Request"] = saved.request_id
                    return _json(saved.body, saved.status, replay)
            body = json.dumps(operation(params, RequestContext(request_id, key)), indent=2)
            if key:  # only executed requests are saved, as Stripe does
                self.idempotency[(api_key, key)] = _Saved(
                    fingerprint, 200, body.encode(), request_id
                )
            return _json(body.encode(), 200, headers)
        except StripeApiError as exc:
            return _json(exc.body(), exc.status, headers)


def _page(store: Store, url: str, items: list[Obj], params: Params, filters: set[str]) -> Obj:
    """A list object: newest first, `limit` (1..100, default 10), `starting_after` cursor."""
    reject_unknown(params, {"limit", "starting_after", "ending_before", "expand", *filters})
    limit = get_int(params, "limit")
    limit = 10 if limit is None else limit
    if not 1 <= limit <= 100:
        raise invalid("limit", "This value must be less than or equal to 100 (and at least 1).")
    after = get_str(params, "starting_after")
    if after is not None:
        ids = [i["id"] for i in items]
        if after not in ids:
            raise invalid("starting_after", f"No such object: '{after}'")
        items = items[ids.index(after) + 1 :]
    fields = {"expand": [f.removeprefix("data.") for f in get_expand(params)]}
    page = [store.expand(i, fields) for i in items[:limit]]
    return list_object(url, page, has_more=len(items) > limit)


def _retrieve(params: Params, store: Store, obj: Obj) -> Obj:
    reject_unknown(params, {"expand"})
    return store.expand(obj, params)


def router(api: Api) -> APIRouter:
    store = api.store
    r = APIRouter(prefix="/v1")

    @r.get("/prices")
    async def list_prices(request: Request) -> Response:
        def op(p: Params, _: RequestContext) -> Obj:
            return _page(store, "/v1/prices", list(store.prices.values()), p, {"active"})

        return await api.handle(request, op)

    @r.get("/prices/{price_id}")
    async def get_price(request: Request, price_id: str) -> Response:
        return await api.handle(request, lambda p, _: _retrieve(p, store, store.price(price_id)))

    @r.post("/customers")
    async def create_customer(request: Request) -> Response:
        return await api.handle(request, store.create_customer)

    @r.get("/customers")
    async def list_customers(request: Request) -> Response:
        def op(p: Params, _: RequestContext) -> Obj:
            return _page(store, "/v1/customers", store.list_customers(p), p, {"email"})

        return await api.handle(request, op)

    @r.get("/customers/{customer_id}")
    async def get_customer(request: Request, customer_id: str) -> Response:
        return await api.handle(
            request, lambda p, _: _retrieve(p, store, store.customer(customer_id))
        )

    @r.post("/checkout/sessions")
    async def create_session(request: Request) -> Response:
        url_base = str(request.base_url).rstrip("/")

        def op(p: Params, ctx: RequestContext) -> Obj:
            return store.expand(store.create_session(p, url_base, ctx), p)

        return await api.handle(request, op)

    @r.get("/checkout/sessions/{session_id}")
    async def get_session(request: Request, session_id: str) -> Response:
        return await api.handle(
            request, lambda p, _: _retrieve(p, store, store.session(session_id))
        )

    @r.get("/checkout/sessions/{session_id}/line_items")
    async def get_session_items(request: Request, session_id: str) -> Response:
        def op(p: Params, _: RequestContext) -> Obj:
            store.session(session_id)
            url = f"/v1/checkout/sessions/{session_id}/line_items"
            return _page(store, url, store.session_items[session_id], p, set())

        return await api.handle(request, op)

    @r.get("/subscriptions")
    async def list_subscriptions(request: Request) -> Response:
        def op(p: Params, _: RequestContext) -> Obj:
            found = store.list_subscriptions(p)
            return _page(store, "/v1/subscriptions", found, p, {"customer", "price", "status"})

        return await api.handle(request, op)

    @r.get("/subscriptions/{sub_id}")
    async def get_subscription(request: Request, sub_id: str) -> Response:
        return await api.handle(
            request, lambda p, _: _retrieve(p, store, store.subscription(sub_id))
        )

    @r.post("/subscriptions/{sub_id}")
    async def update_subscription(request: Request, sub_id: str) -> Response:
        def op(p: Params, ctx: RequestContext) -> Obj:
            return store.expand(store.update_subscription(sub_id, p, ctx), p)

        return await api.handle(request, op)

    @r.delete("/subscriptions/{sub_id}")
    async def cancel_subscription(request: Request, sub_id: str) -> Response:
        def op(p: Params, ctx: RequestContext) -> Obj:
            return store.expand(store.cancel_subscription(sub_id, p, ctx), p)

        return await api.handle(request, op)

    @r.get("/invoices/{invoice_id}")
    async def get_invoice(request: Request, invoice_id: str) -> Response:
        return await api.handle(
            request, lambda p, _: _retrieve(p, store, store.invoice(invoice_id))
        )

    @r.get("/events")
    async def list_events(request: Request) -> Response:
        def op(p: Params, _: RequestContext) -> Obj:
            kind = get_str(p, "type")
            found = [e for e in reversed(store.events.values()) if kind in (None, e["type"])]
            return _page(store, "/v1/events", found, p, {"type"})

        return await api.handle(request, op)

    @r.get("/events/{event_id}")
    async def get_event(request: Request, event_id: str) -> Response:
        return await api.handle(request, lambda p, _: _retrieve(p, store, store.event(event_id)))

    @r.api_route("/{path:path}", methods=["GET", "POST", "DELETE"])
    async def unrecognized(request: Request, path: str) -> Response:
        def op(_p: Params, _c: RequestContext) -> Any:
            raise StripeApiError(
                404,
                f"Unrecognized request URL ({request.method}: /v1/{path}). Please see "
                "https://stripe.com/docs or we can help at https://support.stripe.com/.",
            )

        return await api.handle(request, op)

    return r
