"""The dashboard's exports (adapters/reports): the PDF read back with pypdf (its numbers, its
pages, the cap on orders, an empty report, worker threads), and the CSVs read back exactly
(hypothesis: any text, 18-decimal and negative amounts, times in any offset), with formulas
neutralised in text cells only."""

from __future__ import annotations

import csv
import gc
import io
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.figure import Figure
from pypdf import PdfReader

from adapters.reports import pdf
from adapters.reports.csv_export import (
    fills_csv,
    orders_csv,
    read_fills_csv,
    read_orders_csv,
)
from adapters.reports.document import (
    EquityPoint,
    EquitySeries,
    FillLine,
    OrderLine,
    Report,
    StrategyRow,
    SummaryLine,
)
from domain.bots.orders import MAX_SEQUENCE, client_order_id

D = Decimal
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def order(number: int, **changes: object) -> OrderLine:
    fields: dict[str, object] = {
        "created_at": T0 + timedelta(minutes=number),
        "bot": "BTC every 2 minutes",
        "strategy": "smart",
        "symbol": "BTC-BRL",
        "side": "buy",
        "type": "limit",
        "status": "filled",
        "quantity": D("0.00123400"),
        "filled_quantity": D("0.00123400"),
        "price": D("350123.45"),
        "average_price": D("350100.01"),
        "quote_quantity": D("432.0234"),
        "fees": {"BNB": D("0.00001234"), "BRL": D("0.43")},
        "client_order_id": client_order_id(f"bot-{number}", MAX_SEQUENCE - number),  # 36 long
        "exchange_order_id": str(9_000_000 + number),
    }
    return OrderLine.model_validate(fields | changes)


def report(orders: list[OrderLine], **changes: object) -> Report:
    equity = [
        EquitySeries(
            currency="BRL",
            points=[
                EquityPoint(at=T0 + timedelta(days=day), equity=D(1000 + (day % 7) * 15 - day))
                for day in range(60)
            ],
        )
    ]
    fields: dict[str, object] = {
        "title": "Crypteras report <March> & more",
        "owner": "Maria Silva <maria@example.com>",
        "generated_at": T0,
        "period_from": T0 - timedelta(days=30),
        "period_to": T0,
        "summary": [
            SummaryLine(label="Realized profit", value="1234.56 BRL"),
            SummaryLine(label="Sharpe (daily)", value="1.42"),
        ],
        "strategies": [
            StrategyRow(
                strategy="dca",
                currency="BRL",
                invested=D("1200.000000000000000001"),
                realized_profit=D("-35.10"),
                trades=7,
                win_rate=D(3) / 7,
            ),
            StrategyRow(
                strategy="candle",
                currency="USDT",
                invested=D(0),
                realized_profit=D(0),
                trades=0,
                win_rate=None,
            ),
        ],
        "equity": equity,
        "orders": orders,
    }
    return Report.model_validate(fields | changes)


def pdf_text(document: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(document))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


# PDF.


def test_the_pdf_holds_the_summary_the_strategies_and_the_orders() -> None:
    document = pdf.render_pdf(
        report([order(1), order(2, client_order_id="cx-the-one-to-find", bot="Sí, señor")])
    )
    assert document.startswith(b"%PDF-")
    pages, text = pdf_text(document)
    assert "Crypteras report <March> & more" in text  # markup in user text is printed, not run
    assert "From 2026-01-30 12:00:00 to 2026-03-01 12:00:00 (UTC)" in text
    assert "1234.56 BRL" in text and "1.42" in text
    assert "1200.000000000000000001" in text and "-35.10" in text and "42.9 %" in text
    assert (
        "cx-the-one-to-find" in text
        and "Sí, señor" in text
        and "432.0234" in text
        and "0.00001234 BNB" in text
    )
    assert f"page 1 of {pages}" in text and f"page {pages} of {pages}" in text


def test_a_long_order_list_spans_pages_and_lists_the_newest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pdf, "MAX_ORDERS", 150)
    orders = [order(number) for number in range(200)]
    pages, text = pdf_text(pdf.render_pdf(report(orders)))
    assert pages > 3
    assert "The newest 150 of 200 orders: the CSV holds all." in text
    assert orders[-1].client_order_id in text and orders[50].client_order_id in text
    assert orders[49].client_order_id not in text


def test_an_empty_report_renders_and_says_there_is_nothing_yet() -> None:
    empty = report([], summary=[], strategies=[], equity=[EquitySeries(currency="BRL", points=[])])
    pages, text = pdf_text(pdf.render_pdf(empty.model_copy(update={"period_from": None})))
    assert pages == 1
    assert "From the first order to 2026-03-01 12:00:00 (UTC)" in text
    for nothing in ("Nothing to summarise yet.", "No trade yet.", "No equity recorded yet."):
        assert nothing in text
    assert "No order yet." in text


