"""SQL idioms that PostgreSQL and SQLite spell differently, in one place.

Every package writes its queries once with these helpers instead of branching on the database itself: an upsert
insert, least/greatest, differences between timestamps, adding days, the first day of a week or month, and
settings for one transaction. `tests/core/test_dialect.py` runs each on both databases against Python's answer.
Larger strategies that differ by database (one data-modifying statement on PostgreSQL, two on SQLite) stay with
their package and ask `is_postgresql`.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Date, Integer, TextClause, bindparam, cast, func, literal, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

POSTGRESQL = "postgresql"
EPOCH_DAY = date(1970, 1, 1)
JULIAN_EPOCH = 2440587.5  # julianday of 1970-01-01 00:00


def name_of(session: Session) -> str:
    return session.get_bind().dialect.name


def is_postgresql(session: Session) -> bool:
    return name_of(session) == POSTGRESQL


def upsert_insert(dialect: str):
    """`insert` with ON CONFLICT support for this database (postgresql.insert or sqlite.insert)."""
    return postgresql.insert if dialect == POSTGRESQL else sqlite.insert


def least(session: Session, *values):
    return (func.least if is_postgresql(session) else func.min)(*values)


def greatest(session: Session, *values):
    return (func.greatest if is_postgresql(session) else func.max)(*values)


def days_between(session: Session, later, earlier):
    """Days from `earlier` to `later` as a float. date_part is float arithmetic; EXTRACT returns numeric since
    PostgreSQL 14, several times slower over a million answers."""
    if is_postgresql(session):
        return func.date_part("epoch", later - earlier) / 86400.0
    return func.julianday(later) - func.julianday(earlier)


def text_list(session: Session, column, separator: str):
    """An aggregate joining a text column's values with `separator` (order not promised: split and sort them)."""
    if is_postgresql(session):
        return func.string_agg(column, literal(separator))
    return func.group_concat(column, literal(separator))


def hours_between(session: Session, later, earlier):
    return days_between(session, later, earlier) * 24.0


def plus_days(session: Session, column, days: int):
    """`column` + `days` days: an interval on PostgreSQL, SQLite's datetime() modifier there."""
    if is_postgresql(session):
        return column + literal(timedelta(days=days))
    return func.datetime(column, f"{int(days):+d} days")


def period_start_text(session: Session, column, interval: str):
    """The first day of the UTC week (Monday) or month of a timestamp column, as text 'YYYY-MM-DD'."""
    if is_postgresql(session):
        return func.to_char(func.date_trunc(interval, column), "YYYY-MM-DD")
    if interval == "week":
        return func.date(column, "weekday 0", "-6 days")
    return func.strftime("%Y-%m-01", column)


def period_start_day(session: Session, column, interval: str):
    """The first day of the week or month of a DATE column: plain date arithmetic on PostgreSQL (date_part gives a
    float; EXTRACT gives numeric since PostgreSQL 14, a fifth slower over the rollup)."""
    if is_postgresql(session):
        part = "isodow" if interval == "week" else "day"
        return column - cast(func.date_part(part, column), Integer) + 1
    return period_start_text(session, column, interval)


def day_of(dialect: str, column):
    """The UTC day of a timestamp column as a DATE (for cached statements built per dialect name)."""
    return cast(column, Date) if dialect == POSTGRESQL else func.date(column)


def day_number(session: Session, column):
    """The UTC day of a timestamp column as an integer, days since 1970-01-01: day counts become subtraction."""
    if is_postgresql(session):
        return cast(column, Date) - literal(EPOCH_DAY, Date)
    return cast(func.julianday(func.date(column)) - JULIAN_EPOCH, Integer)


def bulk_load(session: Session, table, columns: list[str], rows) -> None:
    """Many new rows into `table` in the session's transaction: COPY on PostgreSQL, an executemany INSERT on
    SQLite. COPY writes a million customer outlooks in seconds where the INSERT took 25 s (bench/models.py)."""
    if is_postgresql(session):
        cursor = session.connection().connection.driver_connection.cursor()
        names = ", ".join(columns)
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    batch: list[dict] = []
    for row in rows:
        batch.append(dict(zip(columns, row, strict=True)))
        if len(batch) == 10_000:
            session.execute(table.insert(), batch)
            batch = []
    if batch:
        session.execute(table.insert(), batch)


