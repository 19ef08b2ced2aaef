"""Exchange API keys: saved after a real authenticated call, sealed, shown masked."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Path, Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from adapters.contexts import ContextRepository, tell_bots
from adapters.credentials import CredentialService, CredentialsRejected, Keys, VenueUnavailable
from adapters.db.models import ExchangeCredential
from adapters.db.repositories import AuditRepository, CredentialRepository
from adapters.exchanges.keys import key_problem
from adapters.temporal import TEMPORAL_CALL_ERRORS
from api.bots.workflow_calls import temporal_unavailable
from api.deps import (
    ClientInfoDep,
    CurrentUser,
    ExchangesDep,
    SessionDep,
    TemporalDep,
    VaultDep,
    utcnow,
)
from api.errors import ApiError, error_responses
from domain.accounts import AuditAction, CredentialStatus
from domain.market import Venue

log = structlog.get_logger(__name__)

router = APIRouter(
    prefix="/api/credentials", tags=["credentials"], responses=error_responses(401, 422, 500)
)

# Venues that take keys; the paper venue needs none and counts as configured (sending it gets
# its own refusal, `paper_needs_no_credentials`).
KeyedVenue = Annotated[
    Venue,
    WithJsonSchema({"type": "string", "enum": [Venue.BINANCE, Venue.MERCADO_BITCOIN]}),
    Field(description="binance or mercadobitcoin"),
]


class CredentialCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exchange: KeyedVenue
    api_key: str = Field(
        min_length=8,
        max_length=256,
        description="Binance: letters, digits, '-' and '_', up to 128; Mercado Bitcoin (API "
        "token id): printable ASCII without spaces",
    )
    api_secret: str = Field(min_length=8, max_length=256, description="As api_key")
    testnet: StrictBool = Field(default=False, description="Binance Spot testnet keys")

    @field_validator("api_key", "api_secret")
    @classmethod
    def _venue_format(cls, value: str, info: ValidationInfo) -> str:
        """The venue's key format, checked before anything is sent to the venue."""
        if any(ch.isspace() for ch in value):
            raise ValueError("must not contain spaces or line breaks (check the copy-paste)")
        venue = info.data.get("exchange")
        problem = key_problem(venue, info.field_name or "", value) if venue else None
        if problem is not None:
            raise ValueError(problem)
        return value


class CredentialPublic(BaseModel):
    exchange: Venue
    api_key: str = Field(description="Masked: only the last 4 characters are shown")
    testnet: bool
    status: CredentialStatus
    can_withdraw: bool | None = Field(description="None when the venue does not report it")
    warnings: list[str]
    last_error: str | None
    validated_at: datetime
    created_at: datetime


def credential_public(credential: ExchangeCredential) -> CredentialPublic:
    warnings = []
    if credential.can_withdraw:
        warnings.append(
            "withdrawal_permission: this key can withdraw funds; Crypteras never needs that, "
            "create a key without it"
        )
    return CredentialPublic(
        exchange=Venue(credential.exchange),
        api_key="••••" + credential.api_key_last4,
        testnet=credential.testnet,
        status=CredentialStatus(credential.status),
        can_withdraw=credential.can_withdraw,
        warnings=warnings,
        last_error=credential.last_error,
        validated_at=credential.validated_at,
        created_at=credential.created_at,
    )


@router.post(
    "", status_code=201, response_model=CredentialPublic, responses=error_responses(502, 503)
)
async def save_credentials(
    body: CredentialCreate,
    user: CurrentUser,
    session: SessionDep,
    vault: VaultDep,
    exchanges: ExchangesDep,
    client: ClientInfoDep,
) -> CredentialPublic:
    """Check the key with the venue (a balance read), then store it sealed, replacing any
    earlier key for that venue. Nothing is stored when the venue refuses it."""
    if body.exchange is Venue.PAPER:
        raise ApiError(
            422, "paper_needs_no_credentials", "The paper venue needs no keys: it is ready to use."
        )
    if body.testnet and body.exchange is not Venue.BINANCE:
        raise ApiError(422, "testnet_not_supported", "Only Binance has a testnet.")
    service = CredentialService(session, vault, exchanges)
    keys = Keys(body.api_key, body.api_secret, body.testnet)
    try:
        credential = await service.save(user.id, body.exchange, keys, utcnow())
    except CredentialsRejected as exc:
        raise ApiError(
            422,
            "credentials_rejected",
            f"{body.exchange.value} refused these keys: {exc}",
            {"exchange": body.exchange.value},
        ) from None
    except VenueUnavailable as exc:
        log.warning(
            "venue unavailable for a key check", exchange=body.exchange.value, error=str(exc)
        )
        raise ApiError(
            503,
            "exchange_unavailable",
            f"{body.exchange.value} could not be reached to check the keys; try again shortly.",
            {"exchange": body.exchange.value},
        ) from None
    await AuditRepository(session).record(
        AuditAction.CREDENTIALS_SAVED,
        user_id=user.id,
        ip=client.ip,
        user_agent=client.user_agent,
        at=utcnow(),
        exchange=body.exchange.value,
    )
    return credential_public(credential)


@router.get("", response_model=list[CredentialPublic])
async def list_credentials(user: CurrentUser, session: SessionDep) -> list[CredentialPublic]:
    return [credential_public(c) for c in await CredentialRepository(session).for_user(user.id)]


@router.delete("/{exchange}", status_code=204, responses=error_responses(404, 503))
async def delete_credentials(
    exchange: Annotated[Venue, Path()],
    user: CurrentUser,
    session: SessionDep,
    client: ClientInfoDep,
    temporal: TemporalDep,
) -> Response:
    """The key is deleted and the bots trading with it pause at once (`credentials`): they
    resume when you say so, once a key is saved again. Their open orders stay on the venue."""
    repository = CredentialRepository(session)
    credential = await repository.get(user.id, exchange.value)
    if credential is None:
        raise ApiError(404, "credentials_not_found", f"No keys are saved for {exchange.value}.")
    await repository.delete(credential)
    contexts = [
        c.id
        for c in await ContextRepository(session).for_user(user.id)
        if c.exchange == exchange.value
    ]
    try:  # before the commit: bots that cannot be told keep the key (503, the user retries)
        await tell_bots(temporal, session, contexts, "credentials_removed")
    except TEMPORAL_CALL_ERRORS:
        raise temporal_unavailable() from None
    await AuditRepository(session).record(
        AuditAction.CREDENTIALS_DELETED,
        user_id=user.id,
        ip=client.ip,
        user_agent=client.user_agent,
        at=utcnow(),
        exchange=exchange.value,
    )
    return Response(status_code=204)
