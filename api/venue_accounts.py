"""The caller's account on a venue: their paper account, or their saved keys' account."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from adapters.credentials import CredentialService
from adapters.db.repositories import CredentialRepository
from adapters.exchanges.base import Exchange
from adapters.exchanges.errors import ExchangeError
from adapters.exchanges.factory import ExchangeFactory
from adapters.exchanges.keys import MalformedKey
from adapters.vault import Vault
from api.errors import ApiError
from domain.market import Venue


async def account_exchange(
    session: AsyncSession,
    vault: Vault,
    exchanges: ExchangeFactory,
    user_id: uuid.UUID,
    venue: Venue,
) -> Exchange:
    """An adapter on the user's `venue` account (the caller closes it); 409
    credentials_missing without saved keys, credentials_rejected for keys that cannot be the
    venue's."""
    if venue is Venue.PAPER:
        return exchanges.connect(venue, account=str(user_id))
    credential = await CredentialRepository(session).get(user_id, venue.value)
    if credential is None:
        raise ApiError(
            409,
            "credentials_missing",
            f"Save your {venue.value} API keys first (POST /api/credentials).",
            {"exchange": venue.value},
        )
    keys = CredentialService(session, vault, exchanges).keys(credential)
    try:
        return exchanges.connect(venue, keys.api_key, keys.api_secret, testnet=keys.testnet)
    except MalformedKey as exc:
        raise keys_rejected(venue, exc) from None


def keys_rejected(venue: Venue, exc: ExchangeError) -> ApiError:
    return ApiError(
        409,
        "credentials_rejected",
        f"{venue.value} refused your API keys: {exc.message}. Save working keys first.",
        {"exchange": venue.value},
    )
