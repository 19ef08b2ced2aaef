"""Verified access-token claims are remembered (issue 9: the signature check was a tenth of an
authenticated read), which must not make a token outlive its expiry or its secret."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from adapters.settings import Settings
from api.security import InvalidToken, _verified_claims, create_access_token, decode_access_claims


def _settings(secret: str) -> Settings:
    return Settings(_env_file=None, jwt_secret=secret)  # type: ignore[call-arg, arg-type]


def _token(settings: Settings) -> str:
    return create_access_token(settings, uuid.uuid4(), datetime.now(UTC), uuid.uuid4())


def test_a_remembered_token_is_not_checked_again_until_it_expires() -> None:
    settings = _settings("cache-test-secret-" + "a" * 32)
    token = _token(settings)
    claims = decode_access_claims(settings, token)
    hits = _verified_claims.cache_info().hits
    assert decode_access_claims(settings, token, now=claims.expires - 1) == claims
    assert _verified_claims.cache_info().hits == hits + 1
    with pytest.raises(InvalidToken) as expired:
        decode_access_claims(settings, token, now=claims.expires)
    assert expired.value.code == "token_expired"


def test_a_remembered_token_is_refused_under_another_secret() -> None:
    issued_under = _settings("cache-test-secret-" + "b" * 32)
    token = _token(issued_under)
    decode_access_claims(issued_under, token)
    with pytest.raises(InvalidToken) as refused:
        decode_access_claims(_settings("cache-test-secret-" + "c" * 32), token)
    assert refused.value.code == "invalid_token"


def test_a_refused_token_is_not_remembered() -> None:
    settings = _settings("cache-test-secret-" + "d" * 32)
    past = datetime.now(UTC) - settings.access_token_ttl - timedelta(minutes=1)
    token = create_access_token(settings, uuid.uuid4(), past, uuid.uuid4())
    before = _verified_claims.cache_info()
    for _ in range(2):
        with pytest.raises(InvalidToken) as expired:
            decode_access_claims(settings, token)
        assert expired.value.code == "token_expired"
    after = _verified_claims.cache_info()
    # Both calls checked the signature afresh, and nothing was kept.
    assert (after.misses - before.misses, after.hits - before.hits) == (2, 0)
    assert after.currsize == before.currsize
