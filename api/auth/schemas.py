from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema

from api.validation import Password, PlainEmail, PlainName, PlainStr, refuse_null
from domain.accounts import PASSWORD_MAX_LENGTH, normalise_email


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterRequest(_Strict):
    email: PlainEmail
    password: Password = Field(max_length=PASSWORD_MAX_LENGTH)
    name: PlainName = Field(min_length=1, max_length=120)
    terms_accepted: StrictBool = Field(json_schema_extra={"const": True})
    privacy_accepted: StrictBool = Field(json_schema_extra={"const": True})
    marketing_accepted: StrictBool = False

    @field_validator("email")
    @classmethod
    def _normalise(cls, email: str) -> str:
        return normalise_email(email)

    @field_validator("name")
    @classmethod
    def _not_blank(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("must not be blank")
        return name.strip()


class LoginRequest(_Strict):
    # Any string: a malformed e-mail simply fails like a wrong one, revealing nothing.
    email: PlainStr = Field(max_length=254)
    password: Password = Field(max_length=PASSWORD_MAX_LENGTH)

    @field_validator("email")
    @classmethod
    def _normalise(cls, email: str) -> str:
        email = normalise_email(email)
        if len(email) > 254:  # lower() can lengthen text: "İ" becomes two characters
            raise ValueError("must have at most 254 characters")
        return email


class RefreshRequest(_Strict):
    refresh_token: str = Field(min_length=1, max_length=256)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    pending_email: str | None = Field(
        default=None, description="A requested new e-mail, in use once verified."
    )
    name: str
    created_at: datetime


class RegisterResponse(UserPublic):
    subscription_workflow_id: str


def _one_change_with_its_proof(schema: JsonDict) -> None:
    """Something to change; a new e-mail or password comes with the current password."""
    schema["anyOf"] = [{"required": [field]} for field in ("name", "email", "new_password")]
    schema["dependentRequired"] = {
        "email": ["current_password"],
        "new_password": ["current_password"],
    }


class UpdateMeRequest(_Strict):
    """Fields left out stay as they are. Changing e-mail or password needs the current one; a
    new e-mail is used once the link mailed to it is followed."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_one_change_with_its_proof)

    name: PlainName | SkipJsonSchema[None] = Field(default=None, min_length=1, max_length=120)
    email: PlainEmail | SkipJsonSchema[None] = None
    new_password: Password | SkipJsonSchema[None] = Field(
        default=None, max_length=PASSWORD_MAX_LENGTH
    )
    current_password: Password | SkipJsonSchema[None] = Field(
        default=None, max_length=PASSWORD_MAX_LENGTH
    )

    _no_null = field_validator("*", mode="before")(refuse_null)

    @field_validator("email")
    @classmethod
    def _normalise(cls, email: str | None) -> str | None:
        return normalise_email(email) if email is not None else None


class VerifyEmailRequest(_Strict):
    token: PlainStr = Field(min_length=1, max_length=256)
