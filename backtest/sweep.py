"""A parameter sweep: one bot configuration backtested over a grid of values, the runs spread
over the machine's cores, ranked by a chosen metric.

The best of many configurations tried on the same candles is partly luck: the ranking always
comes with that warning, and a walk-forward split tests the best ones on candles the sweep
did not see (ranked on the first part of the period, run again on the rest).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from backtest.candles import Candles, frame_of, read_candles
from backtest.report import summary
from backtest.runner import Backtest, BacktestMarket
from domain.bots.kinds import parse_config
from domain.bots.state import BotKind

MAX_RUNS = 500
METRICS = ("return", "pnl", "sharpe", "sortino", "profit_factor", "win_rate")
TOP = 5  # the best configurations run again on the walk-forward's unseen part
OVERFIT_WARNING = (
    "{runs} configurations were tried on the same candles: the best of them is partly luck "
    "(overfit). Trust a configuration that also does well on candles it was not chosen on "
    "(--walk-forward)."
)


class SweepError(ValueError):
    """A grid that cannot be swept; the message says why."""


@dataclass(frozen=True)
class Axis:
    path: str  # dotted, into the config: "risk.take_profit.percent"
    values: tuple[Any, ...]

    @classmethod
    def parse(cls, text: str) -> Axis:
        """``PATH=V1,V2,...``; each value read as JSON when it is JSON (numbers, true), else
        as text."""
        path, sep, values = text.partition("=")
        if not sep or not path or not values:
            raise SweepError(f"{text!r}: a grid axis is PATH=VALUE,VALUE,...")
        return cls(path, tuple(_value(v.strip()) for v in values.split(",")))


def configs(base: dict[str, Any], axes: Sequence[Axis]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, each applied to a copy of `base`."""
    runs = 1
    for axis in axes:
        runs *= len(axis.values)
    if runs > MAX_RUNS:
        raise SweepError(f"the grid makes {runs} runs; at most {MAX_RUNS}")
    made = []
    for values in itertools.product(*(axis.values for axis in axes)):
        config = json.loads(json.dumps(base))
        for axis, value in zip(axes, values, strict=True):
            _set(config, axis.path, value)
        made.append(config)
    return made


def config_problems(error: ValidationError) -> str:
    """What is wrong with a config, each field named."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in error.errors()
    )


def check(kind: BotKind, grid: Sequence[dict[str, Any]]) -> None:
    """Every config of the grid is one the bot takes (SweepError names the first that is
    not), before anything runs."""
    for raw in grid:
        try:
            parse_config(kind, raw)
        except ValidationError as error:
            raise SweepError(f"{json.dumps(raw)}: {config_problems(error)}") from None


@dataclass(frozen=True)
class Job:
    kind: BotKind
    config: dict[str, Any]
    market: BacktestMarket
    first: int  # the candles [first, last) it runs on
    last: int


def sweep(
    candles: Candles, jobs: Sequence[Job], processes: int | None = None
) -> list[dict[str, Any]]:
    """Each job's summary, in the jobs' order; the candles are handed to each process once."""
    folder = Path(os.environ.get("TMPDIR", "/tmp"))
    path = folder / f"crypteras-sweep-{os.getpid()}.parquet"
    frame_of(candles.rows).write_parquet(path)
    try:
        workers = processes or os.cpu_count() or 1
        # Spawned, not forked: a fork copies the caller's threads' locks (a progress bar's).
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            workers, mp_context=spawn, initializer=_load, initargs=(str(path),)
        ) as pool:
            return list(pool.map(_run, jobs))
    finally:
        path.unlink(missing_ok=True)


def ranked(results: Sequence[dict[str, Any]], metric: str) -> list[int]:
    """The results' indexes, best first by `metric`; a run without the metric comes last."""
    if metric not in METRICS:
        raise SweepError(f"rank by one of {', '.join(METRICS)}")

    def key(index: int) -> tuple[bool, float]:
        value = results[index][metric]
        return (value is None, -float(value) if value is not None else 0.0)

    return sorted(range(len(results)), key=key)


_candles: Candles | None = None


def _load(path: str) -> None:
    global _candles
    _candles = read_candles(Path(path))


def _run(job: Job) -> dict[str, Any]:
    assert _candles is not None
    part = Candles(_candles.rows[job.first : job.last], _candles.interval)
    backtest = Backtest(job.kind, parse_config(job.kind, job.config), part, job.market)
    asyncio.run(backtest.run())
    return summary(backtest)


def _set(config: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = config
    for name in parents:
        child = node.setdefault(name, {})
        if not isinstance(child, dict):
            raise SweepError(f"{path}: {name} is not a group of settings")
        node = child
    node[leaf] = value


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
