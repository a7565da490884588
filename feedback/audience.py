"""The feedback queue's part of survey targeting: the audience condition "their case was resolved after their
latest answer", and the re-ask trigger "a case was resolved"."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session, aliased

from customers.models import Customer
from feedback.models import Case
from surveys.audience import conditions as audience_conditions
from surveys.audience import due_window, reachable
from surveys.kinds import SCORED
from surveys.models import Invitation, Response, Survey


def resolved_since_latest_answer(customer_id: ColumnElement) -> ColumnElement[bool]:
    """A case of the customer was resolved after their latest answer (the one that opened it, typically): the
    moment to ask again whether closing the loop worked."""
    latest = select(func.max(Response.created_at)).where(Response.customer_id == customer_id).scalar_subquery()
    case = aliased(Case)  # its own name: the re-ask trigger's query selects from cases itself
    return exists().where(
        case.customer_id == customer_id,
        case.status == "resolved",
        case.resolved_at > func.coalesce(latest, case.created_at),
    )


# The kinds of case that close a customer's loop (measures are the company's own initiative, not an answer).
REASKED_KINDS = ("churn", *sorted({name for kind in SCORED for name in (*kind.case_classes, kind.middle)}))


def due_resolved_cases(session: Session, survey: Survey, now: datetime, limit: int) -> list[tuple[str, int, int]]:
    """For re-ask surveys (trigger "case_resolved"): cases resolved `delay_days` ago whose customer can be mailed,
    is not in the survey's quiet period, matches its audience and was not asked about this case yet."""
    oldest, newest = due_window(survey, now)
    same = aliased(Invitation)
    rows = session.execute(
        select(Case.id, Case.customer_id)
        .join(Customer, Customer.id == Case.customer_id)
        .where(
            Case.status == "resolved",
            Case.kind.in_(REASKED_KINDS),
            Case.resolved_at <= newest,
            Case.resolved_at > oldest,
            Customer.lifecycle_phase != "churned",
            *reachable(survey, now, Case.customer_id),
            ~exists().where(same.survey_id == survey.id, same.case_id == Case.id),
            *audience_conditions(survey.audience),
        )
        .order_by(Case.id)
        .limit(limit)
    ).all()
    return [("case_id", case_id, customer_id) for case_id, customer_id in rows]
