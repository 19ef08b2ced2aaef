"""The bots benchmark at a tiny size: its report is complete and its figures are consistent
(not timings: those belong to benchmarks/README.md)."""

from __future__ import annotations

import pytest

from benchmarks.bots import Options, run
from benchmarks.bots_report import HEADER, describe, row

BOTS = 20


@pytest.mark.e2e
def test_bots_benchmark_reports_every_figure() -> None:
    options = Options(
        bots=BOTS,
        workers=1,
        steady=30,
        warmup=3,
        ceiling_seconds=5,
        ceiling_workflows=10,
        interval_share=0.5,  # ten bots buying every 5 s: orders in a 30 s window
        interval_seconds=5,
        watch_run_seconds=10,  # watch runs end within the window
    )
    report = run(options)

    def n(name: str) -> float:
        value = report.figures[name]
        assert value is not None, f"{name} missing from the report"
        return value

    # The bare ceiling: both kinds of tick ran.
    assert [c.local for c in report.ceiling] == [False, True]
    assert all(c.ticks >= c.workflows for c in report.ceiling)

    # Every bot started and projected itself; the window was measured.
    assert report.up == BOTS
    assert report.start_seconds > 0 and report.window >= options.steady
    assert n("workflow_tasks_bots") > 0 and n("workflow_tasks_market-feeds") > 0
    assert n("workflow_tasks_bots") + n("workflow_tasks_market-feeds") <= n("workflow_tasks")
    assert 0 < n("timer_ticks") <= n("local_activities")

    # The feeds read every market_feed_seconds at most, and evaluated every watching bot.
    assert 0 < n("feed_reads_per_minute_per_feed") <= 60 / options.market_feed_seconds * 1.1
    assert n("evaluations") >= n("feed_reads") > 0

    # Orders were placed, each counted once, every delay after its condition.
    assert n("orders") > 0 and n("acting_bots") > 0
    assert n("delay_feed_n") + n("delay_timer_n") + n("unpaired") == n("orders")
    assert n("delay_timer_n") > 0
    assert 0 <= n("delay_timer_p50") <= n("delay_timer_p99") <= n("delay_timer_max")
    assert n("delay_p99") >= 0

    # Resource figures of real processes.
    assert n("workers_cpu") > 0 and n("workers_rss_mb") > 0 and n("temporal_cpu") > 0

    # The printed report and its table row are whole.
    assert "None" not in describe(report)
    assert row(report).count("|") == HEADER.splitlines()[0].count("|")
