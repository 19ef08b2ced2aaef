"""Account rules: password policy, e-mail normalisation, consents required to register."""

from __future__ import annotations

import re
from enum import StrEnum

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128

# The most used passwords that satisfy the length rule; refused outright.
_COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "12345678910",
        "123456789a",
        "qwertyuiop",
        "password123",
        "password1234",
        "senha12345",
        "senha123456",
        "iloveyou123",
        "abcdefghij",
        "abc1234567",
        "qwerty1234",
        "1q2w3e4r5t",
        "1qaz2wsx3edc",
        "admin12345",
        "bitcoin123",
        "bitcoin1234",
        "crypteras123",
    }
)


def normalise_email(email: str) -> str:
    """E-mails compare case-insensitively; surrounding blanks are never meant."""
    return email.strip().lower()


def password_problems(password: str, *, email: str = "", name: str = "") -> list[str]:
    """Everything wrong with a proposed password, as short sentences (empty when acceptable)."""
    problems = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(f"must have at least {PASSWORD_MIN_LENGTH} characters")
    if len(password) > PASSWORD_MAX_LENGTH:
        problems.append(f"must have at most {PASSWORD_MAX_LENGTH} characters")
    if not re.search(r"[A-Za-z]", password) or not re.search(r"[^A-Za-z]", password):
        problems.append("must mix letters with digits or symbols")
    lowered = password.lower()
    if lowered in _COMMON_PASSWORDS or len(set(password)) < 4:
        problems.append("is too common or repetitive")
    local_part = normalise_email(email).split("@")[0]
    personal = [part for part in (local_part, name.strip().lower()) if len(part) >= 4]
    if any(part in lowered for part in personal):
        problems.append("must not contain your e-mail or name")
    return problems


class AuditAction(StrEnum):
    REGISTERED = "register"
    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    LOGIN_THROTTLED = "login_throttled"
    TOKEN_REFRESHED = "token_refreshed"
    REFRESH_REUSE = "refresh_token_reuse"
    LOGOUT = "logout"
    PROFILE_UPDATED = "profile_updated"
    PASSWORD_CHANGED = "password_changed"
    CONSENT_CHANGED = "consent_changed"
    DATA_EXPORTED = "data_exported"
    ACCOUNT_DELETED = "account_deleted"
    CREDENTIALS_SAVED = "credentials_saved"
    CREDENTIALS_DELETED = "credentials_deleted"
    SUBSCRIPTION_CHANGED = "subscription_changed"


class CredentialStatus(StrEnum):
    VALID = "valid"
    INVALID = "invalid"  # the venue refused the key at the last validation
