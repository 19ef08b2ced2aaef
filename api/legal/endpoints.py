"""LGPD: legal documents and the user's consents."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator
from pydantic.json_schema import SkipJsonSchema

from adapters.db.models import ConsentKind
from adapters.db.repositories import AuditRepository, ConsentRepository
from api.deps import ClientInfoDep, CurrentUser, SessionDep, utcnow
from api.errors import ApiError, error_responses
from api.legal.documents import CURRENT_VERSION, PRIVACY, TERMS, LegalDocument
from api.validation import refuse_null, require_one_property
from domain.accounts import AuditAction

router = APIRouter(prefix="/api/legal", tags=["legal"], responses=error_responses(422, 500))


class DocumentPublic(BaseModel):
    kind: ConsentKind
    title: str
    version: str
    effective_date: date
    content: str
    content_type: str = "text/markdown"


class ConsentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: ConsentKind
    granted: bool
    document_version: str | None
    ip: str | None
    user_agent: str | None
    created_at: datetime


class ConsentsPublic(BaseModel):
    current: dict[ConsentKind, ConsentPublic]
    history: list[ConsentPublic]


class ConsentUpdate(BaseModel):
    """Marketing can be granted or revoked at any time; terms and privacy can only be
    (re-)accepted, e.g. after a new version. Revoking them means deleting the account."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=require_one_property)

    marketing_accepted: StrictBool | SkipJsonSchema[None] = None
    terms_accepted: StrictBool | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra={"const": True}
    )
    privacy_accepted: StrictBool | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra={"const": True}
    )

    _no_null = field_validator("*", mode="before")(refuse_null)


def _public(document: LegalDocument) -> DocumentPublic:
    return DocumentPublic(
        kind=document.kind,
        title=document.title,
        version=document.version,
        effective_date=document.effective_date,
        content=document.content,
    )


@router.get("/terms", response_model=DocumentPublic)
async def terms() -> DocumentPublic:
    return _public(TERMS)


@router.get("/privacy", response_model=DocumentPublic)
async def privacy() -> DocumentPublic:
    return _public(PRIVACY)


async def _consents(consents: ConsentRepository, user_id: uuid.UUID) -> ConsentsPublic:
    history = await consents.history(user_id)
    return ConsentsPublic(
        current={ConsentKind(r.kind): ConsentPublic.model_validate(r) for r in history},
        history=[ConsentPublic.model_validate(r) for r in history],
    )


@router.get("/consents", response_model=ConsentsPublic, responses=error_responses(401))
async def read_consents(user: CurrentUser, session: SessionDep) -> ConsentsPublic:
    return await _consents(ConsentRepository(session), user.id)


@router.post("/consents", response_model=ConsentsPublic, responses=error_responses(401))
async def change_consents(
    update: ConsentUpdate, user: CurrentUser, session: SessionDep, client: ClientInfoDep
) -> ConsentsPublic:
    wanted = {
        kind: value
        for kind, value in (
            (ConsentKind.MARKETING, update.marketing_accepted),
            (ConsentKind.TERMS, update.terms_accepted),
            (ConsentKind.PRIVACY, update.privacy_accepted),
        )
        if value is not None
    }
    if not wanted:
        raise ApiError(422, "nothing_to_update", "Send at least one consent to change.")
    refused = sorted(
        f"{k}_accepted" for k, v in wanted.items() if k != ConsentKind.MARKETING and not v
    )
    if refused:
        raise ApiError(
            422,
            "consent_required",
            "Terms of use and privacy policy cannot be revoked while the account exists; "
            "delete the account instead (DELETE /api/users/me).",
            {"fields": refused},
        )
    consents = ConsentRepository(session)
    current = await consents.current(user.id)
    now = utcnow()
    for kind, granted in wanted.items():
        record = current.get(kind)
        if (
            record
            and record.granted == granted
            and record.document_version == CURRENT_VERSION[kind]
        ):
            continue  # nothing changes: keep the history free of repeats
        await consents.record(
            user.id,
            kind,
            granted,
            document_version=CURRENT_VERSION[kind],
            ip=client.ip,
            user_agent=client.user_agent,
            at=now,
        )
        await AuditRepository(session).record(
            AuditAction.CONSENT_CHANGED,
            user_id=user.id,
            ip=client.ip,
            user_agent=client.user_agent,
            at=now,
            kind=kind.value,
            granted=granted,
        )
    return await _consents(consents, user.id)
