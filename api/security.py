"""Password hashing (Argon2id), JWT access tokens and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from adapters.settings import Settings

_hasher = PasswordHasher()  # Argon2id with the RFC 9106 low-memory parameters
# Verified against when the e-mail is unknown, so both paths take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0")

ACCESS_TOKEN_TYPE = "access"
_ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def create_access_token(settings: Settings, user_id: uuid.UUID, now: datetime) -> str:
    claims = {
        "sub": str(user_id),
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


def decode_access_token(settings: Settings, token: str) -> uuid.UUID:
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
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
        return uuid.UUID(claims["sub"])
    except ValueError:
        raise InvalidToken("invalid_token", "The access token is not valid.") from None


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def refresh_token_hash(token: str) -> str:
    """Tokens are high-entropy random strings, so a plain SHA-256 is the right digest to store."""
    return hashlib.sha256(token.encode()).hexdigest()
