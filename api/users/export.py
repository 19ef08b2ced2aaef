"""The LGPD export (art. 18: access and portability): everything Crypteras holds about a person,
in the documented schema of docs/lgpd-export.md, and nothing internal (workflow bookkeeping,
dedupe keys) or secret (password hash, token hashes, sealed keys, mail bodies with one-time
links)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.contexts import ContextRepository
from adapters.db.models import MailOutbox, PaymentCustomer, PaymentEventRecord, User
from adapters.db.repositories import (
    AuditRepository,
    ConsentRepository,
    CredentialRepository,
    RefreshTokenRepository,
)
from api.contexts.endpoints import ContextPublic, context_public
from api.credentials.endpoints import CredentialPublic, credential_public
from api.legal.endpoints import ConsentPublic
from api.subscriptions.endpoints import SubscriptionSummary
from domain.subscriptions import PaymentProvider, SubscriptionState

SCHEMA_VERSION: Literal["1"] = "1"


class ProfileExport(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str
    created_at: datetime
    updated_at: datetime


class SessionExport(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    family_id: uuid.UUID = Field(description="One login; refreshed tokens share it")
    status: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    ip: str | None
    user_agent: str | None


class AuditExport(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    action: str
    ip: str | None
    user_agent: str | None
    details: dict[str, Any]
    at: datetime


class PaymentAccountExport(BaseModel):
    """The user's customer record at a payment provider, as we linked it."""

    model_config = ConfigDict(from_attributes=True)

    provider: PaymentProvider
    customer_id: str = Field(description="The provider's customer id (cus_..., payer id)")
    linked_at: datetime = Field(validation_alias="created_at")


class PaymentEventExport(BaseModel):
    """A provider webhook about the user (payments, invoices, subscription changes)."""

    model_config = ConfigDict(from_attributes=True)

    provider: PaymentProvider
    type: str = Field(description="The provider's event type, e.g. invoice.paid, payment")
    outcome: str = Field(description="What Crypteras did with it")
    received_at: datetime


class MailExport(BaseModel):
    """A mail sent to the user; the body is left out, it may hold a one-time link."""

    model_config = ConfigDict(from_attributes=True)

    subject: str
    created_at: datetime
    sent_at: datetime | None


class UserExport(BaseModel):
    """Everything Crypteras holds about the user (LGPD art. 18). Secrets are never included;
    exchange keys appear masked as in `GET /api/credentials`."""

    schema_version: Literal["1"] = SCHEMA_VERSION
    exported_at: datetime
    profile: ProfileExport
    consents: list[ConsentPublic]
    sessions: list[SessionExport]
    audit_trail: list[AuditExport] = Field(
        description="Security and account events: logins, changes, exports, plan changes"
    )
    subscription: SubscriptionSummary
    payment_accounts: list[PaymentAccountExport]
    payment_events: list[PaymentEventExport]
    exchange_credentials: list[CredentialPublic]
    trading_contexts: list[ContextPublic]
    mails: list[MailExport]


async def build_export(
    session: AsyncSession, user: User, subscription: SubscriptionState, now: datetime
) -> UserExport:
    """`subscription` as the database projection holds it (the export needs no Temporal)."""

    customers = select(PaymentCustomer).where(PaymentCustomer.user_id == user.id)
    events = select(PaymentEventRecord).where(PaymentEventRecord.user_id == user.id)
    mails = select(MailOutbox).where(MailOutbox.to == user.email)
    return UserExport(
        exported_at=now,
        profile=ProfileExport.model_validate(user),
        consents=[
            ConsentPublic.model_validate(r)
            for r in await ConsentRepository(session).history(user.id)
        ],
        sessions=[
            SessionExport.model_validate(t)
            for t in await RefreshTokenRepository(session).list_for_user(user.id)
        ],
        audit_trail=[
            AuditExport.model_validate(e)
            for e in await AuditRepository(session).list_for_user(user.id)
        ],
        subscription=SubscriptionSummary.of(subscription),
        payment_accounts=[
            PaymentAccountExport.model_validate(c)
            for c in await session.scalars(customers.order_by(PaymentCustomer.created_at))
        ],
        payment_events=[
            PaymentEventExport.model_validate(e)
            for e in await session.scalars(events.order_by(PaymentEventRecord.received_at))
        ],
        exchange_credentials=[
            credential_public(c) for c in await CredentialRepository(session).for_user(user.id)
        ],
        trading_contexts=[
            context_public(c) for c in await ContextRepository(session).for_user(user.id)
        ],
        mails=[
            MailExport.model_validate(m)
            for m in await session.scalars(mails.order_by(MailOutbox.created_at))
        ],
    )
