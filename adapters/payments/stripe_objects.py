"""The parts of Stripe objects we read, as pydantic models. An object that does not fit them
(a string where Stripe sends a number, a period end past any calendar) raises
`UnreadablePayload` instead of failing somewhere further in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictBool, StringConstraints
from pydantic import ValidationError as _ValidationError

from adapters.payments.models import UnreadablePayload

# Stripe ids (evt_, sub_, cus_, price_...): they are stored in columns of 100-120 characters.
StripeId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,100}$")]
EventType = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.]{1,80}$")]
# Unix seconds up to 2106: a datetime, and a workflow adding grace periods to it, cope.
MAX_UNIX_SECONDS = 2**32 - 1


def _unix_seconds(value: Any) -> datetime:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("unix seconds must be an integer")
    if not 0 <= value <= MAX_UNIX_SECONDS:
        raise ValueError("unix seconds out of range")
    return datetime.fromtimestamp(value, UTC)


UnixTime = Annotated[datetime, BeforeValidator(_unix_seconds)]
Metadata = dict[str, str]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Ref(_Model):
    """An expanded object where Stripe usually sends the id."""

    id: StripeId


def _id(value: str | _Ref | None) -> str | None:
    return value.id if isinstance(value, _Ref) else value


class _Price(_Model):
    id: StripeId


class _Item(_Model):
    current_period_end: UnixTime | None = None
    price: _Price | None = None


class _Items(_Model):
    data: list[_Item] = []


class StripeSubscription(_Model):
    id: StripeId
    status: str = ""
    customer: StripeId | _Ref | None = None
    metadata: Metadata | None = None
    items: _Items | None = None
    # Before API 2025-03-31 (basil) the period was top-level; since then it is on the items.
    current_period_end: UnixTime | None = None
    cancel_at_period_end: StrictBool = False

    @property
    def customer_id(self) -> str | None:
        return _id(self.customer)

    @property
    def period_end(self) -> datetime | None:
        ends = [i.current_period_end for i in self.item_list if i.current_period_end is not None]
        return self.current_period_end or (min(ends) if ends else None)

    @property
    def price_ids(self) -> list[str]:
        return [i.price.id for i in self.item_list if i.price is not None]

    @property
    def item_list(self) -> list[_Item]:
        return self.items.data if self.items else []


class StripeCheckoutSession(_Model):
    mode: str | None = None
    subscription: StripeId | _Ref | None = None
    client_reference_id: str | None = None
    customer: StripeId | _Ref | None = None
    metadata: Metadata | None = None

    @property
    def subscription_id(self) -> str | None:
        return _id(self.subscription)

    @property
    def customer_id(self) -> str | None:
        return _id(self.customer)


class _SubscriptionDetails(_Model):
    subscription: StripeId | _Ref | None = None
    metadata: Metadata | None = None


class _Parent(_Model):
    subscription_details: _SubscriptionDetails | None = None


class _Period(_Model):
    end: UnixTime | None = None


class _Line(_Model):
    period: _Period | None = None


class _Lines(_Model):
    data: list[_Line] = []


class StripeInvoice(_Model):
    customer: StripeId | _Ref | None = None
    subscription: StripeId | _Ref | None = None  # before basil
    subscription_details: _SubscriptionDetails | None = None  # before basil
    parent: _Parent | None = None  # since basil
    lines: _Lines | None = None

    @property
    def customer_id(self) -> str | None:
        return _id(self.customer)

    @property
    def details(self) -> _SubscriptionDetails:
        from_parent = self.parent.subscription_details if self.parent else None
        return from_parent or self.subscription_details or _SubscriptionDetails()

    @property
    def subscription_id(self) -> str | None:
        return _id(self.subscription) or _id(self.details.subscription)

    @property
    def metadata(self) -> Metadata:
        return self.details.metadata or {}

    @property
    def period_end(self) -> datetime | None:
        ends = [
            line.period.end
            for line in (self.lines.data if self.lines else [])
            if line.period is not None and line.period.end is not None
        ]
        return max(ends) if ends else None


_M = TypeVar("_M", bound=BaseModel)


def read(model: type[_M], obj: Any, what: str) -> _M:
    """`obj` as `model`, or UnreadablePayload naming `what`."""
    try:
        return model.model_validate(obj)
    except _ValidationError:
        raise UnreadablePayload(what) from None


class _EventData(_Model):
    object: dict[str, Any]


class StripeEventEnvelope(_Model):
    """What makes a body a Stripe event we can store and acknowledge."""

    id: StripeId
    object: Literal["event"]
    type: EventType
    created: UnixTime | None = None
    data: _EventData
