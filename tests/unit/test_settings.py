from __future__ import annotations

import pytest

from adapters.settings import DEV_JWT_SECRET, ConfigurationError, Settings, load_settings
from adapters.vault import new_key


def test_plain_urls_get_async_drivers() -> None:
    pg = Settings(_env_file=None, database_url="postgresql://u@h:5432/db")  # type: ignore[call-arg]
    assert pg.database_url == "postgresql+asyncpg://u@h:5432/db"
    lite = Settings(_env_file=None, database_url="sqlite:///x.db")  # type: ignore[call-arg]
    assert lite.database_url == "sqlite+aiosqlite:///x.db" and lite.is_sqlite


def test_malformed_settings_are_named_in_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    monkeypatch.setenv("ACCESS_TOKEN_MINUTES", "many")
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "DATABASE_URL: Value error, must be a postgresql:// or sqlite:/// URL" in message
    assert "ACCESS_TOKEN_MINUTES:" in message
    assert "LOG_LEVEL:" in message


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("JWT_SECRET", raising=False)
    with pytest.raises(ConfigurationError, match="JWT_SECRET must be set in production"):
        load_settings()
    monkeypatch.setenv("JWT_SECRET", "s" * 48)
    with pytest.raises(ConfigurationError, match="CREDENTIALS_KEYS must be set in production"):
        load_settings()
    monkeypatch.setenv("CREDENTIALS_KEYS", f"1:{new_key()}")
    assert load_settings().jwt_secret.get_secret_value() != DEV_JWT_SECRET


def test_malformed_credential_keys_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDENTIALS_KEYS", "1:c2hvcnQ")
    with pytest.raises(ConfigurationError, match="key version 1 must be 32 bytes"):
        load_settings()
    monkeypatch.setenv("CREDENTIALS_KEYS", f"1:{new_key()}")
    monkeypatch.setenv("CREDENTIALS_KEY_VERSION", "2")
    with pytest.raises(ConfigurationError, match="CREDENTIALS_KEY_VERSION 2 is not in"):
        load_settings()


def test_short_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", "short")
    with pytest.raises(ConfigurationError, match="at least 32 characters"):
        load_settings()


def test_secret_never_shows_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", "super-secret-value-" + "z" * 20)
    assert "super-secret-value" not in repr(load_settings())
