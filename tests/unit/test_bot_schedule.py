"""Cron next-fire times for SCHEDULED bots: DST changes both ways (New York today, São Paulo's
historical DST that began and ended at midnight), month ends, leap days, zones."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.bots.schedule import (
    ScheduleError,
    next_fire,
    next_fires,
    validate_cron,
    validate_timezone,
)

NY = "America/New_York"  # 2026: EST→EDT 03-08 02:00 (07:00Z); EDT→EST 11-01 02:00 (06:00Z)
SP = "America/Sao_Paulo"  # 2018-11-04 00:00 -03 → 01:00 -02; 2019-02-17 00:00 -02 → 23:00 -03
LISBON = "Europe/Lisbon"  # 2026: WET→WEST 03-29 01:00 (01:00Z); WEST→WET 10-25 02:00 (01:00Z)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


CASES = [
    # (why, expression, zone, now, the next fires in UTC)
    (
        "spring forward: 02:30 does not exist, fires at 03:00 EDT once, then 02:30 again",
        "30 2 * * *",
        NY,
        utc(2026, 3, 7, 12),
        [utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30), utc(2026, 3, 10, 6, 30)],
    ),
    (
        "spring forward: a fixed time outside the gap shifts its UTC hour",
        "0 9 * * *",
        NY,
        utc(2026, 3, 7, 12),
        [utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)],
    ),
    (
        "spring forward: every 30 minutes follows real time, no fire in the skipped hour",
        "*/30 * * * *",
        NY,
        utc(2026, 3, 8, 6, 15),
        [utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7), utc(2026, 3, 8, 7, 30)],
    ),
    (
        "fall back: 01:30 happens twice, fires once at the first (EDT)",
        "30 1 * * *",
        NY,
        utc(2026, 10, 31, 12),
        [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)],
    ),
    (
        "fall back: asked during the second 01:xx, the first 01:30 is past: next day",
        "30 1 * * *",
        NY,
        utc(2026, 11, 1, 6, 15),
        [utc(2026, 11, 2, 6, 30), utc(2026, 11, 3, 6, 30)],
    ),
    (
        "fall back: hourly fires at both 01:00 (real time), then 02:00 EST",
        "0 * * * *",
        NY,
        utc(2026, 11, 1, 4, 30),
        [utc(2026, 11, 1, 5), utc(2026, 11, 1, 6), utc(2026, 11, 1, 7)],
    ),
    (
        "São Paulo DST began at midnight: 00:00 fires at 01:00 -02 that day",
        "0 0 * * *",
        SP,
        utc(2018, 11, 3, 12),
        [utc(2018, 11, 4, 3), utc(2018, 11, 5, 2)],
    ),
    (
        "São Paulo DST began: every 30 minutes skips the missing hour",
        "*/30 * * * *",
        SP,
        utc(2018, 11, 4, 2, 15),
        [utc(2018, 11, 4, 2, 30), utc(2018, 11, 4, 3), utc(2018, 11, 4, 3, 30)],
    ),
    (
        "São Paulo DST ended: 23:30 of the repeated hour fires once, at -02",
        "30 23 * * *",
        SP,
        utc(2019, 2, 16, 12),
        [utc(2019, 2, 17, 1, 30), utc(2019, 2, 18, 2, 30)],
    ),
    (
        "São Paulo DST ended: every 30 minutes fires in both passes of 23:xx",
        "*/30 * * * *",
        SP,
        utc(2019, 2, 17, 1, 15),
        [utc(2019, 2, 17, 1, 30), utc(2019, 2, 17, 2), utc(2019, 2, 17, 2, 30)],
    ),
    (
        "São Paulo today (no DST since 2019): 09:00 is 12:00Z all year",
        "0 9 * * *",
        SP,
        utc(2026, 1, 10, 12),
        [utc(2026, 1, 11, 12), utc(2026, 1, 12, 12)],
    ),
    (
        "Lisbon spring forward: 01:30 does not exist, fires at 02:00 WEST",
        "30 1 * * *",
        LISBON,
        utc(2026, 3, 28, 12),
        [utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)],
    ),
    (
        "Lisbon fall back: 01:30 happens twice, fires once at the first (WEST)",
        "30 1 * * *",
        LISBON,
        utc(2026, 10, 24, 12),
        [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
    ),
    (
        "day 31: only the months that have it",
        "0 9 31 * *",
        SP,
        utc(2026, 1, 31, 12),
        [utc(2026, 3, 31, 12), utc(2026, 5, 31, 12), utc(2026, 7, 31, 12), utc(2026, 8, 31, 12)],
    ),
    (
        "last day of the month (L), February of a leap year",
        "0 0 L * *",
        "UTC",
        utc(2028, 1, 31, 0),
        [utc(2028, 2, 29), utc(2028, 3, 31), utc(2028, 4, 30)],
    ),
    (
        "leap day: every four years",
        "0 9 29 2 *",
        "UTC",
        utc(2026, 1, 31, 12),
        [utc(2028, 2, 29, 9), utc(2032, 2, 29, 9)],
    ),
    (
        "every minute: strictly after now, on whole minutes",
        "* * * * *",
        "UTC",
        utc(2026, 1, 31, 12, 0, 30),
        [utc(2026, 1, 31, 12, 1), utc(2026, 1, 31, 12, 2)],
    ),
    (
        "a fire time equal to now is not the next one",
        "0 9 * * *",
        "UTC",
        utc(2026, 6, 1, 9),
        [utc(2026, 6, 2, 9)],
    ),
    (
        "day of month OR day of week when both are restricted, as cron",
        "0 12 1 * MON",
        "UTC",
        utc(2026, 5, 30),  # a Saturday; 06-01 is a Monday and day 1, 06-08 a Monday
        [utc(2026, 6, 1, 12), utc(2026, 6, 8, 12)],
    ),
    (
        "names and the second Monday",
        "0 8 * JAN MON#2",
        "UTC",
        utc(2026, 1, 1),
        [utc(2026, 1, 12, 8), utc(2027, 1, 11, 8)],
    ),
]


@pytest.mark.parametrize(
    ("expression", "zone", "now", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_next_fires(expression: str, zone: str, now: datetime, expected: list[datetime]) -> None:
    fires = next_fires(expression, zone, now, len(expected))
    assert fires == expected
    assert all(fire.tzinfo is UTC for fire in fires)
    assert next_fire(expression, zone, now) == expected[0]


def test_the_same_expression_in_utc_and_a_local_zone() -> None:
    now = utc(2026, 7, 1)
    assert next_fire("0 9 * * *", "UTC", now) == utc(2026, 7, 1, 9)
    assert next_fire("0 9 * * *", SP, now) == utc(2026, 7, 1, 12)
    assert next_fire("0 9 * * *", "Asia/Tokyo", now) == utc(2026, 7, 2, 0)


def test_now_in_any_zone_means_the_same_instant() -> None:
    instant = utc(2026, 3, 8, 6, 59)
    local = instant.astimezone(ZoneInfo("Asia/Kolkata"))
    assert next_fire("30 2 * * *", NY, local) == next_fire("30 2 * * *", NY, instant)


def test_whitespace_between_fields_is_normalised() -> None:
    assert validate_cron("  0   9 * *\t* ") == "0 9 * * *"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "must have 5 fields"),
        ("* * * *", "must have 5 fields"),
        ("0 9 * * * *", "must have 5 fields"),
        ("60 * * * *", "bad minute"),
        ("0 24 * * *", "bad hour"),
        ("0 9 32 * *", "bad day-of-month"),
        ("0 9 30 2 *", "bad day-of-month"),  # never: February has no 30th
        ("0 9 * 13 *", "bad month"),
        ("0 9 * * 8", "bad day-of-week"),
        ("0 9 * * MON#6", "bad day-of-week"),
        ("*/0 * * * *", "bad minute"),
        ("5-1 * * * *", "bad minute"),
        ("@daily * * * *", "bad minute"),
        ("a b c d e", "bad minute"),
    ],
)
def test_invalid_expressions_are_refused_with_the_field(expression: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        validate_cron(expression)
    with pytest.raises(ScheduleError, match=message):
        next_fire(expression, "UTC", utc(2026, 1, 1))


@pytest.mark.parametrize(
    "zone", ["", "Mars/Olympus", "utc", "America", "../etc/passwd", "/etc/localtime", "zone.tab"]
)
def test_unknown_time_zones_are_refused(zone: str) -> None:
    with pytest.raises(ScheduleError, match="unknown time zone"):
        validate_timezone(zone)
    with pytest.raises(ScheduleError, match="unknown time zone"):
        next_fire("0 9 * * *", zone, utc(2026, 1, 1))


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_fire("0 9 * * *", "UTC", datetime(2026, 1, 1))


@given(
    now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)),
    zone=st.sampled_from([NY, SP, LISBON, "UTC", "Australia/Lord_Howe", "Asia/Kolkata"]),
    expression=st.sampled_from(["30 2 * * *", "*/7 * * * *", "0 0 L * *", "15 1 * * SUN"]),
)
def test_fires_are_after_now_ascending_and_on_whole_minutes(
    now: datetime, zone: str, expression: str
) -> None:
    start = now.replace(tzinfo=UTC)
    fires = next_fires(expression, zone, start, 4)
    assert fires[0] > start
    assert all(a < b for a, b in itertools.pairwise(fires))
    assert all(f.second == 0 and f.microsecond == 0 for f in fires)
    # Asking again from just before a fire finds that fire: no fire is skipped by re-asking.
    assert next_fire(expression, zone, fires[1] - timedelta(seconds=1)) == fires[1]
