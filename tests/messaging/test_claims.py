"""Claimed work: two healthy senders never send the same message twice, and what was delivered is recorded."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from analytics.models import InvitationsDaily
from kundenpuls.claims import claim_batch
from kundenpuls.extensions import db
from messaging.models import OutboxMessage
from messaging.outbox import dispatch_due
from surveys.jobs import create_due_invitations
from surveys.models import Invitation
from surveys.services import record_response
from tests.processes import last_weekday_morning, seed_due_purchases, tick

BOUGHT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
SEND = BOUGHT + timedelta(days=3)  # Thursday 10:30 Berlin


def invite(session, buy, n):
    for i in range(n):
        buy(f"O-{i}", f"C-{i}", f"kunde{i}@example.com", purchased_at=BOUGHT)
    assert create_due_invitations(session, SEND) == n


def test_a_claim_taken_over_fences_out_its_first_holder(session, buy):
    invite(session, buy, 3)
    first = claim_batch(session, SEND, 10, timedelta(seconds=30), OutboxMessage)
    assert len(first.ids) == 3
    # A claim is fresh by the real clock, however far the job's time moves on: no take-over.
    later = claim_batch(session, SEND + timedelta(days=2), 10, timedelta(seconds=30), OutboxMessage)
    assert later.ids == []
    # The first holder stalls longer than the timeout (by the clock claims are stamped with).
    session.execute(update(OutboxMessage).values(claimed_at=datetime.now(UTC) - timedelta(seconds=31)))
    session.commit()
    second = claim_batch(session, SEND, 10, timedelta(seconds=30), OutboxMessage)
    assert sorted(second.ids) == sorted(first.ids) and second.token != first.token
    assert first.renew(session, first.ids) == set()  # the first holder learns it lost every row
    session.execute(update(OutboxMessage).where(first.held()).values(status="failed"))
    session.commit()
    assert set(session.scalars(select(OutboxMessage.status))) == {"sending"}  # its write changed nothing
    assert second.renew(session, second.ids) == set(second.ids)


def test_crashed_sender_claim_is_taken_over_after_timeout(session, buy, smtp, app):
    invite(session, buy, 3)
    timeout = timedelta(seconds=app.config["OUTBOX_CLAIM_TIMEOUT_SECONDS"])
    fresh, stale = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id).limit(2)).all()
    fresh.status, fresh.claimed_at, fresh.claimed_by = "sending", datetime.now(UTC), "live-host:1:1"
    stale.status, stale.claimed_at, stale.claimed_by = "sending", datetime.now(UTC) - timeout, "dead-host:1:1"
    session.commit()
    assert dispatch_due(session, SEND).sent == 2  # the stale claim and the free row, not the live claim
    assert sorted(m["To"] for m in smtp.messages) == ["kunde1@example.com", "kunde2@example.com"]
    assert len({m["Message-ID"] for m in smtp.messages}) == 2


def test_an_invitation_answered_before_its_mail_is_recorded_counts_as_sent(app, session, buy, smtp):
    """The customer clicks within the moment between the server's 250 and the sender's record."""
    invite(session, buy, 1)
    invitation = session.scalars(select(Invitation)).one()
    invitation_id = invitation.id

    def answer_at_once(_message):
        with app.app_context():
            record_response(db.session, db.session.get(Invitation, invitation_id), 3, "zu spät", SEND)
            db.session.commit()
            db.session.remove()

    smtp.on_message = answer_at_once
    assert dispatch_due(session, SEND).sent == 1
    session.expire_all()
    invitation = session.get(Invitation, invitation_id)
    assert invitation.status == "answered" and invitation.sent_at == SEND
    assert session.scalars(select(OutboxMessage.status)).one() == "sent"
    daily = session.execute(select(func.sum(InvitationsDaily.sent), func.sum(InvitationsDaily.answered))).one()
    assert tuple(daily) == (1, 1)  # counted as mailed and as answered: the response rate is 100 %


def test_two_schedulers_with_a_short_claim_timeout_send_each_mail_once(postgresql_only, session, smtp, process_env):
    """A claim timeout shorter than one send pass, a slow server, a second scheduler whose tick starts 35 s later
    (as `scheduler tick` runs a minute apart): before claims used the database's clock and were renewed, the
    second one took over the first one's batch and 40 % of the mail arrived twice."""
    when = last_weekday_morning(datetime.now(UTC) - timedelta(minutes=5))
    seed_due_purchases(session, when, 60)
    assert create_due_invitations(session, when) == 60
    env = {**process_env, "OUTBOX_CLAIM_TIMEOUT_SECONDS": "2"}
    smtp.delay = 0.08  # about 5 s for the 60, over twice the claim timeout
    first = tick(env, when)
    deadline = time.monotonic() + 30
    while len(smtp.messages) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    second = tick(env, when + timedelta(seconds=35))
    for proc in (first, second):
        out = proc.communicate(timeout=120)[0].decode()
        assert proc.returncode == 0, out
    recipients = Counter(str(m["To"]) for m in smtp.messages)
    assert len(recipients) == 60 and set(recipients.values()) == {1}, recipients.most_common(3)
    session.expire_all()
    assert dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()) == {
        "sent": 60
    }
