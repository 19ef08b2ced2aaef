"""Account rules: password policy, e-mail normalisation, consents required to register."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from zxcvbn import zxcvbn

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128
PRODUCT_NAMES = ("crypteras",)
# zxcvbn's scale: 3 is "safely unguessable" (about 10^8 guesses and more) against throttled
# online guessing and a slow hash offline.
_MIN_SCORE = 3
# zxcvbn's own bound: past it the check is slow, and 72 characters are plenty to judge.
_JUDGED_LENGTH = 72


def normalise_email(email: str) -> str:
    """E-mails compare case-insensitively; surrounding blanks are never meant."""
    return email.strip().lower()


def password_problems(password: str, *, email: str = "", name: str = "") -> list[str]:
    """Everything wrong with a proposed password, as short sentences (empty when acceptable).
    Strength is judged by zxcvbn: its lists of breached passwords, common words and names,
    and its patterns (repeats, sequences, keyboard walks, dates)."""
    problems = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(f"must have at least {PASSWORD_MIN_LENGTH} characters")
    if len(password) > PASSWORD_MAX_LENGTH:
        problems.append(f"must have at most {PASSWORD_MAX_LENGTH} characters")
    lowered = password.lower()
    personal = [
        part
        for part in (normalise_email(email).split("@")[0], *name.lower().split())
        if len(part) >= 4
    ]
    if any(part in lowered for part in personal):
        problems.append("must not contain your e-mail or name")
    if any(product in lowered for product in PRODUCT_NAMES):
        problems.append("must not contain the product name")
    if not password:
        return problems  # zxcvbn fails on an empty string (IndexError)
    verdict = zxcvbn(password[:_JUDGED_LENGTH], user_inputs=[*PRODUCT_NAMES, *personal])
    if verdict["score"] < _MIN_SCORE:
        reasons = [_REASONS.get(_kind(match), "") for match in verdict["sequence"]]
        found = [reason for reason in dict.fromkeys(reasons) if reason]
        problems.extend(found or ([] if problems else ["is too easy to guess"]))
    return list(dict.fromkeys(problems))


_REASONS = {
    "common password": "is a common password (found in breached-password lists)",
    "word": "is made of common words or names",
    "repeat": "is a repeated pattern",
    "sequence": "is a sequence like abcd or 1234",
    "spatial": "is a keyboard pattern like qwerty",
    "date": "contains a date or year",
}


def _kind(match: Mapping[str, object]) -> str:
    pattern = match["pattern"]
    if pattern == "dictionary":
        # Personal and product words are reported by the rules above.
        source = match.get("dictionary_name")
        return {"passwords": "common password", "user_inputs": ""}.get(str(source), "word")
    if pattern == "regex":  # zxcvbn's only regex is a recent year
        return "date"
    return str(pattern)


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
    EMAIL_CHANGE_REQUESTED = "email_change_requested"
    EMAIL_VERIFIED = "email_verified"
    CONSENT_CHANGED = "consent_changed"
    DATA_EXPORTED = "data_exported"
    ACCOUNT_DELETED = "account_deleted"
    CREDENTIALS_SAVED = "credentials_saved"
    CREDENTIALS_DELETED = "credentials_deleted"
    SUBSCRIPTION_CHANGED = "subscription_changed"
    SUBSCRIPTION_ALERT = "subscription_alert"  # a provider command keeps failing: support acts
    BOT_NOTICE = "bot_notice"  # a bot tells its user something (circuit breaker, refused key)


class CredentialStatus(StrEnum):
    VALID = "valid"
    INVALID = "invalid"  # the venue refused the key at the last validation
