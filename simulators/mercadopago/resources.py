"""The resources the simulator keeps (preferences, preapprovals, payments, authorized payments)
and their documents as the MP API renders them."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from simulators.mercadopago.wire import iso, number, plain

# payment_method_id -> payment_type_id, for the methods Crypteras offers.
PAYMENT_TYPES = {"pix": "bank_transfer", "bolbradesco": "ticket", "visa": "credit_card"}
# How a rejection reads, per payment type (MP's status_detail vocabulary).
REJECTION_DETAIL = {
    "credit_card": "cc_rejected_insufficient_amount",
    "bank_transfer": "rejected_by_bank",
    "ticket": "rejected_by_bank",
}


def add_months(moment: datetime, months: int) -> datetime:
    """Same day next month, clamped to the month's last day (Jan 31 -> Feb 28/29)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass
class Preference:
    id: str
    collector_id: int
    created: datetime
    request: dict[str, Any]  # the body as received (MP echoes it back)
    amount: Decimal
    excluded_types: frozenset[str]
    init_point: str

    @property
    def external_reference(self) -> str | None:
        ref = self.request.get("external_reference")
        return str(ref) if ref is not None else None

    def document(self) -> dict[str, Any]:
        req = plain(self.request)
        return {
            "id": self.id,
            "collector_id": self.collector_id,
            "client_id": str(self.collector_id),
            "operation_type": "regular_payment",
            "date_created": iso(self.created),
            "items": req["items"],
            "payer": req.get("payer") or {},
            "external_reference": self.external_reference or "",
            "back_urls": req.get("back_urls") or {},
            "auto_return": req.get("auto_return", ""),
            "notification_url": req.get("notification_url"),
            "payment_methods": req.get("payment_methods") or {},
            "metadata": req.get("metadata") or {},
            "init_point": self.init_point,
            "sandbox_init_point": self.init_point,
        }


@dataclass
class Preapproval:
    id: str
    collector_id: int
    application_id: int
    created: datetime
    reason: str
    external_reference: str | None
    payer_email: str
    back_url: str
    amount: Decimal
    currency_id: str
    frequency: int
    frequency_type: str  # "months" | "days"
    init_point: str
    status: str = "pending"  # pending authorized paused cancelled
    modified: datetime | None = None
    payer_id: int | None = None
    next_payment_date: datetime | None = None
    charged_quantity: int = 0
    charged_amount: Decimal = Decimal(0)
    last_charged_date: datetime | None = None
    last_charged_amount: Decimal | None = None
    semaphore: str | None = None  # green: up to date; yellow: a charge is being retried
    version: int = 0

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "payer_id": self.payer_id,
            "payer_email": self.payer_email,
            "back_url": self.back_url,
            "collector_id": self.collector_id,
            "application_id": self.application_id,
            "status": self.status,
            "reason": self.reason,
            "external_reference": self.external_reference,
            "date_created": iso(self.created),
            "last_modified": iso(self.modified or self.created),
            "init_point": self.init_point,
            "sandbox_init_point": self.init_point,
            "preapproval_plan_id": None,
            "auto_recurring": {
                "frequency": self.frequency,
                "frequency_type": self.frequency_type,
                "transaction_amount": number(self.amount),
                "currency_id": self.currency_id,
                "start_date": iso(self.created),
                "end_date": None,
            },
            "summarized": {
                "quotas": None,
                "charged_quantity": self.charged_quantity,
                "pending_charge_quantity": None,
                "charged_amount": number(self.charged_amount),
                "pending_charge_amount": None,
                "semaphore": self.semaphore,
                "last_charged_date": iso(self.last_charged_date),
                "last_charged_amount": (
                    number(self.last_charged_amount) if self.last_charged_amount else None
                ),
            },
            "next_payment_date": iso(self.next_payment_date),
            "payment_method_id": "visa" if self.payer_id else None,
            "first_invoice_offset": None,
            "version": self.version,
        }


@dataclass
class Payment:
    id: int
    collector_id: int
    created: datetime
    status: str  # approved | rejected (pending methods settle at once in the simulator)
    status_detail: str
    method_id: str  # pix | bolbradesco | visa
    amount: Decimal
    currency_id: str
    description: str
    payer_email: str
    external_reference: str | None
    operation_type: str  # regular_payment | recurring_payment
    preference_id: str | None = None
    preapproval_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def document(self, live_mode: bool) -> dict[str, Any]:
        approved = self.status == "approved"
        return {
            "id": self.id,
            "date_created": iso(self.created),
            "date_approved": iso(self.created) if approved else None,
            "date_last_updated": iso(self.created),
            "money_release_date": iso(self.created) if approved else None,
            "collector_id": self.collector_id,
            "operation_type": self.operation_type,
            "payment_method_id": self.method_id,
            "payment_type_id": PAYMENT_TYPES[self.method_id],
            "status": self.status,
            "status_detail": self.status_detail,
            "currency_id": self.currency_id,
            "description": self.description,
            "live_mode": live_mode,
            "external_reference": self.external_reference,
            "transaction_amount": number(self.amount),
            "transaction_amount_refunded": 0,
            "installments": 1,
            "captured": True,
            "transaction_details": {
                "total_paid_amount": number(self.amount) if approved else 0,
                "net_received_amount": number(self.amount) if approved else 0,
                "installment_amount": number(self.amount),
            },
            "payer": {"email": self.payer_email, "type": "customer"},
            "metadata": plain(self.metadata),
            "order": (
                {"id": self.id, "type": "mercadopago"} if self.preference_id is not None else {}
            ),
            "point_of_interaction": (
                {
                    "type": "SUBSCRIPTIONS",
                    "transaction_data": {"subscription_id": self.preapproval_id},
                }
                if self.preapproval_id
                else {}
            ),
        }


@dataclass
class AuthorizedPayment:
    """One billing of a preapproval (MP's "invoice"), with the payment that settled it."""

    id: int
    preapproval_id: str
    payment: Payment
    created: datetime
    external_reference: str | None
    retry_attempt: int = 0

    def document(self) -> dict[str, Any]:
        approved = self.payment.status == "approved"
        return {
            "id": self.id,
            "type": "scheduled",
            "preapproval_id": self.preapproval_id,
            "date_created": iso(self.created),
            "last_modified": iso(self.created),
            "debit_date": iso(self.created),
            "next_retry_date": None,
            "status": "processed" if approved else "recycling",
            "reason": self.payment.description,
            "transaction_amount": number(self.payment.amount),
            "currency_id": self.payment.currency_id,
            "external_reference": self.external_reference,
            "retry_attempt": self.retry_attempt,
            "payment": {
                "id": self.payment.id,
                "status": self.payment.status,
                "status_detail": self.payment.status_detail,
            },
        }
