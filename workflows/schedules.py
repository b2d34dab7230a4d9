"""Schedule arithmetic: which slot a schedule trigger fires for at a given moment.

A cron slot is the latest minute at or before ``now`` that the five-field expression matches in
the trigger's time zone, with celery's crontab semantics (day of month AND day of week). A wall
time is read as its first occurrence (``fold=0``), as Beat's crontab does across DST: a time in
the hour the clocks skip falls that much later (02:30 on the spring-forward day is 03:30), and a
time in the hour that repeats is a slot once, at its first occurrence.

An interval slot is ``start_at + k * interval_s`` (k ≥ 0): the latest one at or before ``now``.
A trigger stored before ``start_at`` existed counts from the Unix epoch.
"""

import zoneinfo
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from celery.schedules import crontab
from cron_descriptor import ExpressionDescriptor, Options

from workflows.trigger_checks import cron_parse, start_at_parse

_SEARCH_DAYS = 366 * 4 + 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# More than any UTC offset change of a zone (DST shifts by one hour, a few zones by two).
_WALL_MARGIN = timedelta(hours=3)


def _walls(schedule: crontab, latest: datetime) -> Iterator[datetime]:
    """The naive wall times the expression matches, at or before ``latest``, latest first."""
    hours = sorted(schedule.hour, reverse=True)
    minutes = sorted(schedule.minute, reverse=True)
    day = latest.replace(hour=0, minute=0)
    for _ in range(_SEARCH_DAYS):
        if (
            day.month in schedule.month_of_year
            and day.day in schedule.day_of_month
            and day.isoweekday() % 7 in schedule.day_of_week
        ):
            for hour in hours:
                if day.replace(hour=hour) > latest:
                    continue
                for minute in minutes:
                    wall = day.replace(hour=hour, minute=minute)
                    if wall <= latest:
                        yield wall
        day -= timedelta(days=1)


def _cron_previous(schedule: crontab, now: datetime, zone: zoneinfo.ZoneInfo) -> datetime | None:
    # Around a DST change wall order and real order differ by up to the shift: look at every
    # wall time within _WALL_MARGIN of the first one at or before now, and keep the latest.
    local = now.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
    best: datetime | None = None
    best_wall = local
    for wall in _walls(schedule, local + _WALL_MARGIN):
        if best is not None and wall < best_wall - _WALL_MARGIN:
            break
        slot = wall.replace(tzinfo=zone).astimezone(UTC)
        if slot <= now and (best is None or slot > best):
            best, best_wall = slot, wall
    return best


def interval_anchor(trigger: dict[str, Any]) -> datetime:
    """The moment an interval trigger's slots count from."""
    start_at = trigger.get("start_at")
    return start_at_parse(start_at) if start_at else _EPOCH


def schedule_slot(trigger: dict[str, Any], schedule: str, now: datetime) -> datetime | None:
    """The slot (UTC) a schedule trigger fires for at ``now``, or None if it never matched
    (an interval trigger before its ``start_at``)."""
    interval = trigger.get("interval_s")
    if interval:
        anchor = interval_anchor(trigger)
        if now < anchor:
            return None
        every = timedelta(seconds=interval)
        return (anchor + (now - anchor) // every * every).astimezone(UTC)
    zone = zoneinfo.ZoneInfo(trigger.get("timezone") or "UTC")
    return _cron_previous(cron_parse(schedule), now.astimezone(UTC), zone)


def schedule_previous(trigger: dict[str, Any], schedule: str, slot: datetime) -> datetime | None:
    """The slot before ``slot`` (UTC), or None if there is none (before an interval's start)."""
    return schedule_slot(trigger, schedule, slot - timedelta(microseconds=1))


def _cron_next(schedule: crontab, after: datetime) -> datetime | None:
    moment = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    hours = sorted(schedule.hour)
    minutes = sorted(schedule.minute)
    day = moment
    for _ in range(_SEARCH_DAYS):
        if (
            day.month in schedule.month_of_year
            and day.day in schedule.day_of_month
            and day.isoweekday() % 7 in schedule.day_of_week
        ):
            today = day.date() == moment.date()
            for hour in hours:
                if today and hour < moment.hour:
                    continue
                start = moment.minute if today and hour == moment.hour else 0
                for minute in minutes:
                    if minute >= start:
                        return day.replace(hour=hour, minute=minute)
        day = (day + timedelta(days=1)).replace(hour=0, minute=0)
    return None


def schedule_next_runs(
    *, schedule: str, timezone: str, after: datetime, count: int = 5
) -> list[datetime]:
    """The next ``count`` slots after ``after`` that the cron expression matches, in the time
    zone ``timezone`` (aware datetimes in that zone), as ``schedule_slot`` reads wall times
    across DST: a wall time the clocks skip is that much later, and a slot that two wall times
    name is listed once. Raises ValueError for a bad expression and
    zoneinfo.ZoneInfoNotFoundError for an unknown zone."""
    parsed = cron_parse(schedule)
    zone = zoneinfo.ZoneInfo(timezone or "UTC")
    moment = after.astimezone(zone)
    runs: list[datetime] = []
    while len(runs) < count:
        found = _cron_next(parsed, moment)
        if found is None:
            break
        slot = found.replace(fold=0).astimezone(UTC).astimezone(zone)
        if not runs or slot > runs[-1]:
            runs.append(slot)
        moment = found
    return runs


def schedule_upcoming(
    trigger: dict[str, Any], schedule: str, *, after: datetime, count: int
) -> list[datetime]:
    """The next ``count`` slots of a schedule trigger (cron or interval) after ``after``, in the
    trigger's time zone. Raises as schedule_next_runs."""
    zone = trigger.get("timezone") or "UTC"
    interval = trigger.get("interval_s")
    if not interval:
        return schedule_next_runs(schedule=schedule, timezone=zone, after=after, count=count)
    anchor = interval_anchor(trigger)
    every = timedelta(seconds=interval)
    first = 0 if after < anchor else (after - anchor) // every + 1
    local = zoneinfo.ZoneInfo(zone)
    return [(anchor + (first + k) * every).astimezone(local) for k in range(count)]


def _every(seconds: int) -> str:
    unit, n = "second", seconds
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            unit, n = name, seconds // size
            break
    return f"Every {unit}" if n == 1 else f"Every {n} {unit}s"


def schedule_description(trigger: dict[str, Any], schedule: str) -> str:
    """A sentence saying when a schedule trigger fires: "Every 15 minutes" (an interval), "Every
    day at 09:00 (Europe/Paris)", "At 09:30, Monday through Friday (UTC)" (a cron expression, in
    its time zone). Raises ValueError for a bad expression."""
    interval = trigger.get("interval_s")
    if interval:
        return _every(int(interval))
    cron_parse(schedule)
    options = Options()
    options.use_24hour_time_format = True
    described = ExpressionDescriptor(schedule, options).get_description()
    _minute, hour, *days = schedule.split()
    if hour != "*" and days == ["*", "*", "*"]:
        described = f"Every day {described[:1].lower()}{described[1:]}"
    return f"{described} ({trigger.get('timezone') or 'UTC'})"
