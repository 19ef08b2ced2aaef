"""Mercado Pago over the official ``mercadopago`` SDK: Checkout Pro preferences (PIX, boleto),
preapprovals (card subscriptions), payment look-ups and webhook verification.

The SDK is synchronous (``requests``); every call runs in a worker thread. Its API root is a
fixed property, so `api_base` is honoured by an HTTP client that rewrites that root.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import string
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, cast

import mercadopago  # type: ignore[import-untyped]
import requests
from mercadopago.config import Config, RequestOptions  # type: ignore[import-untyped]
from mercadopago.errors import MercadoPagoError  # type: ignore[import-untyped]
from mercadopago.http import HttpClient  # type: ignore[import-untyped]

from adapters.payments.models import (
    Checkout,
    InvalidSignature,
    PaymentEvent,
    Provider,
    ProviderSubscription,
    ProviderSubscriptionStatus,
    require_fresh,
    signed_timestamp,
)
from adapters.payments.models import PaymentProviderError as ProviderError

CheckoutMethod = Literal["pix", "boleto", "card"]

STATUSES = {
    "pending": ProviderSubscriptionStatus.PENDING,
    "authorized": ProviderSubscriptionStatus.ACTIVE,
    "paused": ProviderSubscriptionStatus.PAUSED,
    "cancelled": ProviderSubscriptionStatus.CANCELED,
}
# Checkout Pro shows every payment type the preference does not exclude; leave only the one
# the user chose (PIX is a bank_transfer, boleto a ticket).
_OTHER_TYPES = {
    "pix": ["credit_card", "debit_card", "ticket", "atm", "prepaid_card"],
    "boleto": ["credit_card", "debit_card", "bank_transfer", "atm", "prepaid_card"],
}
# 423 (idempotency key locked) and 424 (dependency failed) are MP's transient 4xx.
_RETRYABLE_STATUSES = {408, 423, 424, 429}
_HEX = frozenset(string.hexdigits)
_TYPE = re.compile(r"[a-z0-9_.]{0,80}")  # payment, subscription_preapproval...


class RebasedHttpClient(HttpClient):  # type: ignore[misc]
    """The SDK's own client, sending to `api_base` instead of ``https://api.mercadopago.com``."""

    def __init__(self, api_base: str) -> None:
        self._root = Config().api_base_url
        self._base = api_base.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if url.startswith(self._root):
            url = self._base + url[len(self._root) :]
        return super().request(method, url, *args, **kwargs)


def external_reference(user_id: str, plan: str) -> str:
    return f"{user_id}:{plan}"


def parse_external_reference(reference: str | None) -> tuple[str | None, str | None]:
    """``"user_id:plan"`` -> (user_id, plan); anything else -> (None, None)."""
    user_id, sep, plan = (reference or "").rpartition(":")
    return (user_id, plan) if sep and user_id and plan else (None, None)


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value))
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


