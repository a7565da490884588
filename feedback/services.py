"""What agents and the system do to a case. Every change writes the audit trail; callers commit."""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from customers.models import Customer
from customers.values import revenue_12m
from feedback.models import CLOSED, OPEN, ROOT_CAUSES, STATUSES, Case
from feedback.priority import HIGH_FROM, NORMAL_FROM, add_working_days, assess, parse_sla, rank_at
from feedback.signals import case_closed, case_opened, root_cause_set
from kundenpuls import audit
from kundenpuls.models import User
from messaging.mail import queue_mail
from messaging.models import OutboxMessage
from surveys.kinds import KINDS, may_be_case_class, may_be_middle
from surveys.models import Response, Survey

# The mail this module queues, as staff pages name it (registered with messaging by the app factory).
MAIL_KINDS = {"case_reply": _l("reply to a customer")}


MAX_NOTE = 5000
NOTE_KINDS = ("note", "contact", "customer_reply")


class CaseConflict(Exception):
    """Someone else changed the case since the agent loaded it."""


class AlreadyTaken(CaseConflict):
    def __init__(self, owner: User | None):
        super().__init__("taken")
        self.owner = owner


def _sla_days(name: str) -> dict[str, float]:
    return parse_sla(current_app.config[name])


def case_kind(response: Response, survey: Survey) -> str | None:
    """Which answers open a case, named by the answer's class: every churn answer and every answer in its kind's
    case class (NPS detractor, CSAT dissatisfied, CES hard); one in the middle class (passive, neutral) with a
    comment if the survey says so."""
    if survey.kind == "churn":
        return "churn"
    if response.score is None:
        return None
    kind = KINDS[survey.kind]
    answer_class = kind.classify(response.score)
    if answer_class in kind.case_classes:
        return answer_class
    if answer_class == kind.middle and response.comment and survey.passive_comment_cases:
        return answer_class
    return None


def may_need_case(score: int | None, comment: str | None, kind: str | None = None) -> bool:
    """Whether an answer may open a case, decided without the survey or the database, because every answer passes
    here on the answer POST's hot path: by its kind's classes when the kind is known (the invitation's token names
    CSAT and CES), else by every kind's (NPS 7-10 without a comment never needs one)."""
    if kind is not None and score is not None:
        scale = KINDS[kind]
        answer_class = scale.classify(score) if score in scale.scale else None
        return answer_class in scale.case_classes or (bool(comment) and answer_class == scale.middle)
    return may_be_case_class(score) or (bool(comment) and may_be_middle(score))


def writes_for_answer(session: Session, score: int | None, comment: str | None, kind: str | None = None) -> bool:
    """surveys.answer_path.add_answer_writer check: an answer that may need a case is stored with the case."""
    return may_need_case(score, comment, kind)


def open_case(session: Session, response: Response, now: datetime, kind: str | None = None) -> Case | None:
    """Open the case for an answer that needs one (idempotent: one case per response); `kind`, when the caller
    knows the survey's, saves the survey's query for an answer that needs none."""
    if not may_need_case(response.score, response.comment, kind):
        return None
    survey = session.get(Survey, response.survey_id)
    kind = case_kind(response, survey)
    if kind is None:
        return None
    if session.scalar(select(Case.id).where(Case.response_id == response.id)) is not None:
        return None
    customer = session.get(Customer, response.customer_id) if response.customer_id else None
    revenue = revenue_12m(session, customer.id, now) if customer else Decimal(0)  # an anonymous answer
    potential = customer.potential_value if customer else None
    priority = assess(kind, response.score, revenue, potential, KINDS[survey.kind])
    first_due = add_working_days(now, _sla_days("SLA_FIRST_CONTACT_DAYS")[priority.level])
    case = Case(
        response_id=response.id,
        customer_id=response.customer_id,
        survey_id=response.survey_id,
        kind=kind,
        score=response.score,
        status="new",
        priority=priority.level,
        priority_points=priority.points,
        priority_reasons=priority.reasons,
        customer_value=revenue,
        created_at=now,
        first_contact_due_at=first_due,
        resolution_due_at=add_working_days(now, _sla_days("SLA_RESOLUTION_DAYS")[priority.level]),
        next_due_at=first_due,
        rank_at=rank_at(first_due, priority.points),
    )
    session.add(case)
    session.flush()
    audit.record(session, "case", case.id, "opened", None, now, after={"priority": case.priority, "kind": kind})
    case_opened.send(case, session=session, now=now)
    return case


def open_measure(
    session: Session,
    customer: Customer,
    title: str,
    owner: User | None,
    due_at: datetime,
    points: int,
    why: str,
    actor: User,
    now: datetime,
) -> Case:
    """A retention measure someone accepted becomes a case in the queue: owner, deadline, the same workflow.

    `points` place it among the feedback cases (as for answers: 40 and more is high); `why` is what
    the queue shows as the reason."""
    level = "high" if points >= HIGH_FROM else "normal" if points >= NORMAL_FROM else "low"
    case = Case(
        customer_id=customer.id,
        kind="measure",
        title=title,
        status="in_progress" if owner else "new",
        priority=level,
        priority_points=points,
        priority_reasons=[["measure", points, why]],
        customer_value=customer.revenue_12m or 0,
        owner=owner,
        created_at=now,
        first_contact_due_at=due_at,
        resolution_due_at=due_at,
        next_due_at=due_at,
        rank_at=rank_at(due_at, points),
    )
    session.add(case)
    session.flush()
    audit.record(
        session, "case", case.id, "opened", actor.id, now,
        after={"priority": level, "kind": "measure", "owner": owner.email if owner else None}, note=title,
    )  # fmt: skip
    case_opened.send(case, session=session, now=now)
    return case


