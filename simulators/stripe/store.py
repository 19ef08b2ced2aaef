"""The simulator's in-memory Stripe account: objects, the API operations on them and the
lifecycle actions a customer or the billing engine would cause. Every change emits its event."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from simulators.stripe import objects
from simulators.stripe.clock import SimClock, add_months
from simulators.stripe.config import API_VERSION, SimConfig
from simulators.stripe.objects import Obj
from simulators.stripe.wire import (
    Params,
    StripeApiError,
    get_bool,
    get_expand,
    get_int,
    get_metadata,
    get_str,
    invalid,
    missing,
    new_id,
    no_such,
    reject_unknown,
)

_CHECKOUT_PARAMS = {
    "mode", "line_items", "customer", "customer_email", "client_reference_id", "success_url",
    "cancel_url", "metadata", "subscription_data", "expand", "allow_promotion_codes", "locale",
    "payment_method_types", "billing_address_collection", "customer_update", "expires_at",
    "ui_mode", "automatic_tax", "tax_id_collection", "consent_collection", "custom_text",
    "phone_number_collection", "payment_method_collection", "currency", "discounts",
}  # fmt: skip
_SUBSCRIPTION_UPDATE_PARAMS = {
    "cancel_at_period_end", "metadata", "expand", "proration_behavior", "cancellation_details",
    "description",
}  # fmt: skip
_LISTABLE_STATUSES = {
    "active", "past_due", "unpaid", "canceled", "incomplete", "incomplete_expired", "trialing",
    "paused", "all", "ended",
}  # fmt: skip


@dataclass(frozen=True)
class RequestContext:
    """What an API request contributes to the events it causes (`event.request`)."""

    request_id: str | None = None
    idempotency_key: str | None = None


AUTOMATIC = RequestContext()


class SimError(Exception):
    """A /_sim/ action that cannot apply to the object's current state (HTTP 409)."""


