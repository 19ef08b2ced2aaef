"""Password hashing (Argon2id), JWT access tokens and opaque refresh tokens."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from typing import Any, TypeVar

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from adapters.settings import Settings
from domain.accounts import password_problems

T = TypeVar("T")

_hasher = PasswordHasher()  # Argon2id with the RFC 9106 low-memory parameters
# Verified against when the e-mail is unknown, so both paths take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0")

ACCESS_TOKEN_TYPE = "access"
_ALGORITHM = "HS256"


# Argon2 and the password-strength check are CPU work: they run here, never on the event
# loop, at most one per core at a time (argon2 releases the GIL; more threads would only queue).
_cpu = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="password")


async def _off_loop(function: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_cpu, function, *args)


async def hash_password(password: str) -> str:
    return await _off_loop(_hasher.hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await _off_loop(_verify, password_hash, password)


async def check_new_password(password: str, *, email: str, name: str) -> list[str]:
    return await _off_loop(partial(password_problems, password, email=email, name=name))


def create_access_token(
    settings: Settings, user_id: uuid.UUID, now: datetime, session_id: uuid.UUID
) -> str:
    claims = {
        "sub": str(user_id),
        "sid": str(session_id),  # the refresh-token family: which login this token belongs to
        "type": ACCESS_TOKEN_TYPE,
        "iat": now,
        "exp": now + settings.access_token_ttl,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=_ALGORITHM)


class InvalidToken(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID | None  # None in tokens issued before sessions were named
    expires: float  # seconds since the epoch, as the `exp` claim


def decode_access_claims(settings: Settings, token: str, now: float | None = None) -> AccessClaims:
    """The verified claims of an access token. A token's signature and claims cannot change, so
    a verified one is remembered (keyed by the secret and the token) and only its expiry is
    checked again: the signature check and the JSON parsing were a tenth of an authenticated
    read. Refused tokens are not remembered. `now`: seconds since the epoch, for tests."""
    claims = _verified_claims(settings.jwt_secret.get_secret_value(), token)
    # PyJWT's rule, without leeway: expired from `exp` on.
    if claims.expires <= (time.time() if now is None else now):
        raise InvalidToken("token_expired", "The access token has expired.")
    return claims


@lru_cache(maxsize=4096)
def _verified_claims(secret: str, token: str) -> AccessClaims:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            options={"require": ["sub", "exp", "iat", "type"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token_expired", "The access token has expired.") from None
    except jwt.InvalidTokenError:
        raise InvalidToken("invalid_token", "The access token is not valid.") from None
    if claims["type"] != ACCESS_TOKEN_TYPE:
        raise InvalidToken("invalid_token", "The access token is not valid.")
    try:
        session = claims.get("sid")
        return AccessClaims(
            uuid.UUID(claims["sub"]),
            uuid.UUID(session) if session else None,
            float(claims["exp"]),
        )
    except (ValueError, TypeError, AttributeError):
        raise InvalidToken("invalid_token", "The access token is not valid.") from None


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def opaque_token_hash(token: str) -> str:
    """Tokens are high-entropy random strings, so a plain SHA-256 is the right digest to store."""
    return hashlib.sha256(token.encode()).hexdigest()
