"""Which purchases lead to an invitation, and when."""

from datetime import UTC, datetime, timedelta
from email import message_from_string, policy

from sqlalchemy import func, select

from customers.models import Customer
from messaging.models import OutboxMessage
from surveys.jobs import create_due_invitations
from surveys.models import Invitation, Survey

BOUGHT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)  # a Monday
THREE_DAYS_LATER = BOUGHT + timedelta(days=3)


def invitations(session):
    return session.scalars(select(Invitation).order_by(Invitation.id)).all()


def test_invitation_after_the_delay_not_before(session, buy):
    buy(purchased_at=BOUGHT)
    assert create_due_invitations(session, THREE_DAYS_LATER - timedelta(minutes=1)) == 0
    assert create_due_invitations(session, THREE_DAYS_LATER) == 1
    invitation = invitations(session)[0]
    assert (invitation.status, invitation.locale) == ("pending", "de")
    assert invitation.expires_at == THREE_DAYS_LATER + timedelta(days=30)
    message = session.scalars(select(OutboxMessage)).one()
    assert message.key == f"invitation:{invitation.id}:0"
    assert message.recipient == "anna@example.com"


def test_running_twice_creates_nothing_new(session, buy):
    buy(purchased_at=BOUGHT)
    create_due_invitations(session, THREE_DAYS_LATER)
    assert create_due_invitations(session, THREE_DAYS_LATER + timedelta(hours=1)) == 0
    assert len(invitations(session)) == 1


def test_delay_is_per_survey(session, buy):
    session.scalars(select(Survey).where(Survey.kind == "nps")).one().delay_days = 7
    session.commit()
    buy(purchased_at=BOUGHT)
    assert create_due_invitations(session, THREE_DAYS_LATER) == 0
    assert create_due_invitations(session, BOUGHT + timedelta(days=7)) == 1


def test_quiet_period_across_purchases(session, buy):
    buy("O-1", purchased_at=BOUGHT)
    create_due_invitations(session, THREE_DAYS_LATER)
    buy("O-2", purchased_at=BOUGHT + timedelta(days=30))
    assert create_due_invitations(session, BOUGHT + timedelta(days=33)) == 0
    buy("O-3", purchased_at=BOUGHT + timedelta(days=90))
    assert create_due_invitations(session, BOUGHT + timedelta(days=93)) == 1


def test_one_invitation_for_several_purchases_the_same_week(session, buy):
    buy("O-1", purchased_at=BOUGHT)
    buy("O-2", purchased_at=BOUGHT + timedelta(hours=5))
    assert create_due_invitations(session, THREE_DAYS_LATER + timedelta(hours=6)) == 1
    assert invitations(session)[0].purchase.order_id == "O-2"


def test_no_invitation_for_unsubscribed_or_bounced_customers(session, buy):
    buy("O-1", "C-1", "a@example.com", purchased_at=BOUGHT)
    buy("O-2", "C-2", "b@example.com", purchased_at=BOUGHT)
    buy("O-3", "C-3", "c@example.com", purchased_at=BOUGHT)
    customers = {c.external_id: c for c in session.scalars(select(Customer))}
    customers["C-1"].unsubscribed_at = BOUGHT
    customers["C-2"].email_invalid_at = BOUGHT
    session.commit()
    assert create_due_invitations(session, THREE_DAYS_LATER) == 1
    assert invitations(session)[0].customer.external_id == "C-3"


def test_history_is_not_invited(session, buy):
    buy(purchased_at=BOUGHT - timedelta(days=400))
    assert create_due_invitations(session, THREE_DAYS_LATER) == 0


def test_paused_survey_invites_nobody(session, buy):
    session.scalars(select(Survey).where(Survey.kind == "nps")).one().active = False
    session.commit()
    buy(purchased_at=BOUGHT)
    assert create_due_invitations(session, THREE_DAYS_LATER) == 0


def test_mail_waits_for_the_send_window(session, buy):
    buy(purchased_at=datetime(2026, 11, 4, 20, 0, tzinfo=UTC))
    create_due_invitations(session, datetime(2026, 11, 7, 21, 0, tzinfo=UTC))  # Saturday night
    message = session.scalars(select(OutboxMessage)).one()
    assert message.next_attempt_at == datetime(2026, 11, 9, 7, 0, tzinfo=UTC)  # Monday 08:00 Berlin


def test_english_customer_gets_english_mail(session, buy):
    buy(purchased_at=BOUGHT, locale="en")
    create_due_invitations(session, THREE_DAYS_LATER)
    message = session.scalars(select(OutboxMessage)).one()
    assert message.subject == "How are we doing? One question, one click"
    parsed = message_from_string(message.raw, policy=policy.default)
    assert "How likely are you to recommend us" in parsed.get_body(("plain",)).get_content()


def test_tick_command_prints_counts(runner, buy):
    buy(purchased_at=BOUGHT)
    result = runner.invoke(args=["scheduler", "tick", "--now", THREE_DAYS_LATER.isoformat()])
    assert result.exit_code == 0, result.output
    assert "create_invitations: 1" in result.output
    assert "send_mail: sent=1" in result.output


def test_tick_refuses_a_bad_now(runner):
    result = runner.invoke(args=["scheduler", "tick", "--now", "next tuesday"])
    assert result.exit_code == 2
    assert "ISO-8601" in result.output


def test_count_query_is_set_based(session, buy):
    for n in range(30):
        buy(f"O-{n}", f"C-{n}", f"c{n}@example.com", purchased_at=BOUGHT)
    assert create_due_invitations(session, THREE_DAYS_LATER) == 30
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 30


def test_two_schedulers_creating_invitations_at_once_invite_each_customer_once(
    session, buy, concurrently, postgresql_only
):
    for n in range(40):
        buy(f"O-{n}", f"C-{n % 20}", f"c{n % 20}@example.com", purchased_at=BOUGHT + timedelta(minutes=n))
    results = concurrently(lambda s: create_due_invitations(s, THREE_DAYS_LATER + timedelta(hours=1)), 3)
    create_due_invitations(session, THREE_DAYS_LATER + timedelta(hours=1))
    assert sum(results) == 20
    per_customer = session.execute(select(Invitation.customer_id, func.count()).group_by(Invitation.customer_id)).all()
    assert len(per_customer) == 20 and all(n == 1 for _, n in per_customer)
