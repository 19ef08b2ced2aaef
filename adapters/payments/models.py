"""Provider-neutral payment models shared by the Stripe and Mercado Pago gateways.

Money is Decimal, datetimes are timezone-aware UTC. The lead's webhook handlers and the
subscription workflow only see these types, never a provider SDK object.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel


class Provider(StrEnum):
    STRIPE = "stripe"
    MERCADOPAGO = "mercadopago"


class Checkout(BaseModel):
    provider: Provider
    checkout_id: str
    checkout_url: str


class ProviderSubscriptionStatus(StrEnum):
    """Our normalisation of each provider's subscription states."""

    PENDING = "pending"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    PAUSED = "paused"


class ProviderSubscription(BaseModel):
    provider: Provider
    subscription_id: str
    customer_id: str | None
    # Stripe: metadata.user_id / client_reference_id; Mercado Pago: external_reference.
    user_id: str | None
    # "PRO" | "MAX", from the price id, metadata or external_reference.
    plan: str | None
    status: ProviderSubscriptionStatus
    raw_status: str
    current_period_end: datetime | None
    cancel_at_period_end: bool = False
    # The object's own clock, to order events by state rather than by arrival.
    updated_at: datetime | None


class PaymentEvent(BaseModel):
    """A verified webhook, normalised."""

    provider: Provider
    event_id: str
    type: str  # the provider's own type string
    created: datetime | None
    object_id: str | None
    data: dict[str, Any]  # Stripe: data.object; Mercado Pago: the fetched resource


InvalidSignatureReason = Literal["missing", "malformed", "mismatch", "stale"]


class InvalidSignature(Exception):
    """A webhook failed verification; `reason` says why (never the secret or the signature)."""

    def __init__(self, reason: InvalidSignatureReason, message: str = "") -> None:
        super().__init__(message or f"invalid webhook signature: {reason}")
        self.reason: InvalidSignatureReason = reason


# Unix seconds as the providers sign them: ASCII digits, few enough for int() and datetime
# (str.isdigit() also takes "²", and int() refuses strings of more than 4,300 digits).
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


def signed_timestamp(value: str) -> int:
    """The `t` / `ts` of a signature header; InvalidSignature("malformed") when it is not one."""
    if not _UNIX_SECONDS.fullmatch(value):
        raise InvalidSignature("malformed", "the signature timestamp is not unix seconds")
    return int(value)


def require_fresh(timestamp: int, tolerance: int) -> None:
    """Refuse a signature made more than `tolerance` seconds before or after now (a replay
    window, whichever way the clocks differ)."""
    if abs(time.time() - timestamp) > tolerance:
        raise InvalidSignature("stale", "the signature timestamp is outside the tolerance")


class PaymentProviderError(Exception):
    """A provider call failed; `retryable` tells callers and Temporal whether to try again."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code
        self.status = status


class UnreadablePayload(PaymentProviderError):
    """A provider object (from a verified webhook or the API) has a shape we cannot read: not
    retryable, since the same bytes will not read better later."""

    def __init__(self, what: str) -> None:
        super().__init__(f"unreadable {what}", retryable=False)
