"""The attributes the drivers report compares, kept per NPS answer (analytics.models.AnswerFact).

The scheduler records them for each batch of answers it applies (retention.answers) and, nightly, for any scored
answer that has none yet and is not waiting to be applied (answers loaded in bulk, say).
"""

from __future__ import annotations

from sqlalchemy import Float, case, cast, exists, insert, select
from sqlalchemy.orm import Session

from analytics.models import AnswerFact, PendingAnswer
from customers.models import Customer, Purchase
from kundenpuls.dialect import days_between, greatest, set_local
from surveys.kinds import NPS
from surveys.models import Invitation, Response, answers_of


def _source(session: Session):
    """Per scored answer: its filter columns and the attributes, from purchase and customer."""
    tenure = days_between(session, Response.created_at, Customer.first_purchase_at)
    years = greatest(session, tenure / 365.0, 1.0)
    purchases = cast(case((Customer.purchase_count > 0, Customer.purchase_count), else_=None), Float)
    return (
        select(
            Response.id,
            Response.survey_id,
            Response.customer_id,
            Response.locale,
            Response.channel,
            Response.created_at,
            Response.score,
            Purchase.category,
            cast(Purchase.amount, Float),
            cast(Purchase.margin, Float),
            purchases / years,
            tenure,
            days_between(session, Response.created_at, Purchase.purchased_at),
        )
        .select_from(Response)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .outerjoin(Purchase, Purchase.id == Invitation.purchase_id)
        .outerjoin(Customer, Customer.id == Response.customer_id)
        .where(Response.score.is_not(None), answers_of(NPS), ~exists().where(AnswerFact.response_id == Response.id))
    )


COLUMNS = ["response_id", "survey_id", "customer_id", "locale", "channel", "answered_at", "score", "category",
           "order_value", "margin", "purchases_per_year", "tenure_days", "answer_delay_days"]  # fmt: skip


def record_facts(session: Session, response_ids: list[int] | None = None) -> int:
    """Record the facts of these answers (None: of every scored answer without facts that is not waiting for
    apply_answers, which records its own); returns how many."""
    source = _source(session)
    if response_ids is None:
        source = source.where(~exists().where(PendingAnswer.response_id == Response.id))
        # The "no facts yet" anti-join reads the table this INSERT fills. Planned with a nearly empty answer_facts
        # (a first backfill after a bulk load), PostgreSQL picks a nested loop that scans it again for every answer,
        # its own new rows included: 20,000 answers took 5.2 s, 40,000 took 32 s, a million never finished in
        # bench/analytics. A hash anti-join reads it once: 0.5 s for 20,000.
        set_local(session, "enable_nestloop", "off")
    elif not response_ids:
        return 0
    else:
        source = source.where(Response.id.in_(response_ids))
    statement = insert(AnswerFact).from_select(COLUMNS, source).execution_options(preserve_rowcount=True)
    recorded = session.execute(statement).rowcount
    if response_ids is None:
        set_local(session, "enable_nestloop", "on")  # the rest of the caller's transaction plans as usual
    return recorded
