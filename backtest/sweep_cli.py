"""`crypteras backtest ... --grid PATH=V1,V2`: the sweep's runs, ranked in a table, with the
overfitting warning and, with `--walk-forward SHARE`, the best configurations run again on
the part of the period the ranking did not see."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from backtest.candles import Candles
from backtest.sweep import (
    OVERFIT_WARNING,
    TOP,
    Axis,
    Job,
    SweepError,
    check,
    configs,
    ranked,
    sweep,
)

if TYPE_CHECKING:
    from backtest.cli import Prepared

_SHOWN = ("return", "pnl", "trades", "win_rate", "profit_factor", "sharpe", "sortino")


def run_sweep(args: argparse.Namespace, prepared: Prepared, console: Console) -> int:
    axes = [Axis.parse(text) for text in args.grid]
    grid = configs(prepared.raw, axes)
    check(prepared.kind, grid)
    candles = prepared.candles
    seen = len(candles.rows)
    if args.walk_forward is not None:
        seen = int(seen * args.walk_forward)
        if seen < 2 or len(candles.rows) - seen < 2:
            raise SweepError("the walk-forward split leaves a part of fewer than two candles")
    jobs = [Job(prepared.kind, raw, prepared.market, 0, seen) for raw in grid]
    results = sweep(candles, jobs, args.processes)
    order = ranked(results, args.rank)
    table = Table(title=f"Sweep: {len(grid)} runs ranked by {args.rank}")
    for name in ("#", *(axis.path for axis in axes), *_SHOWN):
        table.add_column(name, justify="right")
    for place, index in enumerate(order, start=1):
        values = [_at(grid[index], axis.path) for axis in axes]
        table.add_row(str(place), *map(str, values), *(_cell(results[index][m]) for m in _SHOWN))
    console.print(table)
    console.print(f"[yellow]{OVERFIT_WARNING.format(runs=len(grid))}[/yellow]")
    unseen: list[dict[str, Any]] = []
    if args.walk_forward is not None:
        best = order[:TOP]
        after = [
            Job(prepared.kind, grid[i], prepared.market, seen, len(candles.rows)) for i in best
        ]
        unseen = sweep(candles, after, args.processes)
        console.print(_walk_forward(axes, grid, best, results, unseen, args.rank, candles, seen))
    if args.output is not None:
        args.output.mkdir(parents=True, exist_ok=True)
        written = {
            "rank": args.rank,
            "runs": [{"config": grid[i], "summary": results[i]} for i in order],
            "walk_forward": [
                {"config": grid[i], "summary": result}
                for i, result in zip(order[:TOP], unseen, strict=False)
            ],
        }
        (args.output / "sweep.json").write_text(json.dumps(written, indent=1))
        console.print(f"report: {args.output / 'sweep.json'}")
    return 0


def _walk_forward(
    axes: list[Axis],
    grid: list[dict[str, Any]],
    best: list[int],
    seen: list[dict[str, Any]],
    unseen: list[dict[str, Any]],
    metric: str,
    candles: Candles,
    split: int,
) -> Table:
    table = Table(
        title=f"Walk-forward: the best {len(best)} on the candles after "
        f"{candles.rows[split].open_time.isoformat()}, unseen by the ranking"
    )
    for name in (*(axis.path for axis in axes), f"{metric} (ranked)", f"{metric} (unseen)"):
        table.add_column(name, justify="right")
    for index, result in zip(best, unseen, strict=True):
        values = [str(_at(grid[index], axis.path)) for axis in axes]
        table.add_row(*values, _cell(seen[index][metric]), _cell(result[metric]))
    return table


def _at(config: dict[str, Any], path: str) -> Any:
    node: Any = config
    for name in path.split("."):
        node = node[name]
    return node


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)
