"""Configuration of the Stripe simulator: keys, seeded prices, webhook endpoint and delivery."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_API_KEY = "sk_test_crypteras_local"
# The API version stripe-python 16.x pins; events and objects are rendered in its shapes
# (e.g. current_period_start/end live on subscription items, not on the subscription).
API_VERSION = "2026-10-28.endive"


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PriceConfig(_Config):
    """A recurring price. `unit_amount` is in the currency's minor unit (centavos)."""

    id: str
    unit_amount: int = Field(gt=0)
    currency: str = "brl"
    interval: str = "month"
    nickname: str | None = None


DEFAULT_PRICES = (
    PriceConfig(id="price_crypteras_pro_monthly", unit_amount=1990, nickname="PRO"),
    PriceConfig(id="price_crypteras_max_monthly", unit_amount=9700, nickname="MAX"),
)


class DeliveryConfig(_Config):
    """Webhook retries: attempt n+1 waits min(base * factor**(n-1), max_delay) seconds after
    attempt n failed (non-2xx, timeout or connection error), up to `max_attempts` attempts."""

    max_attempts: int = Field(default=6, ge=1)
    backoff_base: float = Field(default=2.0, gt=0)
    backoff_factor: float = Field(default=3.0, ge=1)
    backoff_max: float = Field(default=600.0, gt=0)
    timeout: float = Field(default=10.0, gt=0)

    def delay_after(self, attempt: int) -> float:
        return float(
            min(self.backoff_base * self.backoff_factor ** (attempt - 1), self.backoff_max)
        )


class SimConfig(_Config):
    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    prices: tuple[PriceConfig, ...] = DEFAULT_PRICES
    webhook_url: str | None = None
    # whsec_ secrets are the endpoint's, as in the Stripe dashboard; no default on purpose.
    webhook_secret: str | None = None
    delivery: DeliveryConfig = DeliveryConfig()
    # Simulated clock: unix seconds to start at (None: now), frozen or ticking with wall time.
    clock_start: float | None = None
    clock_frozen: bool = False
