"""The demo's present: what a team sees on the first morning, not only a history.

The history (app/demo.py) ends where the scheduler's catch-up begins, so without this step the queue held only
cases weeks overdue (every one of them escalated by mail on the first start), the portfolio was empty and the
mailbox stayed empty until the send window opened. Here: answers of the last three days with their new cases,
older cases worked as a team would have worked them, escalations that happened in the past recorded without
mail, stated potentials for a share of customers, and the first survey mails of the catch-up in the mailbox.

It draws from its own random stream, so the history's figures (and the tests that hold them) do not move.
"""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.demo_texts import COMMENTS, DEMO_CALL_NOTES
from customers.models import Customer, Purchase
from feedback.jobs import escalation_level
from feedback.models import OPEN, ROOT_CAUSES, Case
from feedback.services import add_note, change_status, open_case, set_root_cause, take
from feedback.signals import case_opened
from kundenpuls.models import User
from messaging.models import OutboxMessage
from messaging.outbox import dispatch_due
from surveys.jobs import create_due_invitations
from surveys.kinds import NPS
from surveys.models import Invitation, Response, Survey

RECENT_DAYS = 5  # answers of the last days, their cases still open
SCORES = list(range(11))
SCORE_WEIGHTS = [2, 1, 2, 3, 3, 4, 6, 9, 12, 14, 12]  # about a quarter detractors, like the history
POTENTIAL_SHARE = 0.4  # customers whose demand the sales team knows (stated potential)
FIRST_DETRACTORS = 3
MAILS_NOW = 3  # survey mails delivered to the mailbox on seeding


def stream(seed: int) -> random.Random:
    return random.Random(f"demo-live-{seed}")


def state_potentials(session: Session, rng: random.Random) -> int:
    """A stated yearly potential for a share of customers with revenue: from about their revenue (saturated) to a
    few times it (room to grow), so the portfolio has stars, earnings, question marks and take-alongs."""
    rows = session.execute(
        select(Customer.id, Customer.revenue_12m).where(Customer.revenue_12m > 0).order_by(Customer.id)
    ).all()
    chosen = [
        {"id": cid, "potential_value": Decimal(str(round(float(revenue) * rng.lognormvariate(0.6, 0.7), 2)))}
        for cid, revenue in rows
        if rng.random() < POTENTIAL_SHARE
    ]
    if chosen:
        session.execute(update(Customer), chosen)
    return len(chosen)


def recent_answers(session: Session, survey: Survey, now: datetime, rng: random.Random) -> tuple[int, int]:
    """Some purchases of the catch-up window were invited and answered in the last days; detractors open cases
    (no alert mail: the demo writes history), half of them taken by an agent already. Returns how many answers
    and how many cases."""
    first = now - timedelta(days=survey.delay_days + RECENT_DAYS)
    last = now - timedelta(days=survey.delay_days, hours=2)
    purchases = session.execute(
        select(Purchase.id, Purchase.customer_id, Purchase.purchased_at, Customer.locale)
        .join(Customer, Customer.id == Purchase.customer_id)
        .where(Purchase.purchased_at.between(first, last))
        .order_by(Purchase.purchased_at, Purchase.id)
    ).all()
    agents = session.scalars(select(User).where(User.role == "agent").order_by(User.id)).all()
    answered, opened, seen = 0, 0, set()
    for purchase_id, customer_id, purchased_at, locale in purchases:
        if customer_id in seen or rng.random() > 0.5:
            continue
        seen.add(customer_id)
        invited = purchased_at + timedelta(days=survey.delay_days)
        at = invited + timedelta(minutes=rng.uniform(20, max(30, (now - invited).total_seconds() / 60 - 10)))
        # The first few are detractors, so that even a small demo has new cases to work today.
        score = rng.randint(0, 6) if answered < FIRST_DETRACTORS else rng.choices(SCORES, SCORE_WEIGHTS)[0]
        comment = rng.choice(COMMENTS[locale or "de"][NPS.classify(score)]) if rng.random() < 0.6 else None
        invitation = Invitation(
            token=secrets.token_urlsafe(24), survey_id=survey.id, customer_id=customer_id, purchase_id=purchase_id,
            locale=locale or "de", status="answered", created_at=invited, expires_at=invited + timedelta(
                days=survey.expiry_days), sent_at=invited, last_mailed_at=invited, answered_at=at,
        )  # fmt: skip
        session.add(invitation)
        session.flush()
        response = Response(
            invitation_id=invitation.id, survey_id=survey.id, customer_id=customer_id, score=score, comment=comment,
            locale=invitation.locale, created_at=at,
        )  # fmt: skip
        session.add(response)
        session.flush()
        answered += 1
        with case_opened.muted():
            case = open_case(session, response, at)
        opened += case is not None
        if case is not None and agents and now - at > timedelta(hours=4) and rng.random() < 0.5:
            take(session, case, rng.choice(agents), at + timedelta(hours=rng.uniform(0.5, 3)))
    return answered, opened


def work_old_cases(session: Session, now: datetime, rng: random.Random) -> int:
    """Cases older than a week were taken and contacted within their first day, and most of those older than two
    weeks resolved: a team that keeps up, as the queue health page then shows. Returns how many were worked."""
    agents = session.scalars(select(User).where(User.role == "agent").order_by(User.id)).all()
    if not agents:
        return 0
    old = session.scalars(
        select(Case).where(Case.status.in_(OPEN), Case.created_at < now - timedelta(days=7)).order_by(Case.id)
    ).all()
    for case in old:
        agent = case.owner or rng.choice(agents)
        took = case.created_at + timedelta(hours=rng.uniform(1, 20))
        if case.owner_id is None:
            take(session, case, agent, took)
        if case.first_contact_at is None:
            add_note(session, case, agent, rng.choice(DEMO_CALL_NOTES), "contact", took + timedelta(hours=2))
        if case.created_at < now - timedelta(days=14) and rng.random() < 0.85:  # a few stay open, in progress
            done = took + timedelta(days=rng.uniform(1, 8))
            if case.root_cause is None:
                set_root_cause(session, case, rng.choice(ROOT_CAUSES), agent, done, None)
            change_status(session, case, "resolved", agent, done, None)
    return len(old)


def escalated_before(session: Session, now: datetime) -> int:
    """Open cases already past their deadline were escalated when they fell due: record the level they reached
    (the escalation job would otherwise mail every one of them on the first start)."""
    overdue = session.scalars(select(Case).where(Case.status.in_(OPEN), Case.next_due_at < now)).all()
    for case in overdue:
        case.escalation_level = max(case.escalation_level, escalation_level(case))
    session.flush()
    return len(overdue)


def first_mails(session: Session, now: datetime) -> int:
    """The catch-up invitations the scheduler would make on its first tick, and the first few of them delivered
    at once (to the dev mailbox without SMTP), whatever the send window says: the rest wait for it."""
    create_due_invitations(session, now)
    first = session.scalars(
        select(OutboxMessage.id).where(OutboxMessage.status == "pending").order_by(OutboxMessage.id).limit(MAILS_NOW)
    ).all()
    if not first:
        return 0
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(first))
        .values(
            next_attempt_at=now - timedelta(minutes=1),
            window_start=None,
            window_end=None,
            window_tz=None,
            window_weekdays=None,
        )  # fmt: skip
    )
    session.commit()
    # As of half a minute ago only these are due: the others keep their send time (or window) for the scheduler.
    return dispatch_due(session, now - timedelta(seconds=30)).sent
