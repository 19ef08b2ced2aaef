"""The dashboard's report as a PDF (landscape A4): title and period, the summary, a table per
strategy, an equity and a drawdown chart per currency, then the orders, newest first, with
"page N of M" on every page.

Decimals are printed as given (format "f"); only the charts turn them into floats, to plot.
The charts are drawn by matplotlib's Agg canvas on a `Figure` of their own, never through
pyplot's global state, so a report can be rendered on any worker thread. Text is set in
DejaVu Sans, the font matplotlib ships, so bot names in any European script print.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from itertools import accumulate
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    LongTable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from adapters.reports.document import EquitySeries, OrderLine, Report, StrategyRow

# The orders the PDF lists, the newest: 2,000 render in about 1.5 s where 20,000 took 30 s
# (900 pages nobody reads); the CSV export holds every order.
MAX_ORDERS = 2000

PAGE = landscape(A4)
MARGIN = 1 * cm
WIDTH = PAGE[0] - 2 * MARGIN
CHART_DPI = 150

_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONT, BOLD = "ReportSans", "ReportSans-Bold"
pdfmetrics.registerFont(TTFont(FONT, str(_FONTS / "DejaVuSans.ttf")))
pdfmetrics.registerFont(TTFont(BOLD, str(_FONTS / "DejaVuSans-Bold.ttf")))

_TITLE = ParagraphStyle("title", fontName=BOLD, fontSize=18, leading=22, spaceAfter=4)
_HEADING = ParagraphStyle("heading", fontName=BOLD, fontSize=12, leading=15, spaceBefore=10)
_BODY = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12)
_SUBHEADING = ParagraphStyle("subheading", parent=_BODY, fontName=BOLD)
_NOTE = ParagraphStyle("note", parent=_BODY, textColor=colors.grey, spaceBefore=3)
_CELL_SIZE = 6.5  # the orders table's font size: eleven columns across the page
_PADDING = 2.5  # a table cell's, left and right
_MAX_LINES = 4  # a cell longer than this ends in "…" (the CSV holds it whole)
_RED, _BLUE = "#b00020", "#1f5fbf"
_LOSS = colors.HexColor(_RED)
_HEADER_FILL = colors.HexColor("#e8ecf2")
_STRIPE = colors.HexColor("#f6f7f9")

# The orders table's columns: title and width in points (the bot's name takes what is left),
# each wide enough for its usual content on one line; right-aligned if numeric.
_ORDER_COLUMNS: tuple[tuple[str, float, bool], ...] = (
    ("Created (UTC)", 76, False),
    ("Bot", 0, False),
    ("Symbol", 42, False),
    ("Side", 24, False),
    ("Type", 54, False),
    ("Status", 53, False),
    ("Filled", 80, True),
    ("Avg price", 80, True),
    ("Quote", 80, True),
    ("Fees", 74, False),
    ("Client order id", 146, False),  # 36 characters, the longest an exchange takes
)
_ORDER_WIDTHS = [
    width or WIDTH - sum(w for _, w, _ in _ORDER_COLUMNS) for _, width, _ in _ORDER_COLUMNS
]


def render_pdf(report: Report) -> bytes:
    """The report as PDF bytes."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=1.5 * cm,
        title=report.title,
        author=report.owner,
        creator="Crypteras",
    )
    footer = f"{report.title} · {report.owner} · generated {_utc(report.generated_at)} UTC"
    document.build(_story(report), canvasmaker=partial(_NumberedCanvas, footer=footer))
    return buffer.getvalue()