def on_response_submitted(
    response: Response, session: Session, now: datetime, kind: str | None = None, **_: object
) -> None:
    """Receiver of surveys.signals.response_submitted: the case is written in the answer's transaction."""
    open_case(session, response, now, kind)


def _check_version(case: Case, version: int | None) -> None:
    if version is not None and version != case.version:
        raise CaseConflict("changed meanwhile")


def _reschedule(case: Case) -> None:
    case.next_due_at = case.first_contact_due_at if case.first_contact_at is None else case.resolution_due_at
    case.rank_at = rank_at(case.next_due_at, case.priority_points)


def assign(session: Session, case: Case, owner: User | None, actor: User, now: datetime, version: int | None) -> None:
    """Give the case to `owner` (None: back to the pool). Taking an owned case needs a fresh page."""
    _check_version(case, version)
    if case.owner_id == (owner.id if owner else None):
        return
    before = {"owner": case.owner.email if case.owner else None}
    case.owner = owner
    if case.status == "new" and owner is not None:
        case.status = "in_progress"
    session.flush()
    audit.record(session, "case", case.id, "assigned", actor.id, now, before, {"owner": owner.email if owner else None})


def take(session: Session, case: Case, actor: User, now: datetime) -> None:
    """An agent takes an unowned case; if someone was quicker, they are told who."""
    if case.owner_id is not None and case.owner_id != actor.id:
        raise AlreadyTaken(case.owner)
    assign(session, case, actor, actor, now, None)


def add_note(session: Session, case: Case, actor: User, text: str, kind: str, now: datetime) -> None:
    """Notes are appended, never edited: they need no version check and cannot be lost to a conflict.

    `contact` (a call or visit) and `customer_reply` (what the customer answered) count as contact.
    """
    text = (text or "").strip()
    if not text:
        raise ValueError("empty note")
    if len(text) > MAX_NOTE or kind not in NOTE_KINDS:
        raise ValueError("invalid note")
    audit.record(session, "case", case.id, kind, actor.id, now, note=text)
    if kind != "note":
        _first_contact(case, now)
    session.flush()


def _first_contact(case: Case, now: datetime) -> None:
    if case.first_contact_at is None:
        case.first_contact_at = now
        if case.status == "new":
            case.status = "in_progress"
        _reschedule(case)


def set_root_cause(session: Session, case: Case, cause: str | None, actor: User, now: datetime, version: int | None):
    if cause is not None and cause not in ROOT_CAUSES:
        raise ValueError("unknown root cause")
    _check_version(case, version)
    if cause == case.root_cause:
        return
    before = {"root_cause": case.root_cause}
    case.root_cause = cause
    session.flush()
    audit.record(session, "case", case.id, "root_cause", actor.id, now, before, {"root_cause": cause})
    root_cause_set.send(case, session=session, now=now)


def change_status(session: Session, case: Case, status: str, actor: User, now: datetime, version: int | None) -> None:
    """new -> in progress -> waiting for customer -> resolved / won't fix; a closed case can be reopened."""
    if status not in STATUSES:
        raise ValueError("unknown status")
    _check_version(case, version)
    if status == case.status:
        return
    if status == "resolved" and case.root_cause is None and case.kind != "measure":
        raise ValueError("root cause missing")
    before = {"status": case.status}
    case.status = status
    if status == "waiting":
        _first_contact(case, now)
    if status in CLOSED:
        case.resolved_at = now
        case_closed.send(case, session=session, now=now)
    elif case.resolved_at is not None:
        case.resolved_at = None
    if status in OPEN:
        _reschedule(case)
    session.flush()
    audit.record(session, "case", case.id, "status", actor.id, now, before, {"status": status})


def send_reply(
    session: Session, case: Case, actor: User, subject: str, text: str, reply_key: str, now: datetime
) -> OutboxMessage:
    """The reply that closes the loop, mailed through the outbox; `reply_key` makes a double submit harmless."""
    customer = case.customer
    if customer is None or not customer.email:
        raise ValueError("no address")
    text, subject = (text or "").strip(), " ".join((subject or "").split())
    if not text or not subject or len(text) > MAX_NOTE or len(subject) > 200:
        raise ValueError("invalid reply")
    sender = actor.name or actor.email
    message = queue_mail(
        session,
        f"case_reply:{case.id}:{reply_key}",
        "case_reply",
        customer.email,
        subject,
        f"{text}\n\n-- \n{sender}\n",
        now,
        headers={"Reply-To": actor.email},
        customer_id=customer.id,
    )
    session.flush()
    audit.record(session, "case", case.id, "reply", actor.id, now, after={"subject": subject}, note=text)
    _first_contact(case, now)
    if case.status in ("new", "in_progress"):
        before = {"status": case.status}
        case.status = "waiting"
        audit.record(session, "case", case.id, "status", actor.id, now, before, {"status": "waiting"})
    session.flush()
    return message


def new_reply_key() -> str:
    return secrets.token_urlsafe(12)
