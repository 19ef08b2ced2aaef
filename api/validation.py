"""Shared request field types: text that may be stored must be plain text."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, EmailStr

# C0 and C1 control characters. NUL is refused by PostgreSQL text columns (a 500 instead of a
# 422); the others are never meant in a name, an e-mail or a key and only hide things in logs.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _plain(value: str) -> str:
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters")
    return value


PlainStr = Annotated[str, AfterValidator(_plain)]
PlainEmail = Annotated[EmailStr, AfterValidator(_plain)]
