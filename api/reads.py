"""Reads for the calling user on hot routes: Core statements on one connection, no ORM session.

`CallerReadsDep` checks the access token (verified claims are cached, api/security.py) and
nothing else; each statement built by `owned_by_caller` then proves, in the same round trip as
the read itself, that the caller still exists and is not deleted. So a deleted account is
refused at once, as by `CurrentUser`, without a query of its own, a session, or a transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request
from sqlalchemy import ColumnElement, Row, Select, Table, bindparam, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.models import User
from api.deps import Services, bearer_token, invalid_token, verified_claims

AnyRow = Row[*tuple[Any, ...]]
AnySelect = Select[*tuple[Any, ...]]

_USERS: Table = User.__table__  # type: ignore[assignment]
_CALLER_GONE = "caller_deleted_at"


def owned_by_caller(table: Table, *order_by: ColumnElement[Any]) -> AnySelect:
    """`table`'s rows whose `user_id` is the caller's, joined from the caller's own row: no row
    at all means no such user, and the caller's `deleted_at` rides along on every row. Built
    once per route (the caller is a bound parameter), so SQLAlchemy's statement cache keys it
    once."""
    if not table.c[0].primary_key:
        raise ValueError(f"{table.name}: the first column must be the primary key")
    return (
        select(_USERS.c.deleted_at.label(_CALLER_GONE), *table.c)
        .select_from(_USERS.outerjoin(table, table.c.user_id == _USERS.c.id))
        .where(_USERS.c.id == bindparam("caller", type_=_USERS.c.id.type))
        .order_by(*order_by)
    )


@dataclass(frozen=True, slots=True)
class CallerReads:
    user_id: uuid.UUID
    engine: AsyncEngine

    async def owned(self, statement: AnySelect) -> Sequence[AnyRow]:
        """The rows of a statement from `owned_by_caller`; 401 when the caller is gone."""
        try:
            rows = await self._rows(statement)
        except DBAPIError as exc:
            # The read pool does not ping at checkout: a connection the server dropped fails
            # here once, is discarded with the rest of its generation, and the read is retried.
            if not exc.connection_invalidated:
                raise
            rows = await self._rows(statement)
        if not rows or getattr(rows[0], _CALLER_GONE) is not None:
            raise invalid_token()
        # Without owned rows the outer join gives one row with only NULLs from `table`, its
        # primary key (the first column after the caller's, see owned_by_caller) among them.
        return [row for row in rows if row[1] is not None]

    async def _rows(self, statement: AnySelect) -> Sequence[AnyRow]:
        async with self.engine.connect() as connection:
            result = await connection.execute(statement, {"caller": self.user_id})
            return result.all()


async def get_caller_reads(request: Request) -> CallerReads:
    """No sub-dependencies (FastAPI solves each again on every request): routes taking it
    declare `openapi_extra=BEARER_SECURITY`."""
    claims = verified_claims(request, bearer_token(request))
    structlog.contextvars.bind_contextvars(user_id=str(claims.user_id))
    services: Services = request.app.state.services
    return CallerReads(claims.user_id, services.reads)


CallerReadsDep = Annotated[CallerReads, Depends(get_caller_reads)]
