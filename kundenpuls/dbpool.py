"""Noticing dead database connections without a round trip on every request.

SQLAlchemy's `pool_pre_ping` costs one round trip per checkout, which is a third of the answer POST's
database time. Connections that were in use moments ago are almost always alive, so only a connection
that sat idle in the pool longer than `DB_PING_IDLE_SECONDS` is pinged (the custom pessimistic check from
SQLAlchemy's "Dealing with Disconnects"). A connection that dies under load fails its statement instead;
SQLAlchemy then invalidates the pool, and callers that can safely run again (the answer POST) retry once.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError

log = logging.getLogger(__name__)


def ping_idle_connections(engine: Engine, idle_seconds: float) -> None:
    @event.listens_for(engine, "checkin")
    def remember_checkin(dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection, record, proxy) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out (or opens) another one.
            raise DisconnectionError("idle connection is gone") from exc


def is_disconnect(exc: BaseException) -> bool:
    """The statement failed because the database connection was lost (nothing was committed)."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def first_statement(session, run):
    """`run()` is a request's first statement. When the pooled connection it got turns out to be dead (the
    database restarted while this worker was busy elsewhere or idle less than DB_PING_IDLE_SECONDS), SQLAlchemy
    drops the pool's connections; run it once more on a fresh one. Safe: nothing of the request has happened."""
    try:
        return run()
    except DBAPIError as exc:
        if not is_disconnect(exc):
            raise
        log.info("stale database connection replaced: %s", exc.orig)
        session.rollback()
        return run()


# Pauses before each new attempt at recording what already happened outside (about a minute in all: a database
# restart or a failover).
RECORD_PAUSES = (0.5, 1, 2, 4, 8, 15, 30)


def connection_lost(exc: BaseException) -> bool:
    """The database was unreachable (connection lost, refused or reset), as opposed to a failing statement."""
    return is_disconnect(exc) or isinstance(exc, OperationalError | InterfaceError)


def database_unreachable(exc: BaseException, dbapi) -> bool:
    """`exc`, or an error it was raised from, says the database could not be reached: SQLAlchemy's wrapped error,
    or the driver's own (a pool checkout outside a Connection raises the driver's error unwrapped)."""
    driver_errors = (dbapi.OperationalError, dbapi.InterfaceError) if dbapi is not None else ()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if connection_lost(current) or isinstance(current, driver_errors):
            return True
        current = current.__cause__ or current.__context__
    return False


def record_with_retry(session, work, pauses: tuple[float, ...] = RECORD_PAUSES) -> None:
    """Run `work(session)` and commit; while the database is unreachable, roll back, wait and run it again.

    For records of things that already happened elsewhere (an SMTP server or a webhook receiver accepted a
    message): giving up would leave the row claimed, and a later sender would send it a second time.
    """
    for pause in (*pauses, None):
        try:
            work(session)
            session.commit()
            return
        except DBAPIError as exc:
            session.rollback()
            if pause is None or not connection_lost(exc):
                raise
            log.warning("database unreachable while recording, again in %s s: %s", pause, exc.orig)
            time.sleep(pause)
