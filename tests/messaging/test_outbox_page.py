"""The outgoing-mail page says what waits and why: due now, a retry, held for which send window and until when."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import flask_babel
from sqlalchemy import select

from messaging.mail import queue_mail
from messaging.models import OutboxMessage
from messaging.queries import waiting
from surveys.jobs import create_due_invitations
from surveys.models import Survey
from tests.feedback_helpers import make_user, sign_in

BERLIN = ZoneInfo("Europe/Berlin")


def rows_of(page: str) -> dict[str, str]:
    """The waiting table's rows by reason, as text."""
    table = page.split('data-table="waiting"')[1].split("</table>")[0]
    found = re.findall(r'<tr data-reason="(\w+)">(.*?)</tr>', table, re.S)
    return {reason: " ".join(re.sub(r"<[^>]+>", " ", html).split()) for reason, html in found}


def test_waiting_mail_is_explained_by_reason(session, client, buy):
    now = datetime.now(UTC)
    held_day = (now.astimezone(BERLIN).weekday() + 3) % 7  # a weekday that is not today: the window is closed
    survey = session.scalars(select(Survey).where(Survey.key == "nps-default")).one()
    survey.send_weekdays = str(held_day)
    session.commit()
    for i in range(3):
        buy(f"O-{i}", f"C-{i}", f"kunde{i}@example.com", purchased_at=now - timedelta(days=survey.delay_days, hours=1))
    assert create_due_invitations(session, now) == 3
    retry = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
    retry.last_error, retry.next_attempt_at = "421 4.7.0 try again later", now + timedelta(minutes=20)
    queue_mail(session, "escalation:1", "escalation", "chefin@example.com", "Case 1 is overdue", "text", now)
    session.commit()

    groups = {w.reason: w for w in waiting(session, now + timedelta(seconds=1))}
    assert (groups["due"].kind, groups["due"].count) == ("escalation", 1)
    assert (groups["retry"].kind, groups["retry"].count) == ("invitation", 1)
    assert (groups["window"].kind, groups["window"].count) == ("invitation", 2)
    opens = groups["window"].next_at.astimezone(BERLIN)
    assert opens.weekday() == held_day and (opens.hour, opens.minute) == (8, 0)

    sign_in(client, make_user(session, "admin@example.com", "admin"))
    rows = rows_of(client.get("/outbox", headers={"Accept-Language": "en"}).text)
    assert rows["due"].startswith("escalation of an overdue case 1 due now")
    assert rows["retry"].startswith("survey invitation 1 a temporary error")
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[held_day]
    assert rows["window"].startswith(f"survey invitation 2 held for its send window: {day} 8:00 AM–6:00 PM")
    assert "Europe/Berlin" in rows["window"] and "from " in rows["window"]

    flask_babel.refresh()  # the tests' requests share one app context, and Flask-Babel keeps the locale there
    german = rows_of(client.get("/outbox", headers={"Accept-Language": "de"}).text)
    assert german["window"].startswith("Umfrage-Einladung 2") and "08:00–18:00" in german["window"]
