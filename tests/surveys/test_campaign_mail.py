"""Campaign mail (survey mail rendered once and filled in per invitation) is the mail the survey templates and
`compose` write for each invitation on its own: the same bytes, for every kind, language, name and token."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from customers.models import Customer
from messaging.mail import compose
from messaging.models import OutboxMessage
from surveys.default_texts import DEFAULT_TEXTS
from surveys.jobs import create_due_invitations, queue_reminders
from surveys.mail import SurveyMails, recipient, render_survey_mail
from surveys.models import Invitation, Survey
from surveys.print_links import purchase_survey_link

BOUGHT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)  # a Monday
SENT = BOUGHT + timedelta(days=3)
BOUNDARY = re.compile(r"={15}\d{19}==")
NAMES = [
    "Anna Becker",
    None,
    "Jürgen Groß-Ötztal",
    "A=B & <C> \"D\" 'E'",
    "Zoë 🌷 Müller-Lüdenscheidt von und zu Hohenzollern-Sigmaringen und Altenkirchen am Westerwald",
    "O'Brien",
]


def expected(invitation: Invitation, kind: str, seq: int) -> str:
    """The mail as rendered for this invitation alone, the way every survey mail was built before campaigns."""
    subject, text, html, links = render_survey_mail(
        invitation.survey, invitation.customer, invitation, invitation.locale, kind
    )
    message_id = f"<kp.{kind}.{invitation.id}.{seq}.{invitation.token[:10]}@kundenpuls.test>"
    headers = {"List-Unsubscribe": f"<{links['unsubscribe']}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    return compose(invitation.customer.email, subject, text, html, message_id, headers)


def assert_outbox_as_rendered_alone(session) -> int:
    messages = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    for message in messages:
        invitation = session.get(Invitation, message.invitation_id)
        seq = int(message.key.rpartition(":")[2])
        assert BOUNDARY.sub("B", message.raw) == BOUNDARY.sub("B", expected(invitation, message.kind, seq)), message.key
        assert message.message_id in message.raw and message.subject
    return len(messages)


@pytest.mark.parametrize("kind", ["nps", "csat", "ces"])
def test_invitations_and_reminders_are_the_mails_rendered_one_by_one(session, buy, kind):
    survey = session.scalars(select(Survey).where(Survey.kind == "nps")).first()
    if kind != "nps":
        survey.kind, survey.texts = kind, DEFAULT_TEXTS[kind]
    survey.quiet_days = 0
    session.commit()
    for n, name in enumerate(NAMES * 2):
        email = f"kunde.mit.einer.sehr.langen.adresse.{n}@beispiel-versandhaus.example.com" if n % 3 else f"k{n}@x.de"
        buy(f"O-{n}", f"C-{n}", email, purchased_at=BOUGHT, locale="en" if n % 2 else "de", name=name)
    assert create_due_invitations(session, SENT) == len(NAMES) * 2
    session.execute(Invitation.__table__.update().values(status="sent", last_mailed_at=SENT))
    session.execute(OutboxMessage.__table__.update().values(status="sent"))  # as if mailed
    session.commit()
    assert queue_reminders(session, SENT + timedelta(days=4)) == len(NAMES) * 2
    assert assert_outbox_as_rendered_alone(session) == len(NAMES) * 4
    tokens = session.scalars(select(Invitation.token)).all()
    assert all(token.startswith(f"{kind}.") for token in tokens) or kind == "nps"


def test_a_printed_links_shorter_token_is_mailed_as_rendered_alone(session, buy):
    buy("O-1", "C-1", "anna@example.com", purchased_at=BOUGHT, name="Anna Becker")
    buy("O-2", "C-2", "bernd@example.com", purchased_at=BOUGHT, name="Bernd Groß")
    printed = purchase_survey_link(session, "O-1", None, BOUGHT + timedelta(minutes=2)).invitation
    session.commit()
    assert create_due_invitations(session, SENT) == 2
    assert assert_outbox_as_rendered_alone(session) == 2
    lengths = {len(token) for token in session.scalars(select(Invitation.token))}
    assert len(printed.token) in lengths and len(lengths) == 2  # the printed token and a mailed one


def test_churn_mail_for_every_language_and_name(session, buy):
    buy(purchased_at=BOUGHT)
    churn = session.scalars(select(Survey).where(Survey.kind == "churn")).first()
    customer = session.scalars(select(Customer)).one()
    mails = SurveyMails()
    for n, name in enumerate(NAMES):
        customer.name = name
        for locale in ("de", "en"):
            invitation = Invitation(
                token=f"churn-token-{n}-{locale}-0123456789abcdef",
                survey=churn,
                customer=customer,
                locale=locale,
                status="pending",
                created_at=SENT,
                expires_at=SENT + timedelta(days=30),
            )
            session.add(invitation)
            session.flush()
            for kind, seq in (("invitation", 0), ("reminder", 1)):
                _, _, raw = mails.message(churn, recipient(invitation), kind, seq)
                assert BOUNDARY.sub("B", raw) == BOUNDARY.sub("B", expected(invitation, kind, seq))
    session.rollback()
