"""When a mail may go out: weekdays and hours in the recipient's own time zone."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_TZ = "Europe/Berlin"


def next_window_start(now: datetime, tz: str | None, weekdays: Collection[int], start: time, end: time) -> datetime:
    """The earliest instant at or after `now` that lies inside the window, in UTC."""
    zone = ZoneInfo(tz or DEFAULT_TZ)
    local = now.astimezone(zone)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        if day.weekday() not in weekdays:
            continue
        opens = datetime.combine(day, start, tzinfo=zone)
        closes = datetime.combine(day, end, tzinfo=zone)
        if local < opens:
            return opens.astimezone(UTC)
        if local < closes:
            return now.astimezone(UTC)
    raise ValueError("the send window is empty: no weekday or no hours allowed")


def is_open(now: datetime, tz: str | None, weekdays: Collection[int], start: time, end: time) -> bool:
    return next_window_start(now, tz, weekdays, start, end) == now.astimezone(UTC)
