"""One validated configuration for every process (API, worker, CLI), from env vars and `.env`."""

from __future__ import annotations

import sys
from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me-0123456789"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    AUTO = "auto"  # readable on a terminal, JSON otherwise
    CONSOLE = "console"
    JSON = "json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite+aiosqlite:///.crypteras/crypteras.db"
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    access_token_minutes: int = Field(default=15, ge=1, le=60)
    refresh_token_days: int = Field(default=7, ge=1, le=30)

    login_max_failures: int = Field(default=5, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    # Take the client IP from CF-Connecting-IP / X-Forwarded-For: true behind Cloudflare or a
    # proxy that sets them; false when the API is exposed directly (the headers are forgeable).
    trust_proxy_headers: bool = True

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    # Where the worker serves the Temporal SDK's Prometheus metrics; empty disables it.
    worker_metrics_address: str = "127.0.0.1:9464"

    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.AUTO

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
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

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, level: str) -> str:
        level = level.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> Self:
        secret = self.jwt_secret.get_secret_value()
        if self.environment is Environment.PRODUCTION and secret == DEV_JWT_SECRET:
            raise ValueError("JWT_SECRET must be set in production")
        if len(secret) < 32:
            raise ValueError("JWT_SECRET must be at least 32 characters")
        return self

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
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


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