class MercadoPagoGateway:
    def __init__(
        self,
        access_token: str,
        webhook_secret: str,
        *,
        prices: Mapping[str, Decimal],
        api_base: str | None = None,
        notification_url: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        """`prices`: monthly BRL price per plan ("PRO", "MAX"); `api_base`: the simulator's root
        (``http://127.0.0.1:PORT``), None for the real API."""
        self._token = access_token
        self._secret = webhook_secret.encode()
        self._prices = dict(prices)
        self._notification_url = notification_url
        self._timeout = float(timeout)
        http_client = RebasedHttpClient(api_base) if api_base else None
        self._sdk = mercadopago.SDK(access_token, http_client=http_client)

    def __repr__(self) -> str:  # never the token or the secret
        return "MercadoPagoGateway()"

    # -- checkout ----------------------------------------------------------------------------

    async def create_checkout(
        self,
        user_id: str,
        email: str,
        plan: str,
        method: CheckoutMethod | None,
        back_url: str,
        *,
        idempotency_key: str | None = None,
    ) -> Checkout:
        """Card (or no method): a monthly preapproval the payer authorizes on MP's page. PIX and
        boleto cannot be charged automatically: a Checkout Pro preference for one month.
        `idempotency_key` (from the caller's workflow) makes a retried call return the same
        checkout instead of creating a second one."""
        price = self._prices.get(plan)
        if price is None:
            raise ProviderError(f"no Mercado Pago price for plan {plan!r}", retryable=False)
        reference = external_reference(user_id, plan)
        options = self._options(
            None if idempotency_key is None else f"{reference}:{method or 'card'}:{idempotency_key}"
        )
        # The SDK encodes JSON with the standard encoder and MP takes amounts as numbers;
        # two-decimal BRL prices survive the float exactly.
        amount = float(price)
        if method in (None, "card"):
            body = {
                "reason": f"Crypteras {plan}",
                "external_reference": reference,
                "payer_email": email,
                "back_url": back_url,
                "auto_recurring": {
                    "frequency": 1,
                    "frequency_type": "months",
                    "transaction_amount": amount,
                    "currency_id": "BRL",
                },
                "status": "pending",
            }
            created = await self._call(lambda: self._sdk.preapproval().create(body, options))
        else:
            preference: dict[str, Any] = {
                "items": [
                    {
                        "id": plan,
                        "title": f"Crypteras {plan} (1 month)",
                        "quantity": 1,
                        "unit_price": amount,
                        "currency_id": "BRL",
                    }
                ],
                "payer": {"email": email},
                "external_reference": reference,
                "metadata": {"user_id": user_id, "plan": plan},
                "back_urls": {"success": back_url, "pending": back_url, "failure": back_url},
                "auto_return": "approved",
                "payment_methods": {
                    "excluded_payment_types": [{"id": t} for t in _OTHER_TYPES[method]],
                    "installments": 1,
                },
            }
            if self._notification_url:
                preference["notification_url"] = self._notification_url
            created = await self._call(lambda: self._sdk.preference().create(preference, options))
        return Checkout(
            provider=Provider.MERCADOPAGO,
            checkout_id=str(created["id"]),
            checkout_url=str(created["init_point"]),
        )

    # -- reads and commands ------------------------------------------------------------------

    async def get_payment(self, payment_id: str) -> dict[str, Any]:
        """The payment as MP renders it (``status``, ``status_detail``, ``external_reference``,
        ``transaction_amount``, ``payment_method_id``, ``metadata``...)."""
        return await self._call(lambda: self._sdk.payment().get(payment_id, self._options()))

    async def get_authorized_payment(self, invoice_id: str) -> dict[str, Any]:
        """One billing of a preapproval (``subscription_authorized_payment`` notifications);
        ``payment.id`` names the payment that settled it."""
        return await self._call(lambda: self._sdk.invoice().get(invoice_id, self._options()))

    async def search_payments(self, external_reference: str) -> list[dict[str, Any]]:
        """Payments for an external reference, newest first (for reconciliation)."""
        filters = {
            "external_reference": external_reference,
            "sort": "date_created",
            "criteria": "desc",
        }
        found = await self._call(lambda: self._sdk.payment().search(filters, self._options()))
        return cast(list[dict[str, Any]], found.get("results", []))

    async def get_preapproval(self, preapproval_id: str) -> ProviderSubscription:
        found = await self._call(
            lambda: self._sdk.preapproval().get(preapproval_id, self._options())
        )
        return self.subscription(found)

    async def list_subscriptions(self, payer_email: str) -> list[ProviderSubscription]:
        """The payer's preapprovals (for reconciliation)."""
        filters = {"payer_email": payer_email}
        found = await self._call(lambda: self._sdk.preapproval().search(filters, self._options()))
        return [self.subscription(p) for p in found.get("results", [])]

    async def cancel(self, preapproval_id: str) -> ProviderSubscription:
        """Cancel now: Mercado Pago has no cancel-at-period-end."""
        body = {"status": "cancelled"}
        updated = await self._call(
            lambda: self._sdk.preapproval().update(preapproval_id, body, self._options())
        )
        return self.subscription(updated)

    @staticmethod
    def subscription(preapproval: Mapping[str, Any]) -> ProviderSubscription:
        raw_status = str(preapproval.get("status"))
        status = STATUSES.get(raw_status)
        if status is None:
            raise ProviderError(f"unknown preapproval status {raw_status!r}", retryable=False)
        user_id, plan = parse_external_reference(preapproval.get("external_reference"))
        payer_id = preapproval.get("payer_id")
        return ProviderSubscription(
            provider=Provider.MERCADOPAGO,
            subscription_id=str(preapproval["id"]),
            customer_id=str(payer_id) if payer_id else None,
            user_id=user_id,
            plan=plan,
            status=status,
            raw_status=raw_status,
            # Paid up to the next charge; MP charges on that date.
            current_period_end=(
                parse_time(preapproval.get("next_payment_date"))
                if status is ProviderSubscriptionStatus.ACTIVE
                else None
            ),
            updated_at=parse_time(preapproval.get("last_modified")),
        )

    # -- webhooks ----------------------------------------------------------------------------

    def verify_webhook(
        self,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        body: bytes,
        *,
        tolerance: int = 300,
    ) -> PaymentEvent:
        """Check ``x-signature`` (HMAC-SHA256 over ``id:{data.id};request-id:{x-request-id};
        ts:{ts};``, data.id from the query string) and the timestamp (within `tolerance`
        seconds either way), then normalise the body. The event is a hint: fetch the payment /
        preapproval before acting on it.

        The event id is a digest of that signed manifest, not the body's notification id:
        the body is not signed, so a captured notification re-sent with another id would
        pass a duplicate check keyed on it. Each delivery attempt is signed anew (its own
        request id and ts), so a retry is a new event; it re-reads the same resource, which
        changes nothing twice."""
        lowered = {k.lower(): v for k, v in headers.items()}
        header = (lowered.get("x-signature") or "").strip()
        if not header:
            raise InvalidSignature("missing", "no x-signature header")
        ts, v1 = _parse_signature(header)
        data_id = (query.get("data.id") or "").strip() or None
        request_id = (lowered.get("x-request-id") or "").strip() or None
        manifest = _manifest(data_id, request_id, ts).encode()
        expected = hmac.new(self._secret, manifest, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, v1.lower()):
            raise InvalidSignature("mismatch", "x-signature does not match")
        require_fresh(int(ts), tolerance)
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            raise InvalidSignature("malformed", "the body is not JSON") from None
        if not isinstance(payload, dict) or "id" not in payload:
            raise InvalidSignature("malformed", "the body is not a notification")
        data = payload.get("data")
        body_id = data.get("id") if isinstance(data, dict) else None
        # Only the query's data.id is signed: a body naming another object is refused.
        if body_id is not None and str(body_id) != data_id:
            raise InvalidSignature("mismatch", "data.id differs between body and query")
        kind = payload.get("type") or query.get("type") or ""
        if not isinstance(kind, str) or not _TYPE.fullmatch(kind):
            raise InvalidSignature("malformed", "the notification type is not one")
        return PaymentEvent(
            provider=Provider.MERCADOPAGO,
            event_id=hashlib.sha256(manifest).hexdigest(),
            type=kind,
            created=_maybe_time(payload.get("date_created")),
            object_id=data_id,
            data=payload,
        )

    # -- plumbing ----------------------------------------------------------------------------

    def _options(self, idempotency_key: str | None = None) -> Any:
        # Retries belong to the caller (Temporal's RetryPolicy), with the same idempotency
        # key; the SDK's own retry adapter is mounted for https only, so it would also make
        # the simulator and production behave differently.
        headers = {}
        if idempotency_key is not None:
            # MP takes 1-64 characters; a digest fits any caller key.
            headers["x-idempotency-key"] = hashlib.sha256(idempotency_key.encode()).hexdigest()
        return RequestOptions(
            access_token=self._token,
            connection_timeout=self._timeout,
            max_retries=0,
            custom_headers=headers or None,
        )

    async def _call(self, request: Callable[[], Any]) -> dict[str, Any]:
        try:
            response = await asyncio.to_thread(request)
            response.raise_for_status()
        except MercadoPagoError as exc:
            raise _provider_error(exc.status_code, exc.error, exc.message) from None
        except requests.RequestException as exc:
            raise ProviderError(
                f"Mercado Pago unreachable: {type(exc).__name__}", retryable=True
            ) from None
        body = response["response"]
        if not isinstance(body, dict):
            raise ProviderError("Mercado Pago answered no JSON object", retryable=True)
        return body


def _provider_error(status: int, code: str, message: str) -> ProviderError:
    retryable = status >= 500 or status == 0 or status in _RETRYABLE_STATUSES
    return ProviderError(
        f"Mercado Pago {status}: {message or code}",
        retryable=retryable,
        code=code or None,
        status=status,
    )


def _parse_signature(header: str) -> tuple[str, str]:
    """``ts=<unix seconds>,v1=<hex>`` (any order, other versions ignored)."""
    parts: dict[str, str] = {}
    for item in header.split(","):
        key, sep, value = item.partition("=")
        if sep:
            parts[key.strip().lower()] = value.strip()
    ts, v1 = parts.get("ts", ""), parts.get("v1", "")
    if len(v1) != 64 or not set(v1) <= _HEX:
        raise InvalidSignature("malformed", "x-signature must look like ts=<unix>,v1=<hex>")
    signed_timestamp(ts)
    return ts, v1


def _manifest(data_id: str | None, request_id: str | None, ts: str) -> str:
    """MP's template; data.id lower-cased when alphanumeric, absent parts left out."""
    parts = []
    if data_id:
        alphanumeric = data_id.isascii() and data_id.isalnum()
        parts.append(f"id:{data_id.lower() if alphanumeric else data_id}")
    if request_id:
        parts.append(f"request-id:{request_id}")
    parts.append(f"ts:{ts}")
    return ";".join(parts) + ";"


def _maybe_time(value: Any) -> datetime | None:
    try:
        return parse_time(value)
    except (ValueError, OverflowError):  # OverflowError: year 9999 moved to UTC
        return None
