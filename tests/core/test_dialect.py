"""Each SQL idiom of kundenpuls/dialect.py against Python's answer, on the database this run uses (the suite
runs on SQLite and on PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Date, func, literal, select

from kundenpuls import dialect
from kundenpuls.timeutil import UTCDateTime

LATER = datetime(2026, 3, 4, 18, 30, tzinfo=UTC)
EARLIER = datetime(2026, 2, 26, 6, 0, tzinfo=UTC)


def value(session, expression):
    return session.scalar(select(expression))


def at(moment: datetime):
    return literal(moment, UTCDateTime())


def test_days_and_hours_between(session):
    expected = (LATER - EARLIER).total_seconds() / 86400
    assert value(session, dialect.days_between(session, at(LATER), at(EARLIER))) == pytest.approx(expected)
    assert value(session, dialect.hours_between(session, at(LATER), at(EARLIER))) == pytest.approx(expected * 24)


def test_least_and_greatest(session):
    assert value(session, dialect.least(session, literal(3), literal(1), literal(2))) == 1
    assert value(session, dialect.greatest(session, literal(3.5), literal(1.0))) == 3.5


def test_plus_days(session):
    shifted = value(session, dialect.plus_days(session, at(EARLIER), 7))
    if isinstance(shifted, str):  # SQLite's datetime() gives text
        shifted = datetime.fromisoformat(shifted)
    assert shifted.replace(tzinfo=None) == (EARLIER + timedelta(days=7)).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("moment", "interval", "expected"),
    [
        (LATER, "week", "2026-03-02"),  # a Wednesday: its Monday
        (datetime(2026, 3, 2, 0, 0, tzinfo=UTC), "week", "2026-03-02"),  # the Monday itself
        (datetime(2026, 3, 1, 23, 59, tzinfo=UTC), "week", "2026-02-23"),  # a Sunday: the Monday before
        (LATER, "month", "2026-03-01"),
        (datetime(2025, 12, 31, 23, 59, tzinfo=UTC), "month", "2025-12-01"),
    ],
)
def test_period_start_of_a_timestamp_and_of_a_date(session, moment, interval, expected):
    assert value(session, dialect.period_start_text(session, at(moment), interval)) == expected
    day = value(session, dialect.period_start_day(session, literal(moment.date(), Date()), interval))
    assert str(day)[:10] == expected


def test_day_of_a_timestamp(session):
    day = value(session, dialect.day_of(dialect.name_of(session), at(LATER)))
    assert str(day)[:10] == "2026-03-04"


def test_upsert_insert_does_nothing_on_conflict(session):
    from kundenpuls.models import ApiKey

    row = {"name": "shop", "prefix": "kp_x", "key_hash": "h" * 64, "created_at": LATER}
    upsert = dialect.upsert_insert(dialect.name_of(session))(ApiKey.__table__)
    session.execute(upsert.on_conflict_do_nothing(index_elements=["key_hash"]), [row, row])
    assert session.scalar(select(func.count()).select_from(ApiKey.__table__)) == 1
    session.rollback()


def test_set_local_refuses_anything_but_a_plain_setting(session):
    dialect.set_local(session, "work_mem", "64MB")
    if dialect.is_postgresql(session):
        assert session.scalar(select(func.current_setting("work_mem"))) == "64MB"
    with pytest.raises(ValueError):
        dialect.set_local(session, "work_mem", "1'; DROP TABLE customers; --")
    session.rollback()
    assert session.scalar(select(literal(1))) == 1  # nothing was sent: the session goes on


@pytest.mark.parametrize(
    "moment",
    [datetime(1970, 1, 1, 0, 0, tzinfo=UTC), datetime(1997, 9, 30, 23, 59, 59, tzinfo=UTC), LATER, EARLIER],
)
def test_day_number(session, moment):
    expected = (moment.date() - datetime(1970, 1, 1).date()).days
    assert value(session, dialect.day_number(session, at(moment))) == expected


def test_bulk_load_writes_every_row_in_the_transaction(session):
    from sqlalchemy import Column, Float, Integer, MetaData, String, Table

    table = Table("bulk_probe", MetaData(), Column("id", Integer, primary_key=True), Column("name", String(10)),
                  Column("share", Float))  # fmt: skip
    table.create(session.connection())
    try:
        rows = [(i, None if i % 3 == 0 else f"n{i}", i / 7) for i in range(1, 2501)]
        dialect.bulk_load(session, table, ["id", "name", "share"], iter(rows))
        stored = session.execute(select(table).order_by(table.c.id)).all()
        assert [tuple(row) for row in stored] == [(i, n, pytest.approx(s)) for i, n, s in rows]
    finally:
        session.rollback()
        table.drop(session.connection(), checkfirst=True)
        session.commit()


def test_one_of_matches_a_list_of_any_length(session):
    from customers.models import Customer

    for i in range(5):
        session.add(Customer(external_id=f"C-{i}", created_at=LATER))
    session.flush()
    wanted = ["C-1", "C-3", "C-9"] + [f"X-{i}" for i in range(1500)]
    found = session.scalars(select(Customer.external_id).where(dialect.one_of(session, Customer.external_id, wanted)))
    assert sorted(found) == ["C-1", "C-3"]
    assert session.scalars(select(Customer.id).where(dialect.one_of(session, Customer.id, []))).all() == []
    session.rollback()


def test_insert_new_rows_skips_existing_keys_and_returns_the_rest(session):
    from customers.models import Customer

    session.add(Customer(external_id="C-old", created_at=EARLIER, email="alt@example.com"))
    session.flush()
    rows = [
        {"external_id": key, "created_at": LATER, "email": f"{key}@example.com", "name": name}
        for key, name in (("C-a", "Anna"), ("C-old", "Nope"), ("C-b", None))
    ]
    returned = dialect.insert_new_rows(session, Customer.__table__, rows, "external_id", ("external_id", "id"))
    assert sorted(key for key, _ in returned) == ["C-a", "C-b"]
    stored = {c.external_id: c for c in session.scalars(select(Customer))}
    assert {key: c.id for key, c in stored.items() if key != "C-old"} == dict(returned)
    # Values as the ORM writes them: times in UTC, column defaults filled in, the existing row untouched.
    assert (stored["C-a"].name, stored["C-a"].created_at, stored["C-b"].name) == ("Anna", LATER, None)
    assert (stored["C-a"].lifecycle_phase, stored["C-a"].purchase_count) == ("potential", 0)
    assert (stored["C-old"].name, stored["C-old"].email) == (None, "alt@example.com")
    assert dialect.insert_new_rows(session, Customer.__table__, [], "external_id", ("id",)) == []
    session.rollback()


def test_postgresql_text_runs_an_upsert_as_compiled_with_its_types_and_is_cached(session, postgresql_only):
    """SQLAlchemy 2.0 compiles a PostgreSQL upsert on every execution (it has no cache key); the text does not."""
    from sqlalchemy import bindparam
    from sqlalchemy.dialects import postgresql

    from kundenpuls.audit import AuditEvent

    table = AuditEvent.__table__
    at = bindparam("at", type_=table.c.at.type)
    upsert = (
        postgresql.insert(table)
        .values(entity="probe", entity_id=1, action="checked", at=at)
        .on_conflict_do_nothing()
        .returning(table.c.id, table.c.at, literal("fixed").label("fixed"))
    )
    assert upsert._generate_cache_key() is None
    statement = dialect.postgresql_text(upsert)
    assert statement._generate_cache_key() is not None
    moment = datetime(2026, 12, 2, 18, 30, tzinfo=UTC)
    row = session.execute(statement, {"at": moment}).one()
    assert (row.at, row.fixed) == (moment, "fixed")  # the column's type turns naive UTC back into aware
    assert session.get(AuditEvent, row.id).at == moment
