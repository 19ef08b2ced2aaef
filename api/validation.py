"""Shared request field types: text that may be stored must be plain text."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, EmailStr, Field
from pydantic.config import JsonDict

# C0 and C1 control characters. NUL is refused by PostgreSQL text columns (a 500 instead of a
# 422); the others are never meant in a name, an e-mail or a key and only hide things in logs.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Lone UTF-16 surrogates (JSON's "\udfff") have no UTF-8 form: the database and the password
# hasher cannot take them.
SURROGATES = re.compile(r"[\ud800-\udfff]")


def _encodable(value: str) -> str:
    if SURROGATES.search(value):
        raise ValueError("must not contain unpaired surrogates (text that is not Unicode)")
    return value


def _plain(value: str) -> str:
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters")
    return _encodable(value)


# The same rules in the OpenAPI document, so clients (and fuzzers) know them before sending.
_PLAIN = r"[^\x00-\x1f\x7f-\x9f]"
_PLAIN_PATTERN = rf"^{_PLAIN}*$"
_NAME_PATTERN = rf"^{_PLAIN}*[^\s\x00-\x1f\x7f-\x9f]{_PLAIN}*$"  # not only spaces

PlainStr = Annotated[
    str, AfterValidator(_plain), Field(json_schema_extra={"pattern": _PLAIN_PATTERN})
]
PlainEmail = Annotated[
    EmailStr, AfterValidator(_plain), Field(json_schema_extra={"pattern": _PLAIN_PATTERN})
]
PlainName = Annotated[
    str, AfterValidator(_plain), Field(json_schema_extra={"pattern": _NAME_PATTERN})
]


# Any text that can be hashed: passwords may hold every character but lone surrogates.
Password = Annotated[str, AfterValidator(_encodable)]


def refuse_null(value: object) -> object:
    """A `mode="before"` field validator of a partial update, whose schema has no nulls: a field
    is left out, never sent as null."""
    if value is None:
        raise ValueError("leave the field out rather than sending null")
    return value


def require_one_property(schema: JsonDict) -> None:
    """`json_schema_extra` of a partial update: an empty object changes nothing, and is refused."""
    schema["minProperties"] = 1
