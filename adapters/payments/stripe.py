"""Stripe through the official SDK (async methods over its httpx client): subscription checkout,
subscription reads and cancellation, webhook verification. Every SDK failure leaves here as a
`PaymentProviderError` that says whether a retry can help."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NoReturn

import stripe

from adapters.payments.models import (
    Checkout,
    InvalidSignature,
    PaymentEvent,
    PaymentProviderError,
    Provider,
    ProviderSubscription,
    ProviderSubscriptionStatus,
    UnreadablePayload,
    require_fresh,
    signed_timestamp,
)
from adapters.payments.stripe_objects import StripeEventEnvelope, StripeSubscription, read

_STATUSES = {
    "trialing": ProviderSubscriptionStatus.ACTIVE,
    "active": ProviderSubscriptionStatus.ACTIVE,
    "past_due": ProviderSubscriptionStatus.PAST_DUE,
    # unpaid: retries are over but the subscription is kept; access is owed nothing more.
    "unpaid": ProviderSubscriptionStatus.PAST_DUE,
    "incomplete": ProviderSubscriptionStatus.PENDING,
    "incomplete_expired": ProviderSubscriptionStatus.CANCELED,
    "canceled": ProviderSubscriptionStatus.CANCELED,
    "paused": ProviderSubscriptionStatus.PAUSED,
}


# A v1 signature is a hex SHA-256; anything else (non-ASCII above all, which
# hmac.compare_digest refuses with a TypeError) is not one.
_V1 = re.compile(r"[0-9a-fA-F]{64}")


def _raise_provider_error(exc: stripe.StripeError) -> NoReturn:
    """Retryable: no answer, rate limits, 5xx, lock conflicts (409). Everything else is a
    request Stripe refused and will refuse again."""
    status = exc.http_status
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        retryable = True
    elif isinstance(exc, stripe.IdempotencyError):
        retryable = False  # our key reused with other parameters: a bug, not a blip
    else:
        retryable = status is None or status >= 500 or status == 409
    raise PaymentProviderError(
        f"stripe: {exc.user_message or type(exc).__name__}",
        retryable=retryable,
        code=exc.code,
        status=status,
    ) from exc


class StripeGateway:
    """`prices` maps plan names ("PRO", "MAX") to Stripe price ids. `api_base` is the API root
    (``https://api.stripe.com`` by default; the simulator's root URL locally and in tests)."""

    def __init__(
        self,
        api_key: str,
        webhook_secret: str,
        *,
        api_base: str | None = None,
        prices: dict[str, str],
        timeout: float = 20.0,
        max_network_retries: int = 2,
    ) -> None:
        self._webhook_secret = webhook_secret
        self._prices = dict(prices)
        self._plans = {price: plan for plan, price in prices.items()}
        self._http = stripe.HTTPXClient(timeout=timeout)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")} if api_base else None,
            http_client=self._http,
            max_network_retries=max_network_retries,
        )

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    # -- API -----------------------------------------------------------------------------

    async def create_checkout(
        self,
        user_id: str,
        email: str,
        plan: str,
        success_url: str,
        cancel_url: str,
        customer_id: str | None = None,
        *,
        idempotency_key: str = "",
    ) -> Checkout:
        """A hosted Checkout session for `plan`'s monthly price. The same `idempotency_key`
        (e.g. the caller's request or workflow step id) for the same user and plan returns the
        same session instead of creating another."""
        price = self._prices.get(plan)
        if price is None:
            raise PaymentProviderError(f"no Stripe price for plan {plan!r}", retryable=False)
        metadata = {"user_id": user_id, "plan": plan}
        params: dict[str, Any] = {
            "mode": "subscription",
            "line_items": [{"price": price, "quantity": 1}],
            "client_reference_id": user_id,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "metadata": metadata,
            # Copied onto the subscription so its own events name the user and plan.
            "subscription_data": {"metadata": metadata},
        }
        if customer_id:
            params["customer"] = customer_id
        else:
            params["customer_email"] = email
        options: stripe.RequestOptions = {}
        if idempotency_key:
            digest = hashlib.sha256(f"{user_id}\x00{plan}\x00{idempotency_key}".encode())
            options["idempotency_key"] = "crypteras-checkout-" + digest.hexdigest()
        try:
            session = await self._client.v1.checkout.sessions.create_async(
                params,  # type: ignore[arg-type]  # a plain dict of the documented params
                options,
            )
        except stripe.StripeError as exc:
            _raise_provider_error(exc)
        if not session.url:
            raise PaymentProviderError("stripe: checkout session without url", retryable=False)
        return Checkout(provider=Provider.STRIPE, checkout_id=session.id, checkout_url=session.url)

    async def get_checkout(self, session_id: str) -> tuple[str, str | None]:
        """A Checkout session's status (open, complete, expired) and its subscription id."""
        try:
            session = await self._client.v1.checkout.sessions.retrieve_async(session_id)
        except stripe.StripeError as exc:
            _raise_provider_error(exc)
        subscription = session.subscription
        if subscription is not None and not isinstance(subscription, str):
            subscription = subscription.id  # expanded
        return str(session.status), subscription

    async def get_subscription(self, subscription_id: str) -> ProviderSubscription:
        try:
            sub = await self._client.v1.subscriptions.retrieve_async(subscription_id)
        except stripe.StripeError as exc:
            _raise_provider_error(exc)
        return self.parse_subscription(sub.to_dict())

    async def list_subscriptions(self, customer_id: str) -> list[ProviderSubscription]:
        """Every subscription of the customer, canceled ones included (for reconciliation)."""
        try:
            page = await self._client.v1.subscriptions.list_async(
                {"customer": customer_id, "status": "all", "limit": 100}
            )
            subs = [self.parse_subscription(s.to_dict()) async for s in page.auto_paging_iter()]
        except stripe.StripeError as exc:
            _raise_provider_error(exc)
        return subs

    async def cancel_at_period_end(self, subscription_id: str) -> ProviderSubscription:
        """Access continues to the end of the paid period; Stripe then deletes it."""
        try:
            sub = await self._client.v1.subscriptions.update_async(
                subscription_id, {"cancel_at_period_end": True}
            )
        except stripe.StripeError as exc:
            _raise_provider_error(exc)
        return self.parse_subscription(sub.to_dict())

    async def cancel_now(self, subscription_id: str) -> ProviderSubscription:
        """Immediate cancellation. Idempotent: an already canceled subscription is returned as
        it is (Stripe refuses to cancel it twice, so a retried call would fail otherwise)."""
        try:
            sub = await self._client.v1.subscriptions.cancel_async(subscription_id)
        except stripe.InvalidRequestError as exc:
            current = await self.get_subscription(subscription_id)
            if current.status is ProviderSubscriptionStatus.CANCELED:
                return current
            _raise_provider_error(exc)
        except stripe.StripeError as exc:
            _raise_provider_error(exc)
        return self.parse_subscription(sub.to_dict())

    # -- mapping ---------------------------------------------------------------------------

    def parse_subscription(
        self, obj: Mapping[str, Any], *, updated_at: datetime | None = None
    ) -> ProviderSubscription:
        """Normalises a Stripe subscription (an API answer or an event's data.object); one we
        cannot read raises `UnreadablePayload`. Stripe subscriptions carry no update time: pass
        the event's `created` as `updated_at` to order events by state."""
        sub = read(StripeSubscription, obj, "Stripe subscription")
        plan = next((self._plans[p] for p in sub.price_ids if p in self._plans), None)
        metadata = sub.metadata or {}
        return ProviderSubscription(
            provider=Provider.STRIPE,
            subscription_id=sub.id,
            customer_id=sub.customer_id,
            user_id=metadata.get("user_id"),
            plan=plan or metadata.get("plan"),
            status=_STATUSES.get(sub.status, ProviderSubscriptionStatus.PENDING),
            raw_status=sub.status,
            current_period_end=sub.period_end,
            cancel_at_period_end=sub.cancel_at_period_end,
            updated_at=updated_at,
        )

    def subscription_from_event(self, event: PaymentEvent) -> ProviderSubscription | None:
        """The subscription an event is about, in the state the event saw: the object itself
        for customer.subscription.*, None for other types (fetch it with get_subscription)."""
        if not event.type.startswith("customer.subscription."):
            return None
        return self.parse_subscription(event.data, updated_at=event.created)

    # -- webhooks ----------------------------------------------------------------------------

    def verify_webhook(
        self, payload: bytes, signature_header: str | None, *, tolerance: int = 300
    ) -> PaymentEvent:
        """Checks `Stripe-Signature` over the raw body with the SDK's `WebhookSignature` and
        normalises the event. Raises `InvalidSignature` with reason missing, malformed (header,
        or a body that is not a Stripe event), mismatch or stale (timestamp beyond `tolerance`
        seconds either way; the SDK checks only the past)."""
        if not signature_header or not signature_header.strip():
            raise InvalidSignature("missing", "no Stripe-Signature header")
        timestamp = _header_timestamp(signature_header)
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature_header, self._webhook_secret, tolerance=None
            )
        except stripe.SignatureVerificationError:
            raise InvalidSignature("mismatch", "signature does not match") from None
        except UnicodeDecodeError:  # the SDK signs the body as text
            raise InvalidSignature("malformed", "body is not UTF-8") from None
        require_fresh(timestamp, tolerance)
        try:
            body = json.loads(payload)
        except (ValueError, RecursionError):
            raise InvalidSignature("malformed", "body is not JSON") from None
        return _event(body)


