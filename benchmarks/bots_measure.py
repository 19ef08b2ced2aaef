"""What the bots benchmark reads: the workers' SDK metrics (Prometheus text), the processes' CPU
and memory, the condition-to-order delays from `bot_orders`, and the market feeds' own account
of their reads (the `WatchResult` of each watch run, from the feeds' histories)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import psutil  # type: ignore[import-untyped]
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.bot_models import WatchResult, feed_workflow_id
from adapters.db.models_bots import BotOrderRecord
from domain.market import Venue

_LINE = re.compile(r"^(\w+)(?:\{(.*)\})?\s+(\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

Sample = tuple[str, frozenset[tuple[str, str]]]
ACTING_WINDOW = timedelta(minutes=2)  # "a few percent of bots trade in any two minutes"


def scrape(ports: Iterable[int], host: str = "127.0.0.1") -> dict[Sample, float]:
    """Every worker's metrics, summed by name and labels over the processes."""
    total: dict[Sample, float] = {}
    with httpx.Client(timeout=10) as http:
        for port in ports:
            for line in http.get(f"http://{host}:{port}/metrics").text.splitlines():
                match = _LINE.match(line)
                if match is None:
                    continue
                name, labels, value = match.groups()
                key = (name, frozenset(_LABEL.findall(labels or "")))
                total[key] = total.get(key, 0.0) + float(value)
    return total


def total(samples: dict[Sample, float], name: str, **labels: str) -> float:
    """The sum of `name` over the samples with these labels."""
    wanted = set(labels.items())
    return sum(
        value for (metric, have), value in samples.items() if metric == name and wanted <= have
    )


def delta(
    before: dict[Sample, float], after: dict[Sample, float], name: str, **labels: str
) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


def histogram_quantile(
    before: dict[Sample, float], after: dict[Sample, float], name: str, q: float, **labels: str
) -> float | None:
    """The q-quantile of a histogram's observations between two scrapes (the upper bound of
    the bucket it falls in; None without observations)."""
    buckets: dict[float, float] = {}
    for sample in (after, before):
        sign = 1 if sample is after else -1
        for (metric, have), value in sample.items():
            if metric != f"{name}_bucket" or not set(labels.items()) <= have:
                continue
            bound = float(dict(have)["le"])
            buckets[bound] = buckets.get(bound, 0.0) + sign * value
    if not buckets or buckets[max(buckets)] <= 0:
        return None
    count = buckets[max(buckets)]
    for bound in sorted(buckets):
        if buckets[bound] >= q * count:
            return bound
    return None


@dataclass(frozen=True)
class Usage:
    cpu_seconds: float
    rss_bytes: int


class Processes:
    """CPU time and memory of a group of processes (a worker, the dev server, PostgreSQL)."""

    def __init__(self, pids: Sequence[int]) -> None:
        self._processes = [psutil.Process(pid) for pid in pids]

    @classmethod
    def named(cls, name: str) -> Processes:
        return cls([p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == name])

    def usage(self) -> Usage:
        cpu, rss = 0.0, 0
        for process in self._processes:
            try:
                times = process.cpu_times()
                cpu += times.user + times.system
                rss += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return Usage(cpu, rss)


@dataclass(frozen=True)
class Delays:
    """Condition-to-order delays in seconds, by what made the condition true."""

    feed: list[float]  # the feed's read that fired the trigger -> the order's intent
    timer: list[float]  # the bot's timer due -> the order's intent
    orders: int  # all orders created in the window
    acting_bots: int  # bots with an order in the last two minutes of the window
    unpaired: int  # timer orders whose due time could not be told (first order, skipped tick)


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def delays(
    sessions: async_sessionmaker[AsyncSession],
    interval_bots: frozenset[uuid.UUID],
    interval: timedelta,
    since: datetime,
    until: datetime,
) -> Delays:
    """Each order created in [since, until): a sale, or a buy of a dip bot, was woken by its
    feed (condition true = `creation_context.observation.at`, the feed's read); an interval
    bot's buy by its timer, due one interval after the previous tick, which read the market for
    its order (its `observation.at`, a few ms after the tick began: the delay is slightly
    understated). A timer order more than 1.5 intervals after the previous one followed a tick
    that did not buy: its due time is not known and it is left out."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(
                    BotOrderRecord.bot_id,
                    BotOrderRecord.side,
                    BotOrderRecord.created_at,
                    BotOrderRecord.creation_context,
                )
                .where(BotOrderRecord.created_at < until)
                .order_by(BotOrderRecord.bot_id, BotOrderRecord.created_at)
            )
        ).all()
    feed: list[float] = []
    timer: list[float] = []
    acting: set[uuid.UUID] = set()
    unpaired = orders = 0
    previous: dict[uuid.UUID, datetime] = {}  # an interval bot's last buy's read
    for bot_id, side, created_at, context in rows:
        observed = datetime.fromisoformat(context["observation"]["at"])
        created = created_at  # UtcDateTime: aware
        timer_buy = bot_id in interval_bots and side == "buy"
        last = previous.get(bot_id)
        if timer_buy:
            previous[bot_id] = observed
        if created < since:
            continue
        orders += 1
        if created >= until - ACTING_WINDOW:
            acting.add(bot_id)
        if not timer_buy:
            feed.append((created - observed).total_seconds())
        elif last is None or observed - last > interval * 1.5:
            unpaired += 1
        else:
            timer.append((created - (last + interval)).total_seconds())
    return Delays(feed, timer, orders, len(acting), unpaired)


@dataclass(frozen=True)
class FeedRuns:
    runs: int
    reads: int
    evaluations: int  # reads x bots watched
    woken: int
    seconds: float  # the runs' total length


async def feed_runs(
    client: Client, symbols: Iterable[str], run_seconds: float, since: datetime, until: datetime
) -> FeedRuns:
    """The watch runs that ended in [since, until), from each market feed's history."""
    runs = reads = evaluations = woken = 0
    for symbol in symbols:
        handle = client.get_workflow_handle(feed_workflow_id(Venue.PAPER, symbol))
        async for event in handle.fetch_history_events():
            if not event.HasField("activity_task_completed_event_attributes"):
                continue
            ended = event.event_time.ToDatetime().replace(tzinfo=since.tzinfo)
            if not since <= ended < until:
                continue
            payloads = event.activity_task_completed_event_attributes.result.payloads
            [result] = await client.data_converter.decode(list(payloads), [WatchResult])
            runs += 1
            reads += result.reads
            evaluations += result.reads * result.watching
            woken += result.woken
    return FeedRuns(runs, reads, evaluations, woken, runs * run_seconds)


def delay_summary(found: Delays) -> dict[str, float | None]:
    both = [*found.feed, *found.timer]
    return {
        "delay_feed_n": len(found.feed),
        "delay_feed_p50": percentile(found.feed, 0.5),
        "delay_feed_p99": percentile(found.feed, 0.99),
        "delay_feed_max": max(found.feed, default=None),
        "delay_timer_n": len(found.timer),
        "delay_timer_p50": percentile(found.timer, 0.5),
        "delay_timer_p99": percentile(found.timer, 0.99),
        "delay_timer_max": max(found.timer, default=None),
        "delay_p50": percentile(both, 0.5),
        "delay_p99": percentile(both, 0.99),
    }
