"""Activities over users' exchange keys: page through them, re-validate one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.credentials import CredentialService, VenueUnavailable
from adapters.db.repositories import CredentialRepository
from adapters.exchanges.factory import ExchangeFactory
from adapters.vault import Vault, VaultError
from domain.accounts import CredentialStatus


class CredentialPage(BaseModel):
    after: uuid.UUID | None = None
    limit: int = 100


class CredentialIds(BaseModel):
    ids: list[uuid.UUID]


class RevalidateCredential(BaseModel):
    credential_id: uuid.UUID


class Revalidation(BaseModel):
    credential_id: uuid.UUID
    status: CredentialStatus | None  # None: the credential was deleted meanwhile


class CredentialActivities:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], vault: Vault, exchanges: ExchangeFactory
    ) -> None:
        self.sessions = sessions
        self.vault = vault
        self.exchanges = exchanges

    @activity.defn
    async def list_credential_ids(self, page: CredentialPage) -> CredentialIds:
        async with self.sessions() as session:
            ids = await CredentialRepository(session).ids(after=page.after, limit=page.limit)
        return CredentialIds(ids=ids)

    @activity.defn
    async def revalidate_credential(self, request: RevalidateCredential) -> Revalidation:
        """Idempotent: asks the venue and records the verdict; running it twice records the
        same thing twice. A venue that cannot be asked is a retryable failure."""
        async with self.sessions() as session:
            service = CredentialService(session, self.vault, self.exchanges, retry=False)
            try:
                status = await service.revalidate(request.credential_id, datetime.now(UTC))
            except VenueUnavailable as exc:
                raise ApplicationError(str(exc), type="VenueUnavailable") from None
            except VaultError as exc:
                # A missing key version will not appear by retrying: someone must fix config.
                raise ApplicationError(str(exc), type="VaultError", non_retryable=True) from None
            await session.commit()
        return Revalidation(credential_id=request.credential_id, status=status)
