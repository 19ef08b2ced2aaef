"""Producing a report a user asked for (run by ReportWorkflow): the orders or fills of its
period read from the database, the file rendered off the event loop, stored with the report.
Idempotent: a report no longer pending is left as it is, so a retried attempt renders nothing
twice; rendering is pure, so an attempt cut short is simply done again."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.db.exports import count_orders, period_fills, period_orders
from adapters.db.models_bots import BotFillRecord, BotOrderRecord
from adapters.db.reports import ReportFormat, ReportStatus, ReportStore
from adapters.reports.csv_export import fills_csv, orders_csv
from adapters.reports.document import FillLine, OrderLine, Report
from adapters.reports.pdf import MAX_ORDERS, render_pdf


class FailedReport(BaseModel):
    report_id: uuid.UUID
    reason: str


class ReportActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn
    async def produce_report(self, report_id: uuid.UUID) -> None:
        async with self.sessions() as session:
            report = await ReportStore(session).by_id(report_id)
            if report is None:  # the request that asked may not have committed yet: retried
                raise ApplicationError(f"no report {report_id} yet", type="ReportNotFound")
            if report.status != ReportStatus.PENDING:
                return
            spec = Report.model_validate(report.spec)
            since, user_id = spec.period_from, report.user_id
            if report.format == ReportFormat.FILLS_CSV:
                fills = [fill_line(f) for f in await period_fills(session, user_id, since)]
                content = (await asyncio.to_thread(fills_csv, fills)).encode()
            elif report.format == ReportFormat.ORDERS_CSV:
                orders = [order_line(o, b) for o, b in await period_orders(session, user_id, since)]
                content = (await asyncio.to_thread(orders_csv, orders)).encode()
            else:
                newest = await period_orders(session, user_id, since, limit=MAX_ORDERS)
                spec = spec.model_copy(
                    update={
                        "orders": [order_line(o, b) for o, b in newest],
                        "orders_total": await count_orders(session, user_id, since),
                    }
                )
                content = await asyncio.to_thread(render_pdf, spec)
        async with self.sessions() as session:
            await ReportStore(session).finish(report_id, datetime.now(UTC), content=content)
            await session.commit()

    @activity.defn
    async def fail_report(self, failed: FailedReport) -> None:
        async with self.sessions() as session:
            await ReportStore(session).finish(
                failed.report_id, datetime.now(UTC), error=failed.reason
            )
            await session.commit()


def order_line(order: BotOrderRecord, bot: str) -> OrderLine:
    return OrderLine(
        created_at=order.created_at,
        bot=bot,
        strategy=order.strategy,
        symbol=order.symbol,
        side=order.side,
        type=order.type,
        status=order.status,
        quantity=order.quantity,
        filled_quantity=order.filled_quantity,
        price=order.price,
        average_price=order.average_price,
        quote_quantity=order.quote_quantity,
        fees={asset: Decimal(fee) for asset, fee in order.fees.items()},
        client_order_id=order.client_order_id,
        exchange_order_id=order.exchange_order_id,
    )


def fill_line(fill: BotFillRecord) -> FillLine:
    return FillLine(
        at=fill.at,
        symbol=fill.symbol,
        side=fill.side,
        price=fill.price,
        quantity=fill.quantity,
        fee=fill.fee,
        fee_asset=fill.fee_asset,
        trade_id=fill.trade_id,
        client_order_id=fill.client_order_id,
    )