def test_one_equity_point_and_long_cells_render() -> None:
    one = EquitySeries(currency="USDT", points=[EquityPoint(at=T0, equity=D("0.5"))])
    long_name = order(1, bot="A bot whose name runs on " * 6, average_price=D("0." + "9" * 40))
    _, text = pdf_text(pdf.render_pdf(report([long_name], equity=[one])))
    assert "USDT" in text and "…" in text  # a cell of more than four lines is cut


def test_reports_render_on_worker_threads_and_leave_no_figure_behind() -> None:
    gc.collect()
    figures = sum(isinstance(thing, Figure) for thing in gc.get_objects())
    with ThreadPoolExecutor(max_workers=4) as pool:
        documents = list(pool.map(pdf.render_pdf, [report([order(n)]) for n in range(4)]))
    for number, document in enumerate(documents):
        assert order(number).client_order_id in pdf_text(document)[1]
    gc.collect()
    assert sum(isinstance(thing, Figure) for thing in gc.get_objects()) == figures


# CSV.

AWKWARD_TEXT = st.one_of(
    st.text(),
    st.sampled_from(['a, "quoted"\r\nname', "=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "'x"]),
)
AMOUNTS = st.one_of(
    st.decimals(min_value=-(10**12), max_value=10**12, places=18),
    st.decimals(min_value=-(10**12), max_value=10**12, places=2),
)
TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-3))]),
)
ASSETS = st.from_regex(r"[A-Za-z0-9'=+@-]{1,8}", fullmatch=True)
IDS = st.text(min_size=1)
ORDERS = st.builds(
    OrderLine,
    created_at=TIMES,
    bot=AWKWARD_TEXT,
    strategy=AWKWARD_TEXT,
    symbol=AWKWARD_TEXT,
    side=AWKWARD_TEXT,
    type=AWKWARD_TEXT,
    status=AWKWARD_TEXT,
    quantity=st.none() | AMOUNTS,
    filled_quantity=AMOUNTS,
    price=st.none() | AMOUNTS,
    average_price=st.none() | AMOUNTS,
    quote_quantity=AMOUNTS,
    fees=st.dictionaries(ASSETS, AMOUNTS, max_size=3),
    client_order_id=IDS,
    exchange_order_id=st.none() | IDS,
)
FILLS = st.builds(
    FillLine,
    at=TIMES,
    symbol=AWKWARD_TEXT,
    side=AWKWARD_TEXT,
    price=AMOUNTS,
    quantity=AMOUNTS,
    fee=AMOUNTS,
    fee_asset=ASSETS,
    trade_id=IDS,
    client_order_id=IDS,
)


@given(st.lists(ORDERS, max_size=5))
def test_the_orders_csv_reads_back_exactly(orders: list[OrderLine]) -> None:
    assert read_orders_csv(orders_csv(orders)) == orders


@given(st.lists(FILLS, max_size=5))
def test_the_fills_csv_reads_back_exactly(fills: list[FillLine]) -> None:
    assert read_fills_csv(fills_csv(fills)) == fills


def test_the_csv_cells_as_a_spreadsheet_reads_them() -> None:
    awkward = order(
        1,
        created_at=datetime(2026, 3, 1, 9, 30, 0, 250000, tzinfo=timezone(timedelta(hours=-3))),
        bot='=HYPERLINK("http://x", "click"), then "more"\nlines',
        symbol="@BTC-BRL",
        quantity=None,
        quote_quantity=D("-12.500000000000000001"),
        fees={"BRL": D("-0.5"), "BNB": D("0.001")},
        exchange_order_id=None,
    )
    text = orders_csv([awkward])
    assert text.startswith("created_at,bot,strategy,symbol,") and text.endswith("\r\n")
    [row] = csv.DictReader(io.StringIO(text, newline=""))
    assert row["created_at"] == "2026-03-01T12:30:00.250000Z"
    assert row["bot"] == '\'=HYPERLINK("http://x", "click"), then "more"\nlines'
    assert row["symbol"] == "'@BTC-BRL" and row["side"] == "buy"
    assert row["quote_quantity"] == "-12.500000000000000001"  # a number stays a number
    assert row["quantity"] == "" and row["exchange_order_id"] == ""
    assert row["fees"] == "0.001 BNB; -0.5 BRL"
    assert read_orders_csv(text) == [awkward]

    fill = FillLine(
        at=T0,
        symbol="-BTC",
        side="sell",
        price=D("-1"),
        quantity=D("0.000000000000000001"),
        fee=D("0"),
        fee_asset="BRL",
        trade_id="+7",
        client_order_id="cx1",
    )
    [cells] = csv.DictReader(io.StringIO(fills_csv([fill]), newline=""))
    assert cells["symbol"] == "'-BTC" and cells["trade_id"] == "'+7" and cells["price"] == "-1"
    assert cells["at"] == "2026-03-01T12:00:00Z" and cells["quantity"] == "0.000000000000000001"


def test_empty_exports_are_a_header_and_another_file_is_refused() -> None:
    assert read_orders_csv(orders_csv([])) == [] and read_fills_csv(fills_csv([])) == []
    with pytest.raises(ValueError, match="expected the header"):
        read_orders_csv(fills_csv([]))
