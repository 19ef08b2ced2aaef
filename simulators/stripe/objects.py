"""Builders of Stripe API objects as JSON-ready dicts, in the shapes of the API version the SDK
pins (`config.API_VERSION`)."""

from __future__ import annotations

from typing import Any

from simulators.stripe.config import PriceConfig
from simulators.stripe.wire import new_id

Obj = dict[str, Any]


def list_object(url: str, data: list[Obj], *, has_more: bool = False) -> Obj:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def price(config: PriceConfig, product_id: str, created: int) -> Obj:
    return {
        "id": config.id,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": config.currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": config.nickname,
        "product": product_id,
        "recurring": {
            "interval": config.interval,
            "interval_count": 1,
            "meter": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        },
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring",
        "unit_amount": config.unit_amount,
        "unit_amount_decimal": str(config.unit_amount),
    }


def customer(created: int, email: str | None, name: str | None, metadata: dict[str, str]) -> Obj:
    return {
        "id": new_id("cus_", 14),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": created,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "email": email,
        "invoice_prefix": new_id("", 8).upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": metadata,
        "name": name,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def checkout_session(
    *,
    created: int,
    url_base: str,
    line_items: list[Obj],
    currency: str,
    customer_id: str | None,
    customer_email: str | None,
    client_reference_id: str | None,
    success_url: str | None,
    cancel_url: str | None,
    metadata: dict[str, str],
) -> Obj:
    session_id = new_id("cs_test_", 58)
    total = sum(int(item["amount_total"]) for item in line_items)
    return {
        "id": session_id,
        "object": "checkout.session",
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": total,
        "amount_total": total,
        "billing_address_collection": None,
        "cancel_url": cancel_url,
        "client_reference_id": client_reference_id,
        "created": created,
        "currency": currency,
        "customer": customer_id,
        "customer_creation": None if customer_id else "always",
        "customer_details": None,
        "customer_email": customer_email,
        "expires_at": created + 24 * 3600,
        "invoice": None,
        "livemode": False,
        "locale": None,
        "metadata": metadata,
        "mode": "subscription",
        "payment_intent": None,
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "status": "open",
        "submit_type": None,
        "subscription": None,
        "success_url": success_url,
        "ui_mode": "hosted",
        "url": f"{url_base}/_sim/checkout/{session_id}",
    }


def line_item(price_obj: Obj, quantity: int) -> Obj:
    amount = int(price_obj["unit_amount"]) * quantity
    return {
        "id": new_id("li_", 24),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": amount,
        "amount_tax": 0,
        "amount_total": amount,
        "currency": price_obj["currency"],
        "description": price_obj["nickname"],
        "price": price_obj,
        "quantity": quantity,
    }


def subscription(
    *,
    created: int,
    customer_id: str,
    items: list[tuple[Obj, int]],
    period_end: int,
    metadata: dict[str, str],
) -> Obj:
    sub_id = new_id("sub_", 24)
    data = [
        {
            "id": new_id("si_", 14),
            "object": "subscription_item",
            "created": created,
            "current_period_end": period_end,
            "current_period_start": created,
            "discounts": [],
            "metadata": {},
            "price": price_obj,
            "quantity": quantity,
            "subscription": sub_id,
            "tax_rates": [],
        }
        for price_obj, quantity in items
    ]
    return {
        "id": sub_id,
        "object": "subscription",
        "application": None,
        "billing_cycle_anchor": created,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": created,
        "currency": items[0][0]["currency"],
        "customer": customer_id,
        "days_until_due": None,
        "default_payment_method": new_id("pm_", 24),
        "description": None,
        "discounts": [],
        "ended_at": None,
        "items": list_object(f"/v1/subscription_items?subscription={sub_id}", data),
        "latest_invoice": None,
        "livemode": False,
        "metadata": metadata,
        "pause_collection": None,
        "start_date": created,
        "status": "active",
        "test_clock": None,
        "trial_end": None,
        "trial_start": None,
    }


def invoice(
    *,
    created: int,
    sub: Obj,
    customer_email: str | None,
    billing_reason: str,
    period_start: int,
    period_end: int,
) -> Obj:
    lines = []
    total = 0
    for item in sub["items"]["data"]:
        amount = int(item["price"]["unit_amount"]) * int(item["quantity"])
        total += amount
        lines.append(
            {
                "id": new_id("il_", 24),
                "object": "line_item",
                "amount": amount,
                "currency": sub["currency"],
                "description": f"{item['quantity']} x {item['price']['nickname']}",
                "period": {"end": period_end, "start": period_start},
                "pricing": {
                    "price_details": {
                        "price": item["price"]["id"],
                        "product": item["price"]["product"],
                    },
                    "type": "price_details",
                    "unit_amount_decimal": item["price"]["unit_amount_decimal"],
                },
                "quantity": item["quantity"],
            }
        )
    invoice_id = new_id("in_", 24)
    return {
        "id": invoice_id,
        "object": "invoice",
        "amount_due": total,
        "amount_paid": 0,
        "amount_remaining": total,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": True,
        "billing_reason": billing_reason,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": sub["currency"],
        "customer": sub["customer"],
        "customer_email": customer_email,
        "lines": list_object(f"/v1/invoices/{invoice_id}/lines", lines),
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": None,
        "parent": {
            "quote_details": None,
            "subscription_details": {"metadata": dict(sub["metadata"]), "subscription": sub["id"]},
            "type": "subscription_details",
        },
        "period_end": period_end,
        "period_start": period_start,
        "status": "open",
        "status_transitions": {
            "finalized_at": created,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": total,
        "total": total,
    }


def event(
    *,
    event_type: str,
    created: int,
    api_version: str,
    obj: Obj,
    previous_attributes: Obj | None,
    request_id: str | None,
    idempotency_key: str | None,
    pending_webhooks: int,
) -> Obj:
    data: Obj = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    return {
        "id": new_id("evt_", 24),
        "object": "event",
        "api_version": api_version,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": pending_webhooks,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": event_type,
    }
