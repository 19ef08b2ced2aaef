"""The mail outbox: mails are rows written with the change they announce (so a rolled-back
change sends nothing). A sender delivers them; locally `crypteras outbox` prints them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.models import MailOutbox

log = structlog.get_logger(__name__)


class Outbox:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def write(self, to: str, subject: str, body: str, at: datetime) -> None:
        mail = MailOutbox(to=to, subject=subject, body=body, created_at=at)
        self.session.add(mail)
        await self.session.flush()
        # Never the body: it may hold a single-use token.
        log.info("mail written to the outbox", mail_id=str(mail.id), subject=subject)

    async def latest(self, limit: int, to: str | None = None) -> Sequence[MailOutbox]:
        query = select(MailOutbox).order_by(MailOutbox.created_at.desc()).limit(limit)
        if to is not None:
            query = query.where(MailOutbox.to == to)
        return (await self.session.scalars(query)).all()