def _header_timestamp(header: str) -> int:
    """`t=` of a `t=<unix>,v1=<hex>[,...]` header; InvalidSignature("malformed") otherwise."""
    fields = [part.split("=", 1) for part in header.split(",")]
    pairs = [(f[0].strip(), f[1].strip()) for f in fields if len(f) == 2]
    stamps = [v for k, v in pairs if k == "t"]
    if len(pairs) != len(fields) or len(stamps) != 1:
        raise InvalidSignature("malformed", "Stripe-Signature needs one t=<unix seconds>")
    signatures = [v for k, v in pairs if k == "v1"]
    if not signatures or not all(_V1.fullmatch(v) for v in signatures):
        raise InvalidSignature("malformed", "Stripe-Signature needs v1=<hex SHA-256>")
    return signed_timestamp(stamps[0])


def _event(body: Any) -> PaymentEvent:
    """The envelope must be an event (id, type, data.object); what its object holds is read
    when the event is routed."""
    try:
        envelope = read(StripeEventEnvelope, body, "Stripe event")
    except UnreadablePayload:
        raise InvalidSignature("malformed", "body is not a Stripe event") from None
    obj = envelope.data.object
    object_id = obj.get("id")
    return PaymentEvent(
        provider=Provider.STRIPE,
        event_id=envelope.id,
        type=envelope.type,
        created=envelope.created,
        object_id=object_id if isinstance(object_id, str) else None,
        data=obj,
    )
