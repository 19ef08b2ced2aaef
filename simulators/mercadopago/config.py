"""Configuration of the Mercado Pago simulator: credentials, webhook target, delivery policy."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Delivery(BaseModel):
    """Webhook delivery: MP waits 22 s for a 2xx and retries unanswered notifications (about
    every 15 minutes in production); tests shrink the delays to milliseconds."""

    model_config = ConfigDict(frozen=True)

    max_attempts: int = Field(default=6, ge=1)
    initial_delay_seconds: float = Field(default=60.0, ge=0)
    max_delay_seconds: float = Field(default=900.0, ge=0)
    timeout_seconds: float = Field(default=22.0, gt=0)


class SimConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    access_tokens: list[str] = Field(min_length=1)  # Bearer tokens the API accepts
    webhook_secret: str = Field(min_length=1)  # the application's "secret signature"
    webhook_url: str | None = None  # the application's Webhooks URL (settable via /_sim/)
    user_id: int = 1234567890  # the seller's (collector's) MP user id
    live_mode: bool = False  # test credentials
    started_at: datetime | None = None  # simulated time at start; default: now
    delivery: Delivery = Delivery()