def _story(report: Report) -> list[Flowable]:
    since = _utc(report.period_from) if report.period_from else "the first order"
    story: list[Flowable] = [
        Paragraph(escape(report.title), _TITLE),
        Paragraph(escape(report.owner), _BODY),
        Paragraph(f"From {escape(since)} to {_utc(report.period_to)} (UTC)", _BODY),
        Paragraph("Summary", _HEADING),
        _summary(report) if report.summary else _nothing("Nothing to summarise yet."),
        Paragraph("Strategies", _HEADING),
        _strategies(report.strategies) if report.strategies else _nothing("No trade yet."),
    ]
    charted = [series for series in report.equity if series.points]
    story.append(Paragraph("Equity and drawdown", _HEADING))
    story += [_chart(series) for series in charted] or [_nothing("No equity recorded yet.")]
    story.append(Paragraph("Orders", _HEADING))
    total = len(report.orders) if report.orders_total is None else report.orders_total
    story += _orders(report.orders, total) if report.orders else [_nothing("No order yet.")]
    return story


def _nothing(text: str) -> Paragraph:
    return Paragraph(text, _NOTE)


def _summary(report: Report) -> Table:
    rows = [
        [Paragraph(escape(line.label), _BODY), Paragraph(escape(line.value), _BODY)]
        for line in report.summary
    ]
    table = Table(rows, colWidths=[0.3 * WIDTH, 0.4 * WIDTH], hAlign="LEFT")
    table.setStyle(_grid(header=False))
    return table


def _strategies(rows: Sequence[StrategyRow]) -> Table:
    columns = ("Strategy", "Currency", "Invested", "Realized profit", "Trades", "Win rate")
    widths = [share * WIDTH for share in (0.25, 0.08, 0.2, 0.2, 0.08, 0.09)]
    body = [
        [
            row.strategy,
            row.currency,
            _number(row.invested),
            _number(row.realized_profit),
            str(row.trades),
            _percent(row.win_rate),
        ]
        for row in rows
    ]
    cells = [list(columns)] + [
        [_fit(text, width, 9) for text, width in zip(line, widths, strict=True)] for line in body
    ]
    table = Table(cells, colWidths=widths, repeatRows=1, hAlign="LEFT")
    style = _grid(header=True, size=9)
    style.add("ALIGN", (2, 0), (-1, -1), "RIGHT")
    for index, row in enumerate(rows, start=1):
        if row.realized_profit < 0:
            style.add("TEXTCOLOR", (3, index), (3, index), _LOSS)
    table.setStyle(style)
    return table


def _orders(orders: Sequence[OrderLine], total: int) -> list[Flowable]:
    newest = sorted(orders, key=lambda order: order.created_at, reverse=True)[:MAX_ORDERS]
    cells = [[title for title, _, _ in _ORDER_COLUMNS]] + [_order(order) for order in newest]
    table = LongTable(cells, colWidths=_ORDER_WIDTHS, repeatRows=1)
    style = _grid(header=True, size=_CELL_SIZE)
    for column, (_, _, right) in enumerate(_ORDER_COLUMNS):
        if right:
            style.add("ALIGN", (column, 0), (column, -1), "RIGHT")
    table.setStyle(style)
    note = f"The newest {len(newest)} of {total} orders: the CSV holds all."
    return [table] if len(newest) == total else [_nothing(note), table]


def _order(order: OrderLine) -> list[str]:
    texts = (
        _utc(order.created_at),
        order.bot,
        order.symbol,
        order.side,
        order.type,
        order.status,
        _number(order.filled_quantity),
        _number(order.average_price),
        _number(order.quote_quantity),
        "\n".join(f"{_number(order.fees[asset])} {asset}" for asset in sorted(order.fees)),
        order.client_order_id,
    )
    return [_fit(text, width, _CELL_SIZE) for text, width in zip(texts, _ORDER_WIDTHS, strict=True)]


