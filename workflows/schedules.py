"""Schedule arithmetic: which slot a schedule trigger fires for at a given moment.

A cron slot is the latest minute at or before ``now`` (in the trigger's time zone) that the
five-field expression matches, with celery's crontab semantics (day of month AND day of week).
An interval slot is ``now`` rounded down to a multiple of the interval since the Unix epoch.
"""

import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

from celery.schedules import crontab

from workflows.definition import cron_parse

_SEARCH_DAYS = 366 * 4 + 1


def _cron_previous(schedule: crontab, now: datetime) -> datetime | None:
    moment = now.replace(second=0, microsecond=0)
    hours = sorted(schedule.hour, reverse=True)
    minutes = sorted(schedule.minute, reverse=True)
    day = moment
    for _ in range(_SEARCH_DAYS):
        if (
            day.month in schedule.month_of_year
            and day.day in schedule.day_of_month
            and day.isoweekday() % 7 in schedule.day_of_week
        ):
            today = day.date() == moment.date()
            for hour in hours:
                if today and hour > moment.hour:
                    continue
                limit = moment.minute if today and hour == moment.hour else 59
                for minute in minutes:
                    if minute <= limit:
                        return day.replace(hour=hour, minute=minute)
        day = (day - timedelta(days=1)).replace(hour=23, minute=59)
    return None


def schedule_slot(trigger: dict[str, Any], schedule: str, now: datetime) -> datetime | None:
    """The slot (UTC) a schedule trigger fires for at ``now``, or None if it never matched."""
    interval = trigger.get("interval_s")
    if interval:
        seconds = int(now.timestamp()) // interval * interval
        return datetime.fromtimestamp(seconds, tz=UTC)
    zone = zoneinfo.ZoneInfo(trigger.get("timezone") or "UTC")
    slot = _cron_previous(cron_parse(schedule), now.astimezone(zone))
    return slot.astimezone(UTC) if slot else None
