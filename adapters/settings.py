"""One validated configuration for every process (API, worker, CLI), from env vars and `.env`."""

from __future__ import annotations

import ipaddress
import sys
from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.vault import parse_keys

DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me-0123456789"
# 32 bytes of zeros-and-letters: development only, refused in production.
DEV_CREDENTIALS_KEYS = "1:ZGV2LW9ubHktaW5zZWN1cmUtY3JlZGVudGlhbC1rZXk"
MAX_WORKER_PROCESSES = 32  # `crypteras up --workers`: more is a deployment, not a local stack


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    AUTO = "auto"  # readable on a terminal, JSON otherwise
    CONSOLE = "console"
    JSON = "json"


class Settings(BaseSettings):
    # An empty variable (docker-compose `${X:-}`) means "not set".
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite+aiosqlite:///.crypteras/crypteras.db"
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    access_token_minutes: int = Field(default=15, ge=1, le=60)
    refresh_token_days: int = Field(default=7, ge=1, le=30)

    # Master keys that seal exchange secrets: `<version>:<base64 32 bytes>,...`; the active
    # version seals new values (default: the highest). See adapters/vault.py.
    credentials_keys: SecretStr = SecretStr(DEV_CREDENTIALS_KEYS)
    credentials_key_version: int | None = None

    # Venue endpoints; point them at the simulators locally (crypteras up does).
    binance_base_url: str | None = None  # None: production
    binance_testnet_url: str | None = None  # None: Binance's public Spot testnet
    mercadobitcoin_base_url: str = "https://api.mercadobitcoin.net/api/v4"
    # Real candles that drive the paper venue's BTC-quoted markets.
    paper_data_dir: str | None = None
    # The venues' candles backtests downloaded (Parquet), shared by a machine's workers.
    backtest_data_dir: str = ".crypteras/candles"
    # The built web app (scripts/web.sh) the API serves at /app; empty: the repository's web/dist.
    web_dist_dir: str = ""

    # Payments. Webhook signing secrets and API keys come from configuration, never from code;
    # the *_API_BASE settings point the SDKs at the local simulators (crypteras up does).
    public_base_url: str = "http://127.0.0.1:8000"  # where providers send users and webhooks
    stripe_secret_key: SecretStr = SecretStr("")
    stripe_webhook_secret: SecretStr = SecretStr("")
    stripe_api_base: str | None = None
    stripe_price_pro: str = "price_crypteras_pro_monthly"
    stripe_price_max: str = "price_crypteras_max_monthly"
    mercadopago_access_token: SecretStr = SecretStr("")
    mercadopago_webhook_secret: SecretStr = SecretStr("")
    mercadopago_api_base: str | None = None

    # Failed logins: a hard limit per IP and window; per account, growing delays (1, 2, 4 ...
    # seconds up to the cap) after the free failures, never a lock-out.
    login_max_failures: int = Field(default=10, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    login_free_failures: int = Field(default=3, ge=1)
    login_first_delay_seconds: int = Field(default=1, ge=1, le=3600)
    login_max_delay_seconds: int = Field(default=60, ge=1, le=3600)
    # Per hour: registrations per IP, checkouts per user.
    register_max_per_hour: int = Field(default=10, ge=1)
    checkout_max_per_hour: int = Field(default=20, ge=1)
    # Proxies (comma-separated addresses or CIDRs) whose X-Forwarded-For is believed. Empty:
    # the headers are ignored and the peer address is the client (they are forgeable).
    trusted_proxies: str = ""

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    # Where the worker serves the Temporal SDK's Prometheus metrics; empty disables it.
    worker_metrics_address: str = "127.0.0.1:9464"
    # The API's /metrics answers only `Authorization: Bearer <METRICS_TOKEN>` when it is set;
    # unset, /metrics is open in development and test and not served at all in production.
    metrics_token: SecretStr = SecretStr("")
    # Interactive docs (/docs) and /openapi.json; unset: served except in production.
    api_docs: bool | None = None

    # The worker (per process; `crypteras up --workers N` runs N of them). Slots are per task
    # queue's worker, as the SDK counts them; SDK defaults are 100 slots and 1,000 cached
    # workflows. A cached workflow is woken without replaying its history.
    worker_processes: int = Field(default=1, ge=1, le=MAX_WORKER_PROCESSES)
    worker_max_cached_workflows: int = Field(default=5000, ge=0)
    worker_max_concurrent_workflow_tasks: int = Field(default=100, ge=2)  # SDK: 2 with a cache
    worker_max_concurrent_activities: int = Field(default=100, ge=1)
    worker_max_concurrent_local_activities: int = Field(default=100, ge=1)
    # Activities a second an order queue dispatches, over every worker process (the server
    # applies it to the queue). Binance: ORDERS 100 per 10 s; Mercado Bitcoin: 3 placements or
    # cancels a second. Both at 90 %, the venue budgets' headroom. Unset: no limit.
    orders_per_second_binance: float | None = Field(default=9.0, gt=0)
    orders_per_second_mercadobitcoin: float | None = Field(default=2.7, gt=0)
    orders_per_second_paper: float | None = Field(default=None, gt=0)
    # PostgreSQL connections a worker process keeps: its activity slots, at most this many.
    database_pool_max: int = Field(default=20, ge=1, le=1000)

    # Bots. A market feed reads its market every MARKET_FEED_SECONDS and wakes the bots whose
    # triggers fired; an account sync compares the venue's open orders with the bots' every
    # ACCOUNT_SYNC_SECONDS. One watch or sync activity runs WATCH_RUN_SECONDS, then returns to
    # its workflow (which starts the next: the history stays short, a lost worker costs one run).
    market_feed_seconds: float = Field(default=2.0, gt=0)
    account_sync_seconds: float = Field(default=15.0, gt=0)
    watch_run_seconds: float = Field(default=300.0, gt=0)
    # The dashboard's aggregates are kept this long per user, while none of the user's bots
    # changed (0: computed on every request).
    dashboard_cache_seconds: float = Field(default=60.0, ge=0, le=3600)

    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.AUTO

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        return async_database_url(url)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, level: str) -> str:
        level = level.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # raises naming the bad entry
        return value

    @field_validator("credentials_keys")
    @classmethod
    def _readable_keys(cls, keys: SecretStr) -> SecretStr:
        parse_keys(keys.get_secret_value())  # raises with a message naming the bad key
        return keys

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> Self:
        secret = self.jwt_secret.get_secret_value()
        production = self.environment is Environment.PRODUCTION
        if production and secret == DEV_JWT_SECRET:
            raise ValueError("JWT_SECRET must be set in production")
        if production and self.credentials_keys.get_secret_value() == DEV_CREDENTIALS_KEYS:
            raise ValueError("CREDENTIALS_KEYS must be set in production")
        version = self.credentials_key_version
        if version is not None and version not in self.credential_keys:
            raise ValueError(f"CREDENTIALS_KEY_VERSION {version} is not in CREDENTIALS_KEYS")
        if len(secret) < 32:
            raise ValueError("JWT_SECRET must be at least 32 characters")
        if 0 < len(self.metrics_token.get_secret_value()) < 32:
            raise ValueError("METRICS_TOKEN must be at least 32 characters")
        return self

    @property
    def docs_enabled(self) -> bool:
        if self.api_docs is None:
            return self.environment is not Environment.PRODUCTION
        return self.api_docs

    @property
    def metrics_open(self) -> bool:
        """/metrics without a token: only outside production, and only when none is set."""
        unset = not self.metrics_token.get_secret_value()
        return unset and self.environment is not Environment.PRODUCTION

    @property
    def access_token_ttl(self) -> timedelta:
        return timedelta(minutes=self.access_token_minutes)

    @property
    def refresh_token_ttl(self) -> timedelta:
        return timedelta(days=self.refresh_token_days)

    @property
    def login_window(self) -> timedelta:
        return timedelta(minutes=self.login_window_minutes)

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def login_delays(self) -> list[timedelta]:
        """The wait after the n-th failed login in a row: none until the free ones are used up,
        then doubling from the first delay up to the cap (the last entry repeats)."""
        delays = [timedelta(0)] * (self.login_free_failures - 1)
        seconds = self.login_first_delay_seconds
        while seconds < self.login_max_delay_seconds:
            delays.append(timedelta(seconds=seconds))
            seconds *= 2
        return [*delays, timedelta(seconds=self.login_max_delay_seconds)]

    @property
    def credential_keys(self) -> dict[int, bytes]:
        return parse_keys(self.credentials_keys.get_secret_value())

    def orders_per_second(self, venue: str) -> float | None:
        """The dispatch limit of a venue's order queue (`domain.market.Venue` value)."""
        rate: float | None = getattr(self, f"orders_per_second_{venue}")
        return rate

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str) -> tuple[IPNetwork, ...]:
    """`10.0.0.0/8, 2001:db8::/32, 172.18.0.5` -> networks (a bare address is a /32 or /128)."""
    networks = []
    for entry in filter(None, (part.strip() for part in value.split(","))):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
    return tuple(networks)


def async_database_url(url: str) -> str:
    """Accept plain `postgresql://` and `sqlite:///` URLs and pick the async drivers."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(plain):
            return driver + url.removeprefix(plain)
    if not url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite:///")):
        raise ValueError("must be a postgresql:// or sqlite:/// URL")
    return url


class ConfigurationError(Exception):
    """Settings could not be loaded; the message lists every bad setting, one per line."""


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]).upper() or "settings"
            lines.append(f"  {name}: {error['msg']}")
        raise ConfigurationError("invalid configuration:\n" + "\n".join(lines)) from None


@lru_cache
def get_settings() -> Settings:
    """Settings for a process entry point: a bad setting ends the process with a clear message."""
    try:
        return load_settings()
    except ConfigurationError as exc:
        sys.exit(f"crypteras: {exc}")
