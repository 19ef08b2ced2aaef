"""Repositories: every query the services need, each scoped to what its caller may see."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.models import (
    AuditEvent,
    ConsentKind,
    ConsentRecord,
    ExchangeCredential,
    RefreshToken,
    RefreshTokenStatus,
    User,
)


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def get_by_email(self, email: str) -> User | None:
        return await self.session.scalar(select(User).where(User.email == email))

    async def get_by_pending_email_token(self, token_hash: str) -> User | None:
        return await self.session.scalar(
            select(User).where(User.pending_email_token_hash == token_hash)
        )

    async def add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        return user


class RefreshTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, token: RefreshToken) -> None:
        self.session.add(token)
        await self.session.flush()

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        return await self.session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        )

    async def mark_used(self, token_id: uuid.UUID, now: datetime) -> bool:
        """Atomically move an active token to rotated. False when another request got there
        first: the token was presented twice."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token_id, RefreshToken.status == RefreshTokenStatus.ACTIVE)
            .values(status=RefreshTokenStatus.ROTATED, used_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def revoke_family(self, family_id: uuid.UUID) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id)
            .values(status=RefreshTokenStatus.REVOKED)
            .execution_options(synchronize_session=False)
        )

    async def revoke_all(self, user_id: uuid.UUID, keep_family: uuid.UUID | None = None) -> None:
        """Every session of the user ends, but the one of `keep_family` when given."""
        query = update(RefreshToken).where(RefreshToken.user_id == user_id)
        if keep_family is not None:
            query = query.where(RefreshToken.family_id != keep_family)
        await self.session.execute(
            query.values(status=RefreshTokenStatus.REVOKED).execution_options(
                synchronize_session=False
            )
        )

    async def list_for_user(self, user_id: uuid.UUID) -> Sequence[RefreshToken]:
        result = await self.session.scalars(
            select(RefreshToken)
            .where(RefreshToken.user_id == user_id)
            .order_by(RefreshToken.created_at)
        )
        return result.all()


class ConsentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        user_id: uuid.UUID,
        kind: ConsentKind,
        granted: bool,
        *,
        document_version: str | None,
        ip: str | None,
        user_agent: str | None,
        at: datetime,
    ) -> ConsentRecord:
        record = ConsentRecord(
            user_id=user_id,
            kind=kind,
            granted=granted,
            document_version=document_version,
            ip=ip,
            user_agent=user_agent,
            created_at=at,
        )
        self.session.add(record)
        await self.session.flush()
        return record

    async def history(self, user_id: uuid.UUID) -> Sequence[ConsentRecord]:
        result = await self.session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.user_id == user_id)
            .order_by(ConsentRecord.created_at, ConsentRecord.id)
        )
        return result.all()

    async def current(self, user_id: uuid.UUID) -> dict[ConsentKind, ConsentRecord]:
        """The record in force per kind: the newest one."""
        return {ConsentKind(record.kind): record for record in await self.history(user_id)}


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        action: str,
        *,
        user_id: uuid.UUID | None,
        ip: str | None,
        user_agent: str | None,
        at: datetime,
        **details: Any,
    ) -> None:
        self.session.add(
            AuditEvent(
                action=action,
                user_id=user_id,
                ip=ip,
                user_agent=user_agent,
                details=details,
                at=at,
            )
        )
        await self.session.flush()

    async def list_for_user(self, user_id: uuid.UUID) -> Sequence[AuditEvent]:
        result = await self.session.scalars(
            select(AuditEvent).where(AuditEvent.user_id == user_id).order_by(AuditEvent.at)
        )
        return result.all()


class CredentialRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_user(self, user_id: uuid.UUID) -> Sequence[ExchangeCredential]:
        result = await self.session.scalars(
            select(ExchangeCredential)
            .where(ExchangeCredential.user_id == user_id)
            .order_by(ExchangeCredential.exchange)
        )
        return result.all()

    async def get(self, user_id: uuid.UUID, exchange: str) -> ExchangeCredential | None:
        return await self.session.scalar(
            select(ExchangeCredential).where(
                ExchangeCredential.user_id == user_id, ExchangeCredential.exchange == exchange
            )
        )

    async def by_id(self, credential_id: uuid.UUID) -> ExchangeCredential | None:
        return await self.session.get(ExchangeCredential, credential_id)

    async def ids(self, *, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
        """Every credential id in a stable order, a page at a time (for re-validation)."""
        query = select(ExchangeCredential.id).order_by(ExchangeCredential.id).limit(limit)
        if after is not None:
            query = query.where(ExchangeCredential.id > after)
        return list((await self.session.scalars(query)).all())

    async def add(self, credential: ExchangeCredential) -> None:
        self.session.add(credential)
        await self.session.flush()

    async def delete(self, credential: ExchangeCredential) -> None:
        await self.session.delete(credential)
        await self.session.flush()
