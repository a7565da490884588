"""Reports from a read replica: REPORTS_DATABASE_URL (optional) names a PostgreSQL streaming standby.

A view marked `from_replica` (report pages, CSV and API exports) checks the replica first: one
query that answers whether it replays and how far behind it is. If it answers, the request's SELECTs go there
(`RoutingSession.get_bind`): a report's scans then load the replica, not the primary that takes answers and
purchases. Everything else goes to the primary: writes and flushes, SELECT ... FOR UPDATE, textual SQL, every
request not marked. If the replica does not answer (down, restarting, unreachable) the request reads the primary
instead and the replica is left alone for `DOWN_FOR_SECONDS`, so a dead replica costs one connect timeout per
half minute, not one per page. Pages say how far behind the figures are when that is more than
REPORTS_LAG_WARN_SECONDS (`replica_lag` in templates, the `Kundenpuls-Replica-Lag` header on API answers).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, g, has_app_context, request
from flask_sqlalchemy.session import Session
from sqlalchemy import Select, create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

DOWN_FOR_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 2
# Behind by nothing when everything received is replayed (an idle primary sends nothing to replay, and the last
# replayed transaction's time would make an idle replica look ever further behind).
_LAG = text(
    "SELECT CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 0) END"
)


@dataclass
class _Replica:
    engine: Engine
    down_until: float = 0.0


def init_app(app: Flask) -> None:
    url = app.config.get("REPORTS_DATABASE_URL")
    if not url:
        return
    engine = create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
        hide_parameters=app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}).get("hide_parameters", False),
    )
    app.extensions["kundenpuls_replica"] = _Replica(engine)
    app.teardown_request(_forget)
    app.after_request(_lag_header)
    app.context_processor(lambda: {"replica_lag": shown_lag()})


def read_from_replica() -> None:
    """Before a report view (`from_replica`): a GET's reads go to the replica if it answers, else to the primary.
    Other methods write, and what they write must follow from what the primary holds."""
    replica: _Replica | None = current_app.extensions.get("kundenpuls_replica")
    if replica is None or request.method not in ("GET", "HEAD") or time.monotonic() < replica.down_until:
        return
    try:
        with replica.engine.connect() as connection:
            lag = float(connection.scalar(_LAG))
    except SQLAlchemyError as error:
        replica.down_until = time.monotonic() + DOWN_FOR_SECONDS
        log.warning("reports replica unreachable, reading from the primary for %.0f s: %s", DOWN_FOR_SECONDS, error)
        return
    g.replica_engine, g.replica_lag = replica.engine, lag


def from_replica(view: Callable) -> Callable:
    """A report view: placed below the sign-in or API-key check, which read the primary."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        read_from_replica()
        return view(*args, **kwargs)

    return wrapped


def shown_lag() -> float | None:
    """Seconds the figures of this request are behind, when that is worth saying; else None."""
    lag = g.get("replica_lag")
    return lag if lag is not None and lag > current_app.config["REPORTS_LAG_WARN_SECONDS"] else None


def _lag_header(response: Response) -> Response:
    if g.get("replica_engine") is not None:
        response.headers["Kundenpuls-Replica-Lag"] = f"{g.replica_lag:.1f}"
    return response


def _forget(_error=None) -> None:
    """The choice is the request's: a test's (or a CLI command's) app context outlives its requests."""
    g.pop("replica_engine", None)
    g.pop("replica_lag", None)


class RoutingSession(Session):
    """Flask-SQLAlchemy's session, with the SELECTs of a request that reads from the replica sent there."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if (
            bind is None
            and not self._flushing
            and isinstance(clause, Select)
            and clause._for_update_arg is None
            and has_app_context()
        ):
            engine = g.get("replica_engine")
            if engine is not None:
                return engine
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)
