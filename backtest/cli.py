"""`crypteras backtest`: a bot configuration run over candles from a file, with a progress bar,
a summary table on the terminal and the whole report as JSON and an HTML page with the charts
(`--output DIR`)."""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from adapters.exchanges.errors import ExchangeError
from adapters.exchanges.factory import ExchangeFactory
from adapters.exchanges.paper import BINANCE_FEES, SLIPPAGE
from adapters.settings import get_settings
from backtest.candles import CandleDataError, Candles, read_candles
from backtest.data import download
from backtest.page import page
from backtest.report import report
from backtest.runner import Backtest, BacktestMarket
from backtest.sweep import METRICS, SweepError, config_problems
from backtest.sweep_cli import run_sweep
from domain.bots.kinds import engine_config, parse_config
from domain.bots.state import BotKind
from domain.market import Symbol, Venue
from domain.matching import Fees

# Every bot kind: SmartBots, Candle bots (their signals made as the feed makes them), DCA.
KINDS = (BotKind.SMART, BotKind.CANDLE, BotKind.DCA)


class BacktestError(Exception):
    """Input a backtest cannot run on; the message says what to change."""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "backtest", help="run a bot's configuration over historical candles"
    )
    parser.add_argument("--kind", choices=[k.value for k in KINDS], required=True)
    parser.add_argument("--config", type=Path, required=True, help="the bot's config (JSON)")
    parser.add_argument(
        "--data",
        type=Path,
        help="candles: CSV with the header open_time_ms,open,high,low,close,volume, or Parquet"
        " (default: downloaded from --venue)",
    )
    parser.add_argument(
        "--venue",
        choices=[v.value for v in Venue],
        default=Venue.PAPER.value,
        help="whose market rules (and candles, without --data) the backtest uses",
    )
    parser.add_argument("--timeframe", default="1m", help="of the downloaded candles")
    parser.add_argument(
        "--cache", type=Path, default=Path(".crypteras/candles"), help="downloaded candles"
    )
    parser.add_argument("--symbol", help="the market, e.g. BTC-BRL (default: the config's)")
    parser.add_argument("--from", dest="start", type=_moment, help="ISO date or time (UTC)")
    parser.add_argument("--to", dest="end", type=_moment, help="ISO date or time (UTC)")
    parser.add_argument("--fee", type=_rate, default=BINANCE_FEES.taker, help="e.g. 0.001")
    parser.add_argument(
        "--slippage", type=_rate, default=SLIPPAGE, help="against market orders, e.g. 0.0005"
    )
    parser.add_argument("--output", type=Path, help="folder for the report files")
    sweep = parser.add_argument_group("parameter sweep")
    sweep.add_argument(
        "--grid",
        action="append",
        metavar="PATH=V1,V2",
        help="sweep a config value, e.g. risk.take_profit.percent=1,2,3 (repeatable: every "
        "combination runs)",
    )
    sweep.add_argument("--rank", choices=METRICS, default="return", help="the ranking's metric")
    sweep.add_argument(
        "--walk-forward",
        type=_share,
        metavar="SHARE",
        help="rank on this share of the period (e.g. 0.7), then run the best on the rest",
    )
    sweep.add_argument("--processes", type=_count, help="default: one per core")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        try:
            prepared = asyncio.run(prepare(args, progress))
            if args.grid:
                return run_sweep(args, prepared, console)
        except (BacktestError, SweepError) as error:
            console.print(f"[red]crypteras backtest:[/red] {error}")
            return 2
        backtest = prepared.backtest(prepared.raw)
        task = progress.add_task("candles", total=len(backtest.candles.rows))
        asyncio.run(backtest.run(lambda done: progress.update(task, completed=done)))
    result = report(backtest)
    console.print(summary_table(result["summary"]))
    if args.output is not None:
        args.output.mkdir(parents=True, exist_ok=True)
        path = args.output / "report.json"
        path.write_text(json.dumps(result, indent=1))
        (args.output / "report.html").write_text(page(backtest))
        console.print(f"report: {path} and report.html")
    return 0