def _chart(series: EquitySeries) -> KeepTogether:
    """The equity curve above its drawdown (the fall from the highest equity so far, in %)."""
    times = [point.at.astimezone(UTC) for point in series.points]
    equity = [float(point.equity) for point in series.points]  # floats to plot, nothing else
    drawdown = [
        100 * (value - peak) / peak if peak > 0 else 0.0
        for value, peak in zip(equity, accumulate(equity, max), strict=True)
    ]
    height = 8 * cm
    figure = Figure(figsize=(WIDTH / 72, height / 72), dpi=CHART_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    marker = "o" if len(times) == 1 else None
    if len(times) == 1:  # a day either side, rather than matplotlib's years
        day = timedelta(days=1)
        top.set_xlim(date2num([times[0] - day, times[0] + day]))  # type: ignore[no-untyped-call]
    top.plot(times, equity, color=_BLUE, linewidth=1.2, marker=marker)
    top.set_ylabel(series.currency, fontsize=8)
    top.ticklabel_format(axis="y", style="plain", useOffset=False)
    bottom.fill_between(times, drawdown, 0, color=_RED, alpha=0.3)
    bottom.plot(times, drawdown, color=_RED, linewidth=1, marker=marker)
    bottom.set_ylabel("Drawdown %", fontsize=8)
    locator = AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]
    formatter = ConciseDateFormatter(locator, tz=UTC)  # type: ignore[no-untyped-call]
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(formatter)
    for axes in (top, bottom):
        axes.tick_params(labelsize=7)
        axes.grid(color="#dddddd", linewidth=0.5)
    png = io.BytesIO()
    figure.savefig(png, format="png")
    figure.clear()  # drops the axes now rather than at the next garbage collection
    png.seek(0)
    title = Paragraph(escape(series.currency), _SUBHEADING)
    return KeepTogether([Spacer(0, 6), title, Image(png, width=WIDTH, height=height)])


def _grid(*, header: bool, size: float = 9) -> TableStyle:
    style = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), FONT, size, size * 1.2),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), _PADDING),
            ("RIGHTPADDING", (0, 0), (-1, -1), _PADDING),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
        ]
    )
    if header:
        style.add("FONT", (0, 0), (-1, 0), BOLD, size, size * 1.2)
        style.add("BACKGROUND", (0, 0), (-1, 0), _HEADER_FILL)
        style.add("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, _STRIPE])
        style.add("LINEAFTER", (0, 0), (-2, -1), 0.25, colors.lightgrey)  # numbers beside text
    return style


def _fit(text: str, width: float, size: float) -> str:
    """`text` in lines that fit a cell `width` wide (a table's plain cells don't wrap): at
    blanks where it can, anywhere in a word too long for a line, at most `_MAX_LINES`."""
    room = width - 2 * _PADDING
    if "\n" not in text and pdfmetrics.stringWidth(text, FONT, size) <= room:
        return text
    lines: list[str] = []
    for words in simpleSplit(text, FONT, size, room):
        line = ""
        for char in words:  # a word wider than the cell breaks anywhere
            if line and pdfmetrics.stringWidth(line + char, FONT, size) > room:
                lines.append(line)
                line = ""
            line += char
        lines.append(line)
    if len(lines) > _MAX_LINES:
        lines = [*lines[: _MAX_LINES - 1], lines[_MAX_LINES - 1][:-1] + "…"]
    return "\n".join(lines)


def _number(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def _percent(share: Decimal | None) -> str:
    """A share (0.5) as a percent to a tenth (50.0 %): a ratio, rounded to be read."""
    if share is None:
        return "—"
    return f"{format((share * 100).quantize(Decimal('0.1'), ROUND_HALF_UP), 'f')} %"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


class _NumberedCanvas(Canvas):
    """Keeps every page until the document ends, so that each footer can say "page 3 of 12"."""

    def __init__(self, *args: Any, footer: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()  # type: ignore[attr-defined]  # a fresh page, as showPage does

    def save(self) -> None:
        for number, page in enumerate(self._pages, start=1):
            self.__dict__.update(page)
            self.setFont(FONT, 7)
            self.setFillColor(colors.grey)
            self.drawString(MARGIN, 0.8 * cm, self._footer)
            self.drawRightString(PAGE[0] - MARGIN, 0.8 * cm, f"page {number} of {len(self._pages)}")
            super().showPage()
        super().save()
