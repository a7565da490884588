"""Time in one convention: aware UTC in Python, naive UTC in the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, literal
from sqlalchemy.orm import Session
from sqlalchemy.types import DateTime, TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_instant(value: str) -> datetime:
    """Parse ISO-8601; a value without offset is taken as UTC."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


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


def plus_days(session: Session, column, days: int):
    """`column` + `days` days in SQL: an interval on PostgreSQL, SQLite's datetime() modifier there."""
    if session.get_bind().dialect.name == "postgresql":
        return column + literal(timedelta(days=days))
    return func.datetime(column, f"{int(days):+d} days")


def render_migration_type(type_, obj, autogen_context):
    """Alembic autogenerate hook: migrations store UTCDateTime as a plain DateTime."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False