class Store:
    def __init__(
        self,
        config: SimConfig,
        clock: SimClock,
        emit: Callable[[Obj], None],
        endpoints: Callable[[], int],
    ) -> None:
        self.clock = clock
        self._emit = emit
        self._endpoints = endpoints  # how many webhook endpoints an event goes to
        now = clock.now()
        self.prices: dict[str, Obj] = {
            p.id: objects.price(p, new_id("prod_", 14), now) for p in config.prices
        }
        self.customers: dict[str, Obj] = {}
        self.sessions: dict[str, Obj] = {}
        self.session_items: dict[str, list[Obj]] = {}
        self.session_subscription_data: dict[str, dict[str, str]] = {}
        self.subscriptions: dict[str, Obj] = {}
        self.invoices: dict[str, Obj] = {}
        self.events: dict[str, Obj] = {}

    # -- events ------------------------------------------------------------------------------

    def _event(
        self,
        event_type: str,
        obj: Obj,
        ctx: RequestContext,
        previous: Obj | None = None,
    ) -> None:
        event = objects.event(
            event_type=event_type,
            created=self.clock.now(),
            api_version=API_VERSION,
            obj=copy.deepcopy(obj),  # events are snapshots: later changes must not leak in
            previous_attributes=previous,
            request_id=ctx.request_id,
            idempotency_key=ctx.idempotency_key,
            pending_webhooks=self._endpoints(),
        )
        self.events[event["id"]] = event
        self._emit(event)

    # -- lookups -----------------------------------------------------------------------------

    def _get(self, table: dict[str, Obj], kind: str, object_id: str, param: str = "id") -> Obj:
        found = table.get(object_id)
        if found is None:
            raise no_such(kind, object_id, param)
        return found

    def price(self, price_id: str) -> Obj:
        return self._get(self.prices, "price", price_id)

    def customer(self, customer_id: str) -> Obj:
        return self._get(self.customers, "customer", customer_id)

    def session(self, session_id: str) -> Obj:
        return self._get(self.sessions, "checkout.session", session_id, "session")

    def subscription(self, subscription_id: str) -> Obj:
        return self._get(self.subscriptions, "subscription", subscription_id)

    def invoice(self, invoice_id: str) -> Obj:
        return self._get(self.invoices, "invoice", invoice_id)

    def event(self, event_id: str) -> Obj:
        return self._get(self.events, "event", event_id)

    def expand(self, obj: Obj, params: Params) -> Obj:
        """The object with `expand[]` fields replaced by the objects they name."""
        fields = get_expand(params)
        if not fields:
            return obj
        out = copy.deepcopy(obj)
        for field in fields:
            if obj["object"] == "checkout.session" and field == "line_items":
                items = self.session_items[obj["id"]]
                out["line_items"] = objects.list_object(
                    f"/v1/checkout/sessions/{obj['id']}/line_items", copy.deepcopy(items)
                )
                continue
            tables = {
                "customer": self.customers,
                "subscription": self.subscriptions,
                "invoice": self.invoices,
                "latest_invoice": self.invoices,
            }
            table = tables.get(field)
            if table is None or field not in obj:
                raise invalid("expand", f"This property cannot be expanded ({field}).")
            if obj[field] is not None:
                out[field] = copy.deepcopy(table[obj[field]])
        return out

    # -- API: customers ----------------------------------------------------------------------

    def create_customer(self, params: Params, ctx: RequestContext) -> Obj:
        reject_unknown(params, {"email", "name", "metadata", "description", "expand"})
        cust = objects.customer(
            self.clock.now(),
            get_str(params, "email"),
            get_str(params, "name"),
            get_metadata(params) or {},
        )
        cust["description"] = get_str(params, "description")
        self.customers[cust["id"]] = cust
        self._event("customer.created", cust, ctx)
        return cust

    def list_customers(self, params: Params) -> list[Obj]:
        email = get_str(params, "email")
        found = [c for c in self.customers.values() if email is None or c["email"] == email]
        return sorted(found, key=lambda c: c["created"], reverse=True)

    # -- API: checkout sessions ----------------------------------------------------------------

    def create_session(self, params: Params, url_base: str, ctx: RequestContext) -> Obj:
        reject_unknown(params, _CHECKOUT_PARAMS)
        mode = get_str(params, "mode", required=True)
        if mode != "subscription":
            raise invalid("mode", "The simulator supports mode=subscription only.")
        raw_items = params.get("line_items")
        if not raw_items:
            raise missing("line_items")
        if not isinstance(raw_items, list) or not all(isinstance(i, dict) for i in raw_items):
            raise invalid("line_items", "Invalid array: line_items")
        customer_id = get_str(params, "customer")
        customer_email = get_str(params, "customer_email")
        if customer_id and customer_email:
            raise StripeApiError(
                400, "You may only specify one of these parameters: customer, customer_email."
            )
        if customer_id:
            self._get(self.customers, "customer", customer_id, "customer")
        items = [self._line_item(i, raw) for i, raw in enumerate(raw_items)]
        currencies = {item["currency"] for item in items}
        if len(currencies) > 1:
            raise invalid("line_items", "All line items must use the same currency.")
        reference = get_str(params, "client_reference_id")
        if reference is not None and len(reference) > 200:
            raise invalid("client_reference_id", "client_reference_id is longer than 200.")
        subscription_data = params.get("subscription_data") or {}
        if not isinstance(subscription_data, dict):
            raise invalid("subscription_data", "Invalid hash: subscription_data")
        session = objects.checkout_session(
            created=self.clock.now(),
            url_base=url_base,
            line_items=items,
            currency=currencies.pop(),
            customer_id=customer_id,
            customer_email=customer_email,
            client_reference_id=reference,
            success_url=get_str(params, "success_url"),
            cancel_url=get_str(params, "cancel_url"),
            metadata=get_metadata(params) or {},
        )
        self.sessions[session["id"]] = session
        self.session_items[session["id"]] = items
        self.session_subscription_data[session["id"]] = (
            get_metadata(subscription_data, "metadata") or {}
        )
        return session

    def _line_item(self, index: int, raw: Params) -> Obj:
        prefix = f"line_items[{index}]"
        price_id = get_str(raw, "price")
        if price_id is None:
            raise missing(f"{prefix}[price]")
        price_obj = self._get(self.prices, "price", price_id, f"{prefix}[price]")
        quantity = get_int(raw, "quantity", param=f"{prefix}[quantity]")
        if quantity is None:
            raise missing(f"{prefix}[quantity]")
        if quantity < 1:
            raise invalid(f"{prefix}[quantity]", "Quantity must be greater than 0.")
        if price_obj["type"] != "recurring":
            raise invalid(
                f"{prefix}[price]",
                "You must specify at least one recurring price in `subscription` mode.",
            )
        return objects.line_item(price_obj, quantity)

    # -- API: subscriptions ----------------------------------------------------------------

    def list_subscriptions(self, params: Params) -> list[Obj]:
        customer_id = get_str(params, "customer")
        price_id = get_str(params, "price")
        status = get_str(params, "status")
        if status is not None and status not in _LISTABLE_STATUSES:
            raise invalid("status", f"Invalid status: {status}")

        def wanted(sub: Obj) -> bool:
            if customer_id is not None and sub["customer"] != customer_id:
                return False
            if price_id is not None and all(
                i["price"]["id"] != price_id for i in sub["items"]["data"]
            ):
                return False
            if status is None:  # Stripe's default: everything not canceled
                return bool(sub["status"] != "canceled")
            if status == "ended":
                return sub["status"] in ("canceled", "incomplete_expired")
            return status == "all" or sub["status"] == status

        found = [s for s in self.subscriptions.values() if wanted(s)]
        return sorted(found, key=lambda s: s["created"], reverse=True)

    def update_subscription(self, sub_id: str, params: Params, ctx: RequestContext) -> Obj:
        sub = self.subscription(sub_id)
        reject_unknown(params, _SUBSCRIPTION_UPDATE_PARAMS)
        cancel = get_bool(params, "cancel_at_period_end")
        metadata = get_metadata(params)
        if sub["status"] == "canceled" and cancel is not None:
            raise StripeApiError(
                400,
                "A canceled subscription can only update its cancellation_details and metadata.",
            )
        before = copy.deepcopy(sub)
        if cancel is not None and cancel != sub["cancel_at_period_end"]:
            sub["cancel_at_period_end"] = cancel
            sub["cancel_at"] = _period_end(sub) if cancel else None
            sub["canceled_at"] = self.clock.now() if cancel else None
            sub["cancellation_details"] = {
                "comment": None,
                "feedback": None,
                "reason": "cancellation_requested" if cancel else None,
            }
        if metadata is not None:
            sub["metadata"] = {**sub["metadata"], **metadata}
            for key, value in (params.get("metadata") or {}).items():
                if value == "":
                    sub["metadata"].pop(key, None)
        if params.get("description") is not None:
            sub["description"] = get_str(params, "description")
        previous = _diff(before, sub)
        if previous:
            self._event("customer.subscription.updated", sub, ctx, previous)
        return sub

    def cancel_subscription(self, sub_id: str, params: Params, ctx: RequestContext) -> Obj:
        sub = self.subscription(sub_id)
        reject_unknown(params, {"invoice_now", "prorate", "cancellation_details", "expand"})
        if sub["status"] == "canceled":
            raise no_such("subscription", sub_id, "id")
        now = self.clock.now()
        sub.update(
            status="canceled",
            ended_at=now,
            canceled_at=now,
            cancellation_details={
                "comment": None,
                "feedback": None,
                "reason": "cancellation_requested",
            },
        )
        self._event("customer.subscription.deleted", sub, ctx)
        return sub

    # -- /_sim/ actions ----------------------------------------------------------------------

    def complete_session(self, session_id: str, email: str | None = None) -> Obj:
        """The customer pays on the checkout page: customer (if new), subscription and first
        invoice are created and paid."""
        session = self.session(session_id)
        if session["status"] != "open":
            raise SimError(f"checkout session {session_id} is {session['status']}, not open")
        now = self.clock.now()
        if session["customer"] is None:
            cust = objects.customer(now, email or session["customer_email"], None, {})
            self.customers[cust["id"]] = cust
            self._event("customer.created", cust, AUTOMATIC)
        else:
            cust = self.customer(session["customer"])
        items = [(i["price"], int(i["quantity"])) for i in self.session_items[session_id]]
        sub = objects.subscription(
            created=now,
            customer_id=cust["id"],
            items=items,
            period_end=add_months(now, 1, _anchor_day(now)),
            metadata=dict(self.session_subscription_data[session_id]),
        )
        inv = self._new_invoice(sub, cust, "subscription_create", now, _period_end(sub))
        self._pay(inv)
        sub["latest_invoice"] = inv["id"]
        self.subscriptions[sub["id"]] = sub
        session.update(
            status="complete",
            payment_status="paid",
            customer=cust["id"],
            subscription=sub["id"],
            invoice=inv["id"],
            customer_details={
                "address": None,
                "email": cust["email"],
                "name": cust["name"],
                "phone": None,
                "tax_exempt": "none",
                "tax_ids": [],
            },
        )
        self._event("customer.subscription.created", sub, AUTOMATIC)
        self._event("invoice.paid", inv, AUTOMATIC)
        self._event("checkout.session.completed", session, AUTOMATIC)
        return session

    def renew(self, sub_id: str) -> Obj:
        """The period ends and the renewal invoice is paid: a new period starts."""
        sub = self._live(sub_id)
        if sub["cancel_at_period_end"]:
            raise SimError(f"{sub_id} cancels at period end: use period-end, not renew")
        if sub["status"] != "active":
            raise SimError(f"{sub_id} is {sub['status']}: recover it first")
        before = copy.deepcopy(sub)
        inv = self._start_next_period(sub)
        self._pay(inv)
        self._event("invoice.paid", inv, AUTOMATIC)
        self._event("customer.subscription.updated", sub, AUTOMATIC, _diff(before, sub))
        return sub

    def fail_payment(self, sub_id: str, *, exhausted: bool = False) -> Obj:
        """A payment attempt fails. On an active subscription the period ends and its renewal
        invoice fails (→ past_due); on a past_due one the open invoice's retry fails.
        `exhausted`: the last retry failed and the subscription is canceled, as Stripe does
        when the account's retry settings say "cancel the subscription"."""
        sub = self._live(sub_id)
        before = copy.deepcopy(sub)
        if sub["status"] == "active":
            inv = self._start_next_period(sub)
            sub["status"] = "past_due"
        elif sub["status"] == "past_due":
            inv = self.invoices[sub["latest_invoice"]]
        else:
            raise SimError(f"{sub_id} is {sub['status']}")
        inv["attempt_count"] += 1
        inv["attempted"] = True
        inv["next_payment_attempt"] = None if exhausted else self.clock.now() + 3 * 24 * 3600
        self._event("invoice.payment_failed", inv, AUTOMATIC)
        if exhausted:
            now = self.clock.now()
            sub.update(status="canceled", ended_at=now, canceled_at=now)
            sub["cancellation_details"] = {
                "comment": None,
                "feedback": None,
                "reason": "payment_failed",
            }
            self._event("customer.subscription.deleted", sub, AUTOMATIC)
        elif before["status"] != sub["status"]:
            self._event("customer.subscription.updated", sub, AUTOMATIC, _diff(before, sub))
        return sub

    def recover(self, sub_id: str) -> Obj:
        """A retry of the open invoice succeeds (e.g. the customer updated the card)."""
        sub = self._live(sub_id)
        if sub["status"] != "past_due":
            raise SimError(f"{sub_id} is {sub['status']}, not past_due")
        before = copy.deepcopy(sub)
        inv = self.invoices[sub["latest_invoice"]]
        self._pay(inv)
        sub["status"] = "active"
        self._event("invoice.paid", inv, AUTOMATIC)
        self._event("customer.subscription.updated", sub, AUTOMATIC, _diff(before, sub))
        return sub

    def reach_period_end(self, sub_id: str) -> Obj:
        """The clock reaches the period end: a subscription set to cancel at period end is
        deleted; any other renews (paid)."""
        sub = self._live(sub_id)
        if not sub["cancel_at_period_end"]:
            return self.renew(sub_id)
        end = _period_end(sub)
        self.clock.advance_to(end)
        sub.update(status="canceled", ended_at=end)
        self._event("customer.subscription.deleted", sub, AUTOMATIC)
        return sub

    # -- helpers -------------------------------------------------------------------------------

    def _live(self, sub_id: str) -> Obj:
        sub = self.subscriptions.get(sub_id)
        if sub is None:
            raise SimError(f"no such subscription {sub_id}")
        if sub["status"] == "canceled":
            raise SimError(f"{sub_id} is canceled")
        return sub

    def _start_next_period(self, sub: Obj) -> Obj:
        start = _period_end(sub)
        self.clock.advance_to(start)
        anchor = _anchor_day(int(sub["billing_cycle_anchor"]))
        end = add_months(start, 1, anchor)
        for item in sub["items"]["data"]:
            item["current_period_start"] = start
            item["current_period_end"] = end
        cust = self.customers[sub["customer"]]
        inv = self._new_invoice(sub, cust, "subscription_cycle", start, end)
        sub["latest_invoice"] = inv["id"]
        return inv

    def _new_invoice(self, sub: Obj, cust: Obj, reason: str, start: int, end: int) -> Obj:
        inv = objects.invoice(
            created=self.clock.now(),
            sub=sub,
            customer_email=cust["email"],
            billing_reason=reason,
            period_start=start,
            period_end=end,
        )
        inv["number"] = f"{cust['invoice_prefix']}-{len(self.invoices) + 1:04d}"
        self.invoices[inv["id"]] = inv
        return inv

    def _pay(self, inv: Obj) -> None:
        inv.update(
            amount_paid=inv["amount_due"],
            amount_remaining=0,
            attempt_count=inv["attempt_count"] + 1,
            attempted=True,
            next_payment_attempt=None,
            status="paid",
        )
        inv["status_transitions"]["paid_at"] = self.clock.now()


def _period_end(sub: Obj) -> int:
    return int(sub["items"]["data"][0]["current_period_end"])


def _anchor_day(ts: int) -> int:
    return datetime.fromtimestamp(ts, UTC).day


def _diff(before: Obj, after: Obj) -> dict[str, Any]:
    """`previous_attributes`: the old values of the top-level fields that changed."""
    return {k: v for k, v in before.items() if after.get(k) != v}
