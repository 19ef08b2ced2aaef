"""A backtest's report as one HTML page that needs nothing else (the charts are embedded SVG):
the summary, the price with the bot's buys and sales marked on it, and the equity curve against
holding the coin from the same start.

Charts are drawn by matplotlib's SVG canvas on a `Figure` of their own (no pyplot state). The
price is drawn from at most `PRICE_POINTS` closes (each bucket's close, with its low and high
as the band), so a year of minute candles draws as fast as a week.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from html import escape
from typing import Any

import numpy as np
from matplotlib.dates import date2num
from matplotlib.figure import Figure

from backtest.report import close_before, equity_curve, summary
from backtest.runner import Backtest
from domain.market import Side

PRICE_POINTS = 2000
_BUY, _SELL = "#1a7f37", "#cf222e"
_ROWS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("Period", lambda s: f"{s['from']} to {s['to']}"),
    ("Candles", lambda s: f"{s['candles']:,} ({len(s['gaps'])} gaps)"),
    ("Allocated", lambda s: s["allocated"]),
    ("Final equity", lambda s: s["final_equity"]),
    ("P&L", lambda s: s["pnl"]),
    ("Return", lambda s: _percent(s["return"])),
    ("Holding the coin", lambda s: _percent(s["buy_and_hold_return"])),
    ("Realized profit", lambda s: s["realized_profit"]),
    ("Orders / trades", lambda s: f"{s['orders']} / {s['trades']}"),
    ("Win rate", lambda s: _percent(s["win_rate"])),
    ("Profit factor", lambda s: _number(s["profit_factor"])),
    ("Sharpe (daily, annualised)", lambda s: _number(s["sharpe"])),
    ("Sortino (daily, annualised)", lambda s: _number(s["sortino"])),
    ("Deepest drawdown", lambda s: _percent((s["max_drawdown"] or {}).get("depth"))),
)


def page(backtest: Backtest) -> str:
    numbers = summary(backtest)
    rows = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(show(numbers))}</td></tr>" for name, show in _ROWS
    )
    title = f"Backtest of a {backtest.bot.kind.value} bot on {backtest.bot.symbol}"
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}"
        "th{text-align:left;padding-right:2rem;font-weight:normal;color:#555}"
        "td{text-align:right}svg{width:100%;height:auto}</style>"
        f"<h1>{escape(title)}</h1><table>{rows}</table>"
        f"<h2>Price, buys and sales</h2>{_price_chart(backtest)}"
        f"<h2>Equity against holding the coin</h2>{_equity_chart(backtest)}</html>"
    )


def _price_chart(backtest: Backtest) -> str:
    candles = backtest.candles
    count = len(candles.rows)
    size = max(1, -(-count // PRICE_POINTS))
    edges = np.arange(0, count, size)
    lows = np.minimum.reduceat(candles.lows, edges)
    highs = np.maximum.reduceat(candles.highs, edges)
    starts: list[int] = edges.tolist()
    closes = [float(candles.rows[min(i + size, count) - 1].close) for i in starts]
    times = _days([candles.rows[i].open_time for i in starts])
    figure = Figure(figsize=(11, 4))
    axes = figure.add_subplot()
    axes.fill_between(times, lows, highs, color="#ddd", linewidth=0)
    axes.plot(times, closes, color="#444", linewidth=0.8)
    for side, color, marker in ((Side.BUY, _BUY, "^"), (Side.SELL, _SELL, "v")):
        fills = [f for f in backtest.host.fills if f.side is side]
        axes.scatter(
            _days([f.at for f in fills]), [float(f.price) for f in fills], color=color,
            marker=marker,
            s=18, label=f"{side.value} ({len(fills)} fills)", zorder=3,
        )  # fmt: skip
    axes.xaxis_date()
    axes.legend(loc="upper left")
    axes.grid(alpha=0.3)
    return _svg(figure)


def _equity_chart(backtest: Backtest) -> str:
    ends, equity = equity_curve(backtest)
    times = _days(ends)
    allocated = float(backtest.trader.state.funds.allocated_balance)
    first = float(backtest.candles.rows[0].open)
    holding = [
        allocated * float(close_before(backtest.candles, int(t.timestamp() * 1000))) / first
        for t in ends
    ]
    figure = Figure(figsize=(11, 3.5))
    axes = figure.add_subplot()
    axes.plot(times, [float(v) for v in equity], color="#0969da", label="the bot")
    axes.plot(times, holding, color="#999", linestyle="--", label="holding the coin")
    axes.xaxis_date()
    axes.legend(loc="upper left")
    axes.grid(alpha=0.3)
    return _svg(figure)


def _svg(figure: Figure) -> str:
    figure.tight_layout()
    out = io.StringIO()
    figure.savefig(out, format="svg")
    text = out.getvalue()
    return text[text.index("<svg") :]


def _days(times: list[datetime]) -> np.ndarray:
    """Times as matplotlib's date numbers (days), which its typed plotting calls take."""
    return np.asarray(date2num(times))  # type: ignore[no-untyped-call]


def _percent(value: Any) -> str:
    return "-" if value is None else f"{float(value):.2%}"


def _number(value: Any) -> str:
    return "-" if value is None else f"{float(value):.2f}"
