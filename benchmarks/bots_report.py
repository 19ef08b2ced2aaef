"""The bots benchmark's printed report and its markdown row for benchmarks/README.md."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import psutil  # type: ignore[import-untyped]

from workers.stack import temporal_binary

if TYPE_CHECKING:
    from benchmarks.bots import Report

GOAL_BOTS, GOAL_P99 = 20_000, 5.0

HEADER = (
    "| date | bots (interval) | dev server data | workers, cache | starts/s | start-up "
    "| workflow tasks/min "
    "| feed evaluations/min | bot wake-ups/min | orders/min | acting bots/2 min "
    "| delay p50 / p99 (feed) | delay p50 / p99 (timer) | worker CPU | worker RSS "
    "| dev server CPU | PostgreSQL CPU | ceiling: timer+activity / timer+local (ticks/min) |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
    "| --- | --- | --- |"
)


def _n(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            model = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    version = subprocess.run(
        [str(temporal_binary()), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return (
        f"{os.cpu_count()} CPUs ({model}), {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}, {version}, load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )


def row(report: Report) -> str:
    o, f = report.options, report.figures
    starts = o.bots / report.start_seconds if report.start_seconds else None
    ceiling = " / ".join(_n(c.per_minute) for c in report.ceiling) or "-"
    wakes = report.rate("wakes")
    timer = report.rate("timer_ticks")
    woken = None if wakes is None and timer is None else (wakes or 0) + (timer or 0)
    acting = f["acting_bots"]
    acting_2min = None if acting is None else acting / o.bots * 100
    return (
        f"| {datetime.now(UTC):%Y-%m-%d} | {o.bots:,} ({o.interval_share:.0%}) "
        f"| {'memory' if o.temporal_memory else 'file'} | {o.workers}, {o.cache:,} "
        f"| {_n(starts, 1)} | {report.startup_seconds:.0f} s | {_n(report.rate('workflow_tasks'))} "
        f"| {_n(report.rate('evaluations'))} | {_n(woken)} | {_n(report.rate('orders'))} "
        f"| {_n(acting_2min, 1)} % "
        f"| {_s(f['delay_feed_p50'])} / {_s(f['delay_feed_p99'])} "
        f"| {_s(f['delay_timer_p50'])} / {_s(f['delay_timer_p99'])} "
        f"| {_n(f['workers_cpu'], 2)} cores | {_n(f['workers_rss_mb'])} MiB "
        f"| {_n(f['temporal_cpu'], 2)} cores | {_n(f['postgres_cpu'], 2)} cores | {ceiling} |"
    )


def describe(report: Report) -> str:
    o, f = report.options, report.figures
    lines = [f"machine: {machine()}"]
    for c in report.ceiling:
        kind = "timer + local activity" if c.local else "timer + activity"
        lines.append(
            f"ceiling, {kind}: {c.ticks:,} ticks by {c.workflows} workflows in "
            f"{c.seconds:.0f} s = {c.per_minute:,.0f} ticks/min"
        )
    if not o.bots:
        return "\n".join(lines)
    lines += [
        f"bots: {o.bots:,} ({round(o.bots * o.interval_share):,} buying every "
        f"{o.interval_seconds} s, the rest "
        f"on dips), {o.workers} worker processes, cache {o.cache:,} per process",
        f"started in {report.start_seconds:.1f} s ({o.bots / report.start_seconds:,.1f}/s); "
        f"all projected after {report.startup_seconds:.0f} s ({report.up:,} up)",
        f"steady window {report.window:.0f} s:",
        f"  workflow tasks/min: {_n(report.rate('workflow_tasks'))} (bots "
        f"{_n(report.rate('workflow_tasks_bots'))}, feeds "
        f"{_n(report.rate('workflow_tasks_market-feeds'))}); bots' schedule-to-start p99 "
        f"{_n(f['wft_schedule_to_start_p99'])} ms",
        f"  activities/min {_n(report.rate('activities'))}, local activities/min "
        f"{_n(report.rate('local_activities'))} (timer ticks {_n(report.rate('timer_ticks'))})",
        f"  feeds: {_n(f['feed_runs'])} watch runs, {_n(f['feed_reads_per_minute_per_feed'], 1)} "
        f"reads/min per feed; evaluations/min {_n(report.rate('evaluations'))}, "
        f"wake-ups/min {_n(report.rate('wakes'))}",
        f"  orders {_n(f['orders'])} ({_n(report.rate('orders'))}/min) by "
        f"{_n(f['acting_bots'])} bots in the last 2 minutes; timer orders without a known "
        f"due time {_n(f['unpaired'])}",
        f"  delay feed read -> order: n {_n(f['delay_feed_n'])}, p50 {_s(f['delay_feed_p50'])}, "
        f"p99 {_s(f['delay_feed_p99'])}, max {_s(f['delay_feed_max'])}",
        f"  delay timer due -> order: n {_n(f['delay_timer_n'])}, p50 "
        f"{_s(f['delay_timer_p50'])}, p99 {_s(f['delay_timer_p99'])}, max "
        f"{_s(f['delay_timer_max'])}",
        f"  CPU (cores): workers {_n(f['workers_cpu'], 2)}, dev server "
        f"{_n(f['temporal_cpu'], 2)}, PostgreSQL {_n(f['postgres_cpu'], 2)}, machine "
        f"{_n(f['machine_cpu'], 2)}; RSS: workers {_n(f['workers_rss_mb'])} MiB, dev server "
        f"{_n(f['temporal_rss_mb'])} MiB",
    ]
    p99 = f["delay_p99"]
    met = o.bots >= GOAL_BOTS and p99 is not None and p99 < GOAL_P99
    lines.append(
        f"goal ({GOAL_BOTS:,} bots, p99 < {GOAL_P99:.0f} s): "
        f"{'met' if met else 'not met'} (p99 {_s(p99)} at {o.bots:,} bots)"
    )
    lines += ["", HEADER, row(report)]
    return "\n".join(lines)
