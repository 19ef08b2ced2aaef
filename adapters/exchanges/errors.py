"""The exchange error taxonomy: every venue failure is mapped to one of these at the adapter
boundary, and `retryable` tells callers (and Temporal retry policies) whether to try again."""

from __future__ import annotations

from typing import ClassVar


class ExchangeError(Exception):
    """A venue refused or failed a call. Non-retryable unless a subclass says otherwise."""

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, venue: str = "", code: str | int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.venue = venue
        self.code = code

    @property
    def type_name(self) -> str:
        """Stable name, used as the Temporal ApplicationError type."""
        return type(self).__name__


class AuthError(ExchangeError):
    """Bad key, bad signature, missing permission."""


class InsufficientBalance(ExchangeError):
    pass


class InvalidOrder(ExchangeError):
    """The order breaks a market rule or a parameter is wrong (filter failure, bad quantity)."""


class UnknownSymbol(InvalidOrder):
    pass


class OrderNotFound(ExchangeError):
    pass


class OrderNotCancelable(ExchangeError):
    """Cancel refused: the order is already final (filled, canceled)."""


class TemporaryError(ExchangeError):
    """Network failure, timeout, 5xx: worth retrying. For order creation the order may exist:
    look it up by client order id before placing it again."""

    retryable = True


class RateLimited(TemporaryError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ClockSkew(TemporaryError):
    """Our timestamp was outside the venue's window; resync the clock and retry."""


class CircuitOpen(TemporaryError):
    """We stopped calling this venue after consecutive failures; a probe will follow later."""


class RequestNotSent(ExchangeError):
    """Our request could not be encoded (a character HTTP cannot carry), so the venue was never
    asked: it says nothing about the venue's health and never trips its circuit breaker."""
