"""When a SCHEDULED bot fires next: a five-field cron expression read in an IANA time zone.

Pure and deterministic (``now`` is an argument), so a workflow computes its next timer from it
and a replay computes the same one. The calendar arithmetic is `cronsim`'s, which follows
Debian cron across daylight-saving changes:

- a job at a fixed local time (minute and hour both fixed, e.g. ``30 2 * * *``) whose time
  does not exist that day (clocks jump forward over it) fires at the first minute that exists
  after it, and a time that happens twice (clocks go back) fires once, at its first occurrence;
- a job with a wildcard minute or hour (``*/15 * * * *``, ``0 * * * *``) follows real time:
  it fires every matching wall-clock minute as it occurs, both passes of a repeated hour
  included, and none in a skipped one.

Day of month and day of week combine as cron does: both restricted means either matches.
A day that not every month has (``0 9 31 * *``) fires only in the months that have it.
Zones are loaded with `zoneinfo.ZoneInfo` (cached per process; the `tzdata` package supplies
the database where the system has none). Workflows import this module passed through the
sandbox (``workflow.unsafe.imports_passed_through()``, as they import all of `domain`): imported
inside it, `ZoneInfo` is a restricted proxy that `datetime` refuses as a tzinfo.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

__all__ = ["ScheduleError", "next_fire", "next_fires", "validate_cron", "validate_timezone"]


class ScheduleError(ValueError):
    """A cron expression or time zone that cannot be scheduled; the message says why."""


def validate_timezone(name: str) -> ZoneInfo:
    """The zone named ``name`` (``America/Sao_Paulo``, ``UTC``), or ScheduleError."""
    try:
        # ZoneInfo refuses paths out of the database itself; a directory or data file named
        # inside it fails to open or to parse.
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ScheduleError(
            f"unknown time zone {name!r} (use an IANA name such as UTC or America/Sao_Paulo)"
        ) from exc


def validate_cron(expression: str) -> str:
    """The expression with its fields separated by single spaces, or ScheduleError naming the
    bad field. Five fields: minute, hour, day of month, month, day of week (``L``, ``LW``,
    ``MON#2``, names ``JAN``/``MON`` as cron knows them). A schedule that never fires in the
    next 50 years (``0 0 30 2 *``) is refused too."""
    fields = expression.split()
    if len(fields) != 5:
        raise ScheduleError(
            f"cron expression {expression!r} must have 5 fields (minute hour day-of-month "
            f"month day-of-week), got {len(fields)}"
        )
    normalised = " ".join(fields)
    try:
        # A fixed start keeps the check deterministic; the first fire proves it ever fires.
        next(CronSim(normalised, datetime(2000, 1, 1, tzinfo=UTC)))
    except CronSimError as exc:
        raise ScheduleError(f"cron expression {expression!r}: {_lower_first(str(exc))}") from exc
    except StopIteration:
        raise ScheduleError(f"cron expression {expression!r} never fires") from None
    return normalised


def next_fire(expression: str, timezone: str, now: datetime) -> datetime:
    """The first moment strictly after ``now`` (aware) at which ``expression`` fires in
    ``timezone``, as an aware UTC datetime on a whole minute."""
    return next_fires(expression, timezone, now, 1)[0]


def next_fires(expression: str, timezone: str, now: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times after ``now``, ascending, in UTC."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if count < 1:
        raise ValueError("count must be at least 1")
    zone = validate_timezone(timezone)
    sim = CronSim(validate_cron(expression), now.astimezone(zone))
    fires: list[datetime] = []
    try:
        while len(fires) < count:
            fire = next(sim).astimezone(UTC)
            # cronsim walks fixed-time jobs on the local wall clock: from inside the second
            # pass of a repeated hour it offers the first pass's time again, already past.
            if fire > now:
                fires.append(fire)
    except StopIteration:
        raise ScheduleError(f"cron expression {expression!r} no longer fires") from None
    return fires


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
