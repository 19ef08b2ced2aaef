"""Both payment providers behind one small interface, built from settings."""

from __future__ import annotations

from adapters.payments.mercadopago import MercadoPagoGateway
from adapters.payments.models import (
    PaymentProviderError,
    ProviderSubscription,
    ProviderSubscriptionStatus,
)
from adapters.payments.stripe import StripeGateway
from adapters.settings import Settings
from domain.plans import PLANS, Plan
from domain.subscriptions import PaymentProvider


class PaymentGateways:
    def __init__(self, stripe: StripeGateway, mercadopago: MercadoPagoGateway) -> None:
        self.stripe = stripe
        self.mercadopago = mercadopago

    @classmethod
    def from_settings(cls, settings: Settings) -> PaymentGateways:
        paid = [plan for plan in Plan if plan.paid]
        return cls(
            StripeGateway(
                settings.stripe_secret_key.get_secret_value(),
                settings.stripe_webhook_secret.get_secret_value(),
                api_base=settings.stripe_api_base,
                prices={
                    Plan.PRO.value: settings.stripe_price_pro,
                    Plan.MAX.value: settings.stripe_price_max,
                },
            ),
            MercadoPagoGateway(
                settings.mercadopago_access_token.get_secret_value(),
                settings.mercadopago_webhook_secret.get_secret_value(),
                prices={plan.value: PLANS[plan].monthly_price_brl for plan in paid},
                api_base=settings.mercadopago_api_base,
                notification_url=f"{settings.public_base_url}/api/webhooks/mercadopago",
            ),
        )

    async def fetch(self, provider: PaymentProvider, subscription_id: str) -> ProviderSubscription:
        if provider is PaymentProvider.STRIPE:
            return await self.stripe.get_subscription(subscription_id)
        return await self.mercadopago.get_preapproval(subscription_id)

    async def cancel_now(
        self, provider: PaymentProvider, subscription_id: str
    ) -> ProviderSubscription:
        """Cancel at once, no further charge. Idempotent: an already canceled subscription is
        returned as it is (both providers refuse to cancel twice)."""
        if provider is PaymentProvider.STRIPE:
            return await self.stripe.cancel_now(subscription_id)
        try:
            return await self.mercadopago.cancel(subscription_id)
        except PaymentProviderError as exc:
            if exc.retryable:
                raise
            current = await self.mercadopago.get_preapproval(subscription_id)
            if current.status is not ProviderSubscriptionStatus.CANCELED:
                raise
            return current

    async def aclose(self) -> None:
        await self.stripe.aclose()
