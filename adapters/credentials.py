"""Users' exchange keys: validated by a real authenticated call, sealed at rest, re-validated.

Shared by the API (saving) and the worker (daily re-validation, key rotation). Secrets are
opened only to build an adapter and never leave this module in clear.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.models import ExchangeCredential
from adapters.db.repositories import CredentialRepository
from adapters.exchanges.errors import AuthError, ExchangeError, RequestNotSent
from adapters.exchanges.factory import ExchangeFactory
from adapters.exchanges.keys import MalformedKey
from adapters.vault import Vault
from domain.accounts import CredentialStatus
from domain.market import AccountPermissions, Venue

log = structlog.get_logger(__name__)


class CredentialsRejected(Exception):
    """The venue refused the key (wrong key or secret, missing permission, IP not allowed)."""


class VenueUnavailable(Exception):
    """The venue could not be asked (down, rate limited, timing out): try again later."""


@dataclass(frozen=True)
class Keys:
    api_key: str
    api_secret: str
    testnet: bool = False


def _context(user_id: uuid.UUID, venue: str, field: str) -> str:
    return f"exchange-credential:{user_id}:{venue}:{field}"


async def check_keys(
    factory: ExchangeFactory, venue: Venue, keys: Keys, *, retry: bool = True
) -> AccountPermissions:
    """One authenticated read (balances, and permissions where the venue reports them).
    `retry=False` inside activities: their RetryPolicy retries, not the adapter."""
    try:
        exchange = factory.connect(
            venue, keys.api_key, keys.api_secret, testnet=keys.testnet, retry=retry
        )
    except MalformedKey as exc:  # refused before any network call
        raise CredentialsRejected(exc.message) from None
    try:
        return await exchange.permissions()
    except (AuthError, RequestNotSent) as exc:  # the venue's verdict, or a key HTTP cannot carry
        raise CredentialsRejected(exc.message) from None
    except ExchangeError as exc:
        # Anything else (an outage, Binance's firewall, an answer we do not understand) says
        # nothing about the key: never mark it invalid for that.
        raise VenueUnavailable(exc.message) from None
    finally:
        await exchange.aclose()


class CredentialService:
    def __init__(
        self, session: AsyncSession, vault: Vault, factory: ExchangeFactory, *, retry: bool = True
    ) -> None:
        self.repository = CredentialRepository(session)
        self.vault = vault
        self.factory = factory
        self.retry = retry

    def keys(self, credential: ExchangeCredential) -> Keys:
        return Keys(
            api_key=self.vault.open(
                credential.api_key_sealed,
                _context(credential.user_id, credential.exchange, "api_key"),
            ),
            api_secret=self.vault.open(
                credential.api_secret_sealed,
                _context(credential.user_id, credential.exchange, "api_secret"),
            ),
            testnet=credential.testnet,
        )

    async def save(
        self, user_id: uuid.UUID, venue: Venue, keys: Keys, now: datetime
    ) -> ExchangeCredential:
        """Validate against the venue, then store (replacing an earlier key for that venue).
        Nothing is stored when the venue refuses or cannot be asked."""
        permissions = await check_keys(self.factory, venue, keys, retry=self.retry)
        existing = await self.repository.get(user_id, venue.value)
        credential = existing or ExchangeCredential(
            user_id=user_id, exchange=venue.value, created_at=now
        )
        credential.api_key_sealed = self.vault.seal(
            keys.api_key, _context(user_id, venue.value, "api_key")
        )
        credential.api_secret_sealed = self.vault.seal(
            keys.api_secret, _context(user_id, venue.value, "api_secret")
        )
        credential.key_version = self.vault.active_version
        credential.api_key_last4 = keys.api_key[-4:]
        credential.testnet = keys.testnet
        credential.status = CredentialStatus.VALID
        credential.can_withdraw = permissions.can_withdraw
        credential.last_error = None
        credential.validated_at = now
        credential.updated_at = now
        if existing is None:
            await self.repository.add(credential)
        await self.repository.session.flush()
        return credential

    async def revalidate(self, credential_id: uuid.UUID, now: datetime) -> CredentialStatus | None:
        """Ask the venue again and record the verdict. None when the credential is gone; raises
        VenueUnavailable (retryable) when the venue cannot be asked, recording nothing."""
        credential = await self.repository.by_id(credential_id)
        if credential is None:
            return None
        try:
            permissions = await check_keys(
                self.factory, Venue(credential.exchange), self.keys(credential), retry=self.retry
            )
        except CredentialsRejected as exc:
            credential.status = CredentialStatus.INVALID
            credential.last_error = str(exc)[:300]
            log.warning("credential refused by venue", exchange=credential.exchange)
        else:
            credential.status = CredentialStatus.VALID
            credential.can_withdraw = permissions.can_withdraw
            credential.last_error = None
        credential.validated_at = now
        credential.updated_at = now
        await self.repository.session.flush()
        return CredentialStatus(credential.status)


async def reseal_all(sessions: async_sessionmaker[AsyncSession], vault: Vault) -> int:
    """Key rotation: re-seal every credential under the active key version, one transaction a
    credential so an interruption loses nothing; returns how many changed."""
    changed, after = 0, None
    while True:
        async with sessions() as session:
            ids = await CredentialRepository(session).ids(after=after, limit=100)
        if not ids:
            return changed
        for credential_id in ids:
            async with sessions() as session:
                credential = await CredentialRepository(session).by_id(credential_id)
                if credential is None or credential.key_version == vault.active_version:
                    continue
                for field in ("api_key", "api_secret"):
                    attribute = f"{field}_sealed"
                    context = _context(credential.user_id, credential.exchange, field)
                    setattr(
                        credential, attribute, vault.reseal(getattr(credential, attribute), context)
                    )
                credential.key_version = vault.active_version
                await session.commit()
                changed += 1
        after = ids[-1]
