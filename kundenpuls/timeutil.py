"""Time in one convention: aware UTC in Python, naive UTC in the database."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.types import DateTime, TypeDecorator

# The moments and days any input may name: wide enough for every real purchase and report, narrow enough that
# adding an offset, a week or a month never leaves what datetime and the databases can hold.
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    """`value` as aware UTC (naive means UTC); ValueError outside EARLIEST_DAY to LATEST_DAY (an offset that
    overflows, `0001-01-01T00:00:00+14:00`, included)."""
    try:
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range") from None
    check_day(moment.date())
    return moment


def check_day(day: date) -> date:
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValueError(f"the date must lie between {EARLIEST_DAY} and {LATEST_DAY}")
    return day


def parse_instant(value: str) -> datetime:
    """Parse ISO-8601; a value without offset is taken as UTC. ValueError for anything else or out of range."""
    return to_utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))


class UTCDateTime(TypeDecorator):
    """Stores naive UTC (SQLite has no zones) and hands back aware UTC, on every engine."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


def render_migration_type(type_, obj, autogen_context):
    """Alembic autogenerate hook: migrations store UTCDateTime as a plain DateTime."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False
