"""The widget and survey that the "show a survey now?" check reads, kept per process for a few seconds.

A shop that embeds the widget asks on every page view. Loading the widget and its survey for each check was one of
its four database round trips and most of its ORM time (bench/widget: 3.2 of 5.5 ms in-process). Both change
rarely, so the check reads a snapshot: the two rows loaded once and detached from the session (read-only),
kept SNAPSHOT_SECONDS. A change flushed in this process forgets every snapshot at once (mapper events); the other
worker processes read the change within SNAPSHOT_SECONDS. Customer data is never kept: who is quiet, unsubscribed
or in the audience is read on every check. Whatever writes (shown, answer, dismiss) loads the widget afresh.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.orm import Session

from surveys.models import Survey
from surveys.widget_models import Widget
from surveys.widgets import widget_by_key

SNAPSHOT_SECONDS = 5.0
MAX_KEPT = 1000  # unknown keys are kept too (a caller guessing keys): start afresh rather than grow
clock = time.monotonic  # tests move it on


@dataclass
class Snapshot:
    taken: float
    widget: Widget | None  # None: no widget has this key
    # What the check derives from the widget alone (its texts per language), made once per snapshot.
    memo: dict = field(default_factory=dict)


_kept: dict[str, Snapshot] = {}


def widget_snapshot(session: Session, key: str) -> Snapshot:
    """The widget with this public key as it was at most SNAPSHOT_SECONDS ago, detached from the session."""
    now = clock()
    kept = _kept.get(key)
    if kept is not None and now - kept.taken < SNAPSHOT_SECONDS:
        return kept
    widget = widget_by_key(session, key)
    if widget is not None:
        session.expunge(widget)
        session.expunge(widget.survey)
    if len(_kept) >= MAX_KEPT:
        _kept.clear()
    kept = _kept[key] = Snapshot(now, widget)
    return kept


def forget_all(*_args) -> None:
    """A widget or survey was written in this process: the next check reads them afresh."""
    _kept.clear()


for _model in (Widget, Survey):
    for _change in ("after_insert", "after_update", "after_delete"):
        event.listen(_model, _change, forget_all)
