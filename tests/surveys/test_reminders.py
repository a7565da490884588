"""Reminders and expiry."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from messaging.models import OutboxMessage
from messaging.outbox import dispatch_due
from surveys.jobs import create_due_invitations, expire_invitations, queue_reminders
from surveys.models import Invitation, Survey
from surveys.services import record_response, unsubscribe

BOUGHT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)  # Monday
SENT = BOUGHT + timedelta(days=3)  # Thursday 10:30 Berlin


def sent_invitation(session, buy):
    buy(purchased_at=BOUGHT)
    create_due_invitations(session, SENT)
    assert dispatch_due(session, SENT).sent == 1
    return session.scalars(select(Invitation)).one()


def kinds(session):
    return session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()


def test_one_reminder_after_four_days(session, buy, smtp):
    sent_invitation(session, buy)
    assert queue_reminders(session, SENT + timedelta(days=4) - timedelta(minutes=1)) == 0
    assert queue_reminders(session, SENT + timedelta(days=4)) == 1
    assert queue_reminders(session, SENT + timedelta(days=9)) == 0  # default: one reminder only
    assert dispatch_due(session, SENT + timedelta(days=4)).sent == 1
    assert queue_reminders(session, SENT + timedelta(days=20)) == 0
    reminder = smtp.messages[-1]
    assert reminder["Subject"].startswith("Erinnerung")
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert reminder["Message-ID"] != smtp.messages[0]["Message-ID"]


def test_up_to_n_reminders_spaced_by_the_delay(session, buy, smtp):
    survey = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    survey.reminder_count = 2
    session.commit()
    sent_invitation(session, buy)
    first = SENT + timedelta(days=4)
    assert queue_reminders(session, first) == 1
    assert queue_reminders(session, first + timedelta(days=1)) == 0  # the first is not even sent yet
    dispatch_due(session, first)
    assert queue_reminders(session, first + timedelta(days=3)) == 0
    assert queue_reminders(session, first + timedelta(days=4)) == 1
    dispatch_due(session, first + timedelta(days=4))
    assert queue_reminders(session, first + timedelta(days=8)) == 0
    assert kinds(session) == ["invitation", "reminder", "reminder"]
    assert len(smtp.messages) == 3


def test_no_reminder_after_an_answer(session, buy, smtp):
    invitation = sent_invitation(session, buy)
    record_response(session, invitation, 10, None, SENT + timedelta(days=1))
    session.commit()
    assert queue_reminders(session, SENT + timedelta(days=5)) == 0


def test_answer_cancels_a_queued_reminder(session, buy, smtp):
    invitation = sent_invitation(session, buy)
    queue_reminders(session, SENT + timedelta(days=4, hours=10))  # after hours: waits for the morning
    record_response(session, invitation, 10, None, SENT + timedelta(days=4, hours=11))
    session.commit()
    assert dispatch_due(session, SENT + timedelta(days=5)).sent == 0
    assert len(smtp.messages) == 1


def test_no_reminder_after_unsubscribe(session, buy, smtp):
    invitation = sent_invitation(session, buy)
    queue_reminders(session, SENT + timedelta(days=4, hours=10))
    unsubscribe(session, invitation, SENT + timedelta(days=4, hours=11))
    session.commit()
    assert dispatch_due(session, SENT + timedelta(days=5)).sent == 0
    assert queue_reminders(session, SENT + timedelta(days=9)) == 0
    assert len(smtp.messages) == 1
    assert session.scalars(select(OutboxMessage.status).where(OutboxMessage.kind == "reminder")).one() == "cancelled"


def test_expiry_closes_the_invitation_and_its_mail(session, buy, smtp):
    survey = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    survey.reminder_after_days = 40
    session.commit()
    invitation = sent_invitation(session, buy)
    assert expire_invitations(session, SENT + timedelta(days=30) - timedelta(seconds=1)) == 0
    assert expire_invitations(session, SENT + timedelta(days=30)) == 1
    assert session.get(Invitation, invitation.id).status == "expired"
    assert queue_reminders(session, SENT + timedelta(days=41)) == 0


def test_unsent_mail_of_an_expired_invitation_is_cancelled(session, buy, smtp):
    buy(purchased_at=BOUGHT)
    create_due_invitations(session, SENT)
    smtp.stop()  # the server is away for the whole month
    assert dispatch_due(session, SENT).retried == 1
    expire_invitations(session, SENT + timedelta(days=31))
    assert session.scalars(select(OutboxMessage.status)).one() == "cancelled"