@dataclass(frozen=True)
class Prepared:
    """What a backtest runs on: a bot kind and its config as the user wrote it, candles and
    the venue's market."""

    kind: BotKind
    raw: dict[str, Any]
    candles: Candles
    market: BacktestMarket

    def backtest(self, raw: dict[str, Any]) -> Backtest:
        return Backtest(self.kind, parse_config(self.kind, raw), self.candles, self.market)


async def prepare(args: argparse.Namespace, progress: Progress) -> Prepared:
    """The backtest the arguments ask for: its config checked, the venue's market rules and
    the candles read (from the file, or downloaded)."""
    kind = BotKind(args.kind)
    try:
        raw = json.loads(args.config.read_text())
    except (OSError, ValueError) as error:
        raise BacktestError(f"{args.config}: not a JSON config ({error})") from None
    if args.symbol is not None and isinstance(raw, dict):
        raw = {**raw, "symbol": args.symbol}
    try:
        config = parse_config(kind, raw)
    except ValidationError as error:
        raise BacktestError(f"{args.config}: {config_problems(error)}") from None
    if args.data is None and (args.start is None or args.end is None):
        raise BacktestError("give --data, or --from and --to to download the venue's candles")
    symbol = engine_config(config).symbol
    factory = ExchangeFactory(get_settings())
    try:
        async with factory.connect(Venue(args.venue)) as exchange:
            rules = await exchange.market_rules(symbol)
            if args.data is not None:
                candles = read_candles(args.data)
                if args.start is not None or args.end is not None:
                    candles = candles.between(args.start, args.end)
            else:
                span = (args.end - args.start).total_seconds()
                task = progress.add_task("download", total=span)
                candles = await download(
                    exchange, symbol, args.timeframe, args.start, args.end, args.cache,
                    lambda at: progress.update(task, completed=(at - args.start).total_seconds()),
                )  # fmt: skip
                progress.remove_task(task)
    except (CandleDataError, ExchangeError) as error:
        raise BacktestError(str(error)) from None
    finally:
        await factory.aclose()
    if Symbol.parse(rules.symbol) != Symbol.parse(symbol):
        raise BacktestError(f"the venue's market is {rules.symbol}, the bot trades {symbol}")
    fees = Fees(maker=args.fee, taker=args.fee)
    return Prepared(kind, raw, candles, BacktestMarket(rules, fees, args.slippage))


def summary_table(numbers: dict[str, Any]) -> Table:
    table = Table(title=f"Backtest {numbers['symbol']}: {numbers['from']} to {numbers['to']}")
    table.add_column("")
    table.add_column("", justify="right")
    rows = (
        "candles", "allocated", "final_equity", "pnl", "return", "realized_profit",
        "buy_and_hold_return", "orders", "trades", "win_rate", "profit_factor",
        "average_hold_seconds", "sharpe", "sortino",
    )  # fmt: skip
    for name in rows:
        value = numbers[name]
        table.add_row(name.replace("_", " "), "-" if value is None else str(value))
    drawdown = numbers["max_drawdown"]
    table.add_row("max drawdown", "-" if drawdown is None else f"{drawdown['depth']:.2%}")
    table.add_row("gaps", str(len(numbers["gaps"])))
    return table


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} is not an ISO date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number") from None
    if not 1 <= count <= 64:
        raise argparse.ArgumentTypeError(f"{text} is not between 1 and 64")
    return count


def _share(text: str) -> float:
    try:
        share = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} is not a number") from None
    if not 0 < share < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a share in (0, 1)")
    return share


def _rate(text: str) -> Decimal:
    try:
        rate = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text} is not a number") from None
    if not 0 <= rate < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a rate in [0, 1)")
    return rate
