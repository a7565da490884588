"""Scheduled work of messaging: sending what is due (the last job of a tick, so mail queued by the others goes
out in the same tick)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy.orm import Session

from messaging.outbox import dispatch_due


def send_mail(session: Session, now: datetime) -> dict[str, int]:
    return dataclasses.asdict(dispatch_due(session, now))


JOBS = (("send_mail", send_mail),)
