"""The dashboard's exports end to end: asked over HTTP, produced by the report workflow's
activity on the test workers, downloaded; the PDF read back holds the summary's numbers and
the orders, the CSVs read back are the orders and fills as stored, to the last decimal; only
MAX exports, only the owner downloads."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from pypdf import PdfReader
from sqlalchemy import select

from adapters.db.models_bots import BotFillRecord, BotOrderRecord
from adapters.db.reports import ReportFormat, ReportRecord, ReportStatus
from adapters.reports.csv_export import read_fills_csv, read_orders_csv
from domain.bots.orders import Strategy
from domain.market import OrderStatus
from domain.plans import Plan
from tests.api.bot_helpers import (
    Sessions,
    Trader,
    add_bot_row,
    add_context,
    add_order,
    set_plan,
    trader,
)
from tests.api.test_dashboard_summary import close_trades
from tests.conftest import assert_error

__all__ = ["trader"]  # the fixture

MakeTrader = Callable[[], Awaitable[Trader]]
NOW = datetime.now(UTC)


async def ready(api: httpx.AsyncClient, t: Trader, format: str) -> bytes:
    asked = await api.post("/api/dashboard/reports", json={"format": format}, headers=t.headers)
    assert asked.status_code == 202, asked.text
    report = asked.json()
    assert (report["format"], report["status"]) == (format, "pending")
    deadline = asyncio.get_running_loop().time() + 60
    while report["status"] == "pending":
        assert asyncio.get_running_loop().time() < deadline, report
        await asyncio.sleep(0.2)
        response = await api.get(f"/api/dashboard/reports/{report['id']}", headers=t.headers)
        report = response.json()
    assert report["status"] == "ready", report
    file = await api.get(f"/api/dashboard/reports/{report['id']}/file", headers=t.headers)
    assert file.status_code == 200, file.text
    assert file.headers["content-disposition"].startswith("attachment; filename=")
    return file.content


async def test_a_max_user_gets_the_pdf_and_the_csvs_of_their_own_history(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    t = await trader()
    await set_plan(sessions, t.id, Plan.MAX)
    context = await add_context(sessions, t.id)
    bot = await add_bot_row(sessions, t.id, context)
    for n in range(1, 6):
        await add_order(sessions, bot, n, status=OrderStatus.FILLED, at=NOW - timedelta(hours=n))
    await close_trades(
        sessions,
        t,
        bot,
        context,
        [("12.345678", Strategy.SMART, NOW - timedelta(days=1)), ("-2.5", Strategy.MANUAL, NOW)],
    )
    summary = (await api.get("/api/dashboard/summary", headers=t.headers)).json()

    pdf = PdfReader(io.BytesIO(await ready(api, t, "pdf")))
    text = " ".join(page.extract_text() for page in pdf.pages)
    assert f"{summary['realized_pnl']['BRL']} BRL" == "9.845678 BRL"
    assert "9.845678 BRL" in text
    assert f"{summary['total_balance']['BRL']} BRL" in text
    assert "12.345678" in text  # the smart strategy's realized profit
    async with sessions() as session:
        stored = list(
            await session.scalars(select(BotOrderRecord).where(BotOrderRecord.user_id == t.id))
        )
        fills = list(
            await session.scalars(select(BotFillRecord).where(BotFillRecord.user_id == t.id))
        )
    assert len(stored) == 7 and len(fills) == 7
    assert all(order.client_order_id in text for order in stored)

    orders = read_orders_csv((await ready(api, t, "orders_csv")).decode())
    assert {o.client_order_id: (o.quote_quantity, o.fees, o.status) for o in orders} == {
        o.client_order_id: (
            o.quote_quantity,
            {asset: Decimal(fee) for asset, fee in o.fees.items()},
            o.status,
        )
        for o in stored
    }
    read = read_fills_csv((await ready(api, t, "fills_csv")).decode())
    assert {(f.trade_id, f.price, f.quantity, f.fee) for f in read} == {
        (f.trade_id, f.price, f.quantity, f.fee) for f in fills
    }

    other = await trader()
    await set_plan(sessions, other.id, Plan.MAX)
    [mine] = (await _rows(sessions, t.id))[:1]
    response = await api.get(f"/api/dashboard/reports/{mine.id}/file", headers=other.headers)
    assert_error(response, 404, "report_not_found")


async def _rows(sessions: Sessions, user_id: uuid.UUID) -> list[ReportRecord]:
    async with sessions() as session:
        return list(
            await session.scalars(select(ReportRecord).where(ReportRecord.user_id == user_id))
        )


async def _pending(sessions: Sessions, user_id: uuid.UUID) -> uuid.UUID:
    """A report asked for and not made yet (no workflow behind it)."""
    async with sessions() as session:
        report = ReportRecord(
            user_id=user_id,
            format=ReportFormat.PDF,
            status=ReportStatus.PENDING,
            spec={},
            requested_at=NOW,
        )
        session.add(report)
        await session.commit()
        return report.id


async def test_exports_are_refused_below_max_and_bounded_while_reports_are_being_made(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    t = await trader()
    await set_plan(sessions, t.id, Plan.PRO)
    response = await api.post("/api/dashboard/reports", json={"format": "pdf"}, headers=t.headers)
    details: dict[str, Any] = assert_error(response, 403, "plan_feature")["details"]
    assert (details["feature"], details["unlocked_by"]) == ("pdf_export", "MAX")

    await set_plan(sessions, t.id, Plan.MAX)
    waiting = [await _pending(sessions, t.id) for _ in range(3)]
    response = await api.get(f"/api/dashboard/reports/{waiting[0]}/file", headers=t.headers)
    assert assert_error(response, 409, "report_not_ready")["details"] == {"status": "pending"}
    response = await api.post("/api/dashboard/reports", json={"format": "pdf"}, headers=t.headers)
    assert_error(response, 429, "too_many_reports")
    response = await api.post("/api/dashboard/reports", json={"format": "xlsx"}, headers=t.headers)
    assert response.status_code == 422
