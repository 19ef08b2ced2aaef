"""The dashboard's exports (MAX): `POST /api/dashboard/reports` asks for a PDF report or the
CSV of the orders or of the fills; a Temporal workflow produces it (`workflows/reports.py`),
`GET /api/dashboard/reports/{id}` tells whether it is ready and `.../file` downloads it. The
request computes only what the summary and performance already do (cached); the orders are
read and the file rendered by the activity, so a long history never holds up a request."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from adapters.db.models import User
from adapters.db.reports import ReportFormat, ReportRecord, ReportStatus, ReportStore
from adapters.exchanges.prices import MarketPrices
from adapters.reports.document import EquityPoint, EquitySeries, Report, StrategyRow, SummaryLine
from api.bots.workflow_calls import start_job
from api.dashboard.performance import read_curves
from api.dashboard.plans import Window, plan_window, require
from api.dashboard.summary import Summary, summarise
from api.deps import CurrentUser, PricesDep, SessionDep, TemporalDep
from api.errors import ApiError, error_responses
from domain.analytics import Period
from domain.plans import Feature
from workflows.reports import ReportWorkflow, report_workflow_id

router = APIRouter(
    prefix="/api/dashboard/reports", tags=["dashboard"], responses=error_responses(401, 422, 500)
)

MAX_PENDING = 3  # reports one user may have in the making at once
_MEDIA = {
    ReportFormat.PDF: ("application/pdf", "pdf"),
    ReportFormat.ORDERS_CSV: ("text/csv; charset=utf-8", "csv"),
    ReportFormat.FILLS_CSV: ("text/csv; charset=utf-8", "csv"),
}


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: ReportFormat


class ReportOut(BaseModel):
    id: uuid.UUID
    format: ReportFormat
    status: ReportStatus
    requested_at: datetime
    ready_at: datetime | None
    error: str | None = Field(description="why it could not be produced (status failed)")

    @classmethod
    def of(cls, row: ReportRecord) -> ReportOut:
        return cls.model_validate(row, from_attributes=True)


@router.post(
    "", status_code=202, response_model=ReportOut, responses=error_responses(403, 429, 503)
)
async def request_report(
    body: ReportRequest,
    user: CurrentUser,
    session: SessionDep,
    prices: PricesDep,
    temporal: TemporalDep,
) -> ReportOut:
    window = await plan_window(session, user)
    require(window.plan, Feature.PDF_EXPORT, "exports")
    store = ReportStore(session)
    if await store.pending(user.id) >= MAX_PENDING:
        raise ApiError(
            429,
            "too_many_reports",
            f"{MAX_PENDING} reports are being made; fetch them before asking for more.",
            {"pending": MAX_PENDING},
        )
    report = ReportRecord(
        id=uuid.uuid4(),
        user_id=user.id,
        format=body.format,
        status=ReportStatus.PENDING,
        spec=(await _spec(session, user, window, prices)).model_dump(mode="json"),
        requested_at=window.now,
    )
    store.add(report)
    await session.flush()  # committed when the route returns; the activity waits for it
    await start_job(temporal, ReportWorkflow.run, report.id, report_workflow_id(report.id))
    return ReportOut.of(report)


@router.get("/{report_id}", response_model=ReportOut, responses=error_responses(404))
async def report_status(report_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> ReportOut:
    return ReportOut.of(await _owned(session, user, report_id))


@router.get(
    "/{report_id}/file",
    responses={
        200: {"content": {"application/pdf": {}, "text/csv": {}}, "description": "the file"},
        **error_responses(404, 409),
    },
)
async def report_file(report_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    report = await _owned(session, user, report_id)
    if report.status != ReportStatus.READY or report.content is None:
        raise ApiError(
            409,
            "report_not_ready",
            "The report is not ready yet."
            if report.status == ReportStatus.PENDING
            else f"The report could not be made: {report.error}",
            {"status": ReportStatus(report.status).value},
        )
    kind = ReportFormat(report.format)
    media, extension = _MEDIA[kind]
    name = f"crypteras-{kind.value.replace('_', '-')}-{report.requested_at:%Y%m%d-%H%M}"
    return Response(
        report.content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}.{extension}"'},
    )


async def _owned(session: SessionDep, user: User, report_id: uuid.UUID) -> ReportRecord:
    report = await ReportStore(session).get(user.id, report_id)
    if report is None:
        raise ApiError(404, "report_not_found", "No such report.")
    return report


async def _spec(session: SessionDep, user: User, window: Window, prices: MarketPrices) -> Report:
    """Everything the report shows but the orders (the activity reads those)."""
    summary = await summarise(session, user, window, prices)
    curves = await read_curves(session, user, window, Period.DAY)
    return Report(
        title="Crypteras report",
        owner=user.email,
        generated_at=window.now,
        period_from=window.since,
        period_to=window.now,
        summary=_summary_lines(summary),
        strategies=[
            StrategyRow(
                strategy=strategy.value,
                currency=currency,
                invested=performance.invested.get(currency, Decimal(0)),
                realized_profit=performance.realized_profit.get(currency, Decimal(0)),
                trades=performance.trades,
                win_rate=performance.win_rate,
            )
            for strategy, performance in summary.performance_by_strategy.items()
            for currency in sorted({*performance.invested, *performance.realized_profit})
        ],
        equity=[
            EquitySeries(
                currency=currency,
                points=[EquityPoint(at=p.at, equity=p.equity) for p in points],
            )
            for currency, points in sorted(curves.total().items())
        ],
        orders=[],
    )


def _summary_lines(summary: Summary) -> list[SummaryLine]:
    lines = []
    for label, amounts in (
        ("Total balance", summary.total_balance),
        ("Invested in open positions", summary.total_invested),
        ("Open positions at the last price", summary.in_positions),
        ("Realized P&L", summary.realized_pnl),
        ("Unrealized P&L", summary.unrealized_pnl),
    ):
        for currency, amount in sorted(amounts.items()):
            lines.append(SummaryLine(label=label, value=f"{amount:f} {currency}"))
    rate = "none yet" if summary.win_rate is None else f"{summary.win_rate * 100:.1f} %"
    lines += [
        SummaryLine(label="Trades closed", value=str(summary.trades)),
        SummaryLine(label="Win rate", value=rate),
        SummaryLine(label="Bots running", value=str(summary.active_bots)),
        SummaryLine(label="Orders pending", value=str(summary.pending_orders)),
    ]
    return lines
