"""The simulated Mercado Pago account: clock, idempotency, resources and what the payer does."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from simulators.mercadopago.config import SimConfig
from simulators.mercadopago.notify import Notifier
from simulators.mercadopago.resources import (
    PAYMENT_TYPES,
    REJECTION_DETAIL,
    AuthorizedPayment,
    Payment,
    Preapproval,
    Preference,
    add_months,
)
from simulators.mercadopago.wire import MpError, bad_request, not_found

# What the checkout page's "pay by" choices mean on MP's side.
METHODS = {"pix": "pix", "boleto": "bolbradesco", "card": "visa"}
# Preapproval status changes a PUT may make (cancelled is final).
TRANSITIONS = {
    "pending": {"cancelled"},
    "authorized": {"paused", "cancelled"},
    "paused": {"authorized", "cancelled"},
    "cancelled": set[str](),
}


def numeric_id(text: str) -> int | None:
    """Mercado Pago's numeric ids (a 64-bit long); None for anything else ("²", 5,000 digits)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 19 else None


class SimClock:
    """Wall time plus an offset the control API moves."""

    def __init__(self, started_at: datetime | None) -> None:
        self.offset = (started_at - datetime.now(UTC)) if started_at else timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@dataclass
class Account:
    """Everything the routes share. One instance per app."""

    config: SimConfig
    clock: SimClock = field(init=False)
    notifier: Notifier = field(init=False)
    preferences: dict[str, Preference] = field(default_factory=dict)
    preapprovals: dict[str, Preapproval] = field(default_factory=dict)
    payments: dict[int, Payment] = field(default_factory=dict)
    authorized_payments: dict[int, AuthorizedPayment] = field(default_factory=dict)
    # (access token, X-Idempotency-Key) -> (request body, status, response body)
    idempotency: dict[tuple[str, str], tuple[Any, int, Any]] = field(default_factory=dict)
    payment_ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(1_310_000_001)
    )
    invoice_ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(7_000_000_001)
    )

    def __post_init__(self) -> None:
        cfg = self.config
        self.clock = SimClock(cfg.started_at)
        self.notifier = Notifier(
            secret=cfg.webhook_secret,
            url=cfg.webhook_url,
            user_id=cfg.user_id,
            live_mode=cfg.live_mode,
            policy=cfg.delivery,
            now=self.clock.now,
        )

    # -- the API ---------------------------------------------------------------------------

    def create_preference(self, request: dict[str, Any], base_url: str) -> Preference:
        amount = sum(
            (Decimal(i["unit_price"]) * int(i["quantity"]) for i in request["items"]), Decimal(0)
        )
        excluded = (request.get("payment_methods") or {}).get("excluded_payment_types") or []
        pref_id = f"{self.config.user_id}-{uuid.uuid4()}"
        pref = Preference(
            id=pref_id,
            collector_id=self.config.user_id,
            created=self.clock.now(),
            request=request,
            amount=amount,
            excluded_types=frozenset(str(t.get("id")) for t in excluded),
            init_point=f"{base_url}/_sim/checkout/preferences/{pref_id}",
        )
        self.preferences[pref.id] = pref
        return pref

    def create_preapproval(
        self, request: dict[str, Any], recurring: dict[str, Any], base_url: str
    ) -> Preapproval:
        pre_id = uuid.uuid4().hex
        pre = Preapproval(
            id=pre_id,
            collector_id=self.config.user_id,
            application_id=self.config.user_id,
            created=self.clock.now(),
            reason=request["reason"],
            external_reference=request.get("external_reference"),
            payer_email=request["payer_email"],
            back_url=request["back_url"],
            amount=recurring["transaction_amount"],
            currency_id=recurring["currency_id"],
            frequency=recurring["frequency"],
            frequency_type=recurring["frequency_type"],
            init_point=f"{base_url}/_sim/checkout/preapproval/{pre_id}",
        )
        self.preapprovals[pre.id] = pre
        return pre

    def preapproval(self, pre_id: str) -> Preapproval:
        pre = self.preapprovals.get(pre_id)
        if pre is None:
            raise not_found(f"The preapproval with id {pre_id} does not exist")
        return pre

    def payment(self, payment_id: str) -> Payment:
        key = numeric_id(payment_id)
        payment = self.payments.get(key) if key is not None else None
        if payment is None:
            raise not_found("Payment not found", 2000)
        return payment

    def set_status(self, pre: Preapproval, status: str) -> None:
        """A status change asked for through the API (PUT) or made by the payer on MP's page."""
        if status == pre.status:
            return
        if status not in TRANSITIONS[pre.status]:
            raise bad_request(
                f"You can not change the status of a {pre.status} preapproval to {status}",
                [{"code": "invalid_status", "description": f"{pre.status} -> {status}"}],
            )
        pre.status = status
        self._touch(pre)

    # -- what the payer does on MP's pages -------------------------------------------------

    def authorize(self, pre: Preapproval) -> Payment:
        """The payer subscribes with a card: authorized, and the first month charged."""
        if pre.status != "pending":
            raise MpError(409, "conflict", f"preapproval {pre.id} is {pre.status}, not pending")
        pre.status, pre.payer_id = "authorized", 987_000_000 + len(self.preapprovals)
        pre.next_payment_date = self.clock.now()
        return self.charge(pre, approved=True)  # notifies the preapproval's change too

    def charge(self, pre: Preapproval, *, approved: bool) -> Payment:
        """Bill the period starting at `next_payment_date`; an approved charge moves it a
        period on, a rejected one leaves it (MP retries the charge)."""
        if pre.status != "authorized":
            raise MpError(409, "conflict", f"preapproval {pre.id} is {pre.status}, not authorized")
        payment = self._new_payment(
            approved=approved,
            method_id="visa",
            amount=pre.amount,
            currency_id=pre.currency_id,
            description=pre.reason,
            payer_email=pre.payer_email,
            external_reference=pre.external_reference,
            operation_type="recurring_payment",
            preapproval_id=pre.id,
            metadata={"preapproval_id": pre.id},
        )
        invoice = AuthorizedPayment(
            id=next(self.invoice_ids),
            preapproval_id=pre.id,
            payment=payment,
            created=payment.created,
            external_reference=pre.external_reference,
        )
        self.authorized_payments[invoice.id] = invoice
        if approved:
            assert pre.next_payment_date is not None  # set when authorized
            pre.next_payment_date = self._next_period(pre, pre.next_payment_date)
            pre.charged_quantity += 1
            pre.charged_amount += pre.amount
            pre.last_charged_date, pre.last_charged_amount = payment.created, pre.amount
            pre.semaphore = "green"
        else:
            pre.semaphore = "yellow"
        self._touch(pre)
        self.notifier.emit("subscription_authorized_payment", "created", str(invoice.id))
        self.notifier.emit("payment", "payment.created", str(payment.id))
        return payment

    def pay_preference(self, pref: Preference, method: str, *, approved: bool) -> Payment:
        method_id = METHODS[method]
        if PAYMENT_TYPES[method_id] in pref.excluded_types:
            raise MpError(409, "conflict", f"{method} is excluded by preference {pref.id}")
        metadata = pref.request.get("metadata") or {}
        payer = pref.request.get("payer") or {}
        payment = self._new_payment(
            approved=approved,
            method_id=method_id,
            amount=pref.amount,
            currency_id=str(pref.request["items"][0].get("currency_id", "BRL")),
            description=str(pref.request["items"][0].get("title", "")),
            payer_email=str(payer.get("email", "")),
            external_reference=pref.external_reference,
            operation_type="regular_payment",
            preference_id=pref.id,
            metadata=dict(metadata),
        )
        self.notifier.emit(
            "payment",
            "payment.created",
            str(payment.id),
            url=pref.request.get("notification_url"),  # MP: it takes precedence when given
        )
        return payment

    # -- helpers ---------------------------------------------------------------------------

    def _new_payment(self, *, approved: bool, method_id: str, **fields: Any) -> Payment:
        payment = Payment(
            id=next(self.payment_ids),
            collector_id=self.config.user_id,
            created=self.clock.now(),
            status="approved" if approved else "rejected",
            status_detail=(
                "accredited" if approved else REJECTION_DETAIL[PAYMENT_TYPES[method_id]]
            ),
            method_id=method_id,
            **fields,
        )
        self.payments[payment.id] = payment
        return payment

    def _next_period(self, pre: Preapproval, start: datetime) -> datetime:
        if pre.frequency_type == "months":
            return add_months(start, pre.frequency)
        return start + timedelta(days=pre.frequency)

    def _touch(self, pre: Preapproval) -> None:
        pre.modified = self.clock.now()
        pre.version += 1
        self.notifier.emit("subscription_preapproval", "updated", pre.id)