def one_of(session: Session, column, values: list):
    """`column IN (values)`; on PostgreSQL `column IN (SELECT unnest(array))`, one parameter however long: psycopg
    parses a statement's placeholders on every call, and the 1,000 of a batch's order ids cost more there than the
    lookup itself (customers.bulk, profiled)."""
    if is_postgresql(session):
        # A semi-join with the unnested array, not `= ANY(array)`: a plan that scans the table (a generic plan made
        # while it was small) compares every row with every element there, 1.5 s a batch with 50,000 customers.
        array = bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        return column.in_(select(func.unnest(array)).scalar_subquery())
    return column.in_(values)


def insert_new_rows(session: Session, table, rows: list[dict], conflict: str, returning: tuple[str, ...]) -> list:
    """Insert `rows` (dicts with the same keys) but those whose `conflict` column value exists already; returns the
    `returning` columns of the rows inserted (a concurrent transaction's rows count as existing).

    PostgreSQL: one INSERT ... SELECT FROM unnest(one array per column), a parameter per column. The multi-row
    VALUES that SQLAlchemy writes otherwise has one per value, and psycopg parses those 8,000 placeholders of a
    batch of purchases anew on every call. SQLite: that multi-row INSERT.
    """
    if not rows:
        return []
    if not is_postgresql(session):
        insert = sqlite.insert(table).on_conflict_do_nothing(index_elements=[conflict])
        returned = insert.returning(*(table.c[name] for name in returning))
        return session.execute(returned, rows).all()
    dialect = session.get_bind().dialect
    columns = list(rows[0])
    defaults = {
        column.name: column.default.arg
        for column in table.columns
        if column.name not in columns and column.default is not None and column.default.is_scalar
    }
    arrays, casts = {}, []
    for name in [*columns, *defaults]:
        column = table.c[name]
        process = column.type.bind_processor(dialect) or (lambda value: value)
        values = [row[name] for row in rows] if name in rows[0] else [defaults[name]] * len(rows)
        arrays[f"a_{name}"] = [None if value is None else process(value) for value in values]
        casts.append(f"CAST(:a_{name} AS {column.type.compile(dialect)}[])")
    names = ", ".join([*columns, *defaults])
    statement = (
        f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({', '.join(casts)}) "
        f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {', '.join(returning)}"
    )
    return session.execute(text(statement), arrays).all()


def set_local(session: Session, setting: str, value: str) -> None:
    """A PostgreSQL setting for the current transaction only (work_mem, jit); nothing on SQLite."""
    if not setting.replace("_", "").isalnum() or not value.replace(" ", "").isalnum():
        raise ValueError(f"not a setting: {setting} = {value}")  # the names and values are the code's own
    if is_postgresql(session):
        session.execute(text(f"SET LOCAL {setting} = '{value}'"))


def postgresql_text(statement) -> TextClause:
    """A PostgreSQL statement as text, compiled once, with the bound parameters' types and values and the result
    columns' types: for statements SQLAlchemy 2.0 compiles on every execution because it cannot cache them
    (`postgresql.insert` has `inherit_cache = False`, so every upsert). Compiling the single purchase call's
    statement took 4.6 ms of its 12 ms in process; the text is cached like any other. Its parameters need explicit
    CASTs where PostgreSQL cannot infer their type (this renders no `::type` casts). The answer statement
    (surveys.answer_path) goes further for its measured reasons: constants written in, the driver's cursor."""
    compiled = statement.compile(dialect=postgresql.dialect(paramstyle="named"))
    binds = [
        bindparam(name, value=bind.value, type_=bind.type, unique=False, required=bind.value is None)
        for name, bind in ((compiled.bind_names[bind], bind) for bind in compiled.binds.values())
    ]
    columns = {column.name: column.type for column in statement.exported_columns}
    return text(compiled.string).bindparams(*binds).columns(**columns)
