"""Plans a user can be on. Limits and prices arrive with the subscriptions work; FREE is the
plan of every new account."""

from enum import StrEnum


class Plan(StrEnum):
    FREE = "FREE"
    PRO = "PRO"
    MAX = "MAX"


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"  # the account was deleted
