"""The surveys' part of a customer's data export and erasure (receivers of the customers' signals)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload

from customers.models import Customer
from customers.privacy import row_dict
from surveys.follow_ups import FollowUpAnswer, answers_of
from surveys.models import ERASED_STATUS, OPEN_STATUSES, Invitation, Response, Survey, new_token
from surveys.rating_grid import ratings_of


def on_customer_export(customer: Customer, session: Session, **_: object) -> dict:
    invitations = session.execute(
        select(Invitation, Survey.key)
        .join(Survey, Survey.id == Invitation.survey_id)
        .where(Invitation.customer_id == customer.id)
        .order_by(Invitation.created_at, Invitation.id)
    ).all()
    responses = session.scalars(
        select(Response)
        .where(Response.customer_id == customer.id)
        .options(selectinload(Response.reasons))
        .order_by(Response.created_at, Response.id)
    ).all()
    follow_ups = answers_of(session, [response.id for response in responses])
    ratings = ratings_of(session, [response.id for response in responses])
    return {
        # The token is left out: it is a key to the survey page, not data about the customer.
        "invitations": [
            {**row_dict(invitation, exclude=("token", "customer_id")), "survey": survey_key}
            for invitation, survey_key in invitations
        ],
        "responses": [
            {
                **row_dict(response, exclude=("customer_id",)),
                "reasons": [{"reason": r.reason.key, "main": r.main} for r in response.reasons],
                "follow_ups": follow_ups.get(response.id, []),
                "ratings": ratings.get(response.id, []),
            }
            for response in responses
        ],
    }


def on_customer_erasure(customer: Customer, session: Session, now: datetime, **_: object) -> dict[str, int]:
    """Comments and follow-up texts go, scores and chosen answers stay; survey links stop working (the mail itself
    is messaging's part)."""
    responses = session.execute(
        update(Response)
        .where(Response.customer_id == customer.id, or_(Response.comment.is_not(None), Response.comeback.is_not(None)))
        .values(comment=None, comeback=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    # Follow-up texts are the customer's words like comments; chosen choices and ratings stay, as scores do.
    texts = session.execute(
        update(FollowUpAnswer)
        .where(
            FollowUpAnswer.response_id.in_(select(Response.id).where(Response.customer_id == customer.id)),
            FollowUpAnswer.text.is_not(None),
        )
        .values(text=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    invitations = session.execute(
        update(Invitation)
        .where(Invitation.customer_id == customer.id, Invitation.status.in_(OPEN_STATUSES))
        .values(status=ERASED_STATUS)
        .execution_options(synchronize_session=False)
    ).rowcount
    # Every link the customer was sent dies: survey (/s/) and unsubscribe (/u/) links use the invitation's token,
    # and a fresh secret nobody knows replaces it (`erased` is no open status either, so nothing can answer).
    for invitation_id in session.scalars(select(Invitation.id).where(Invitation.customer_id == customer.id)):
        session.execute(update(Invitation).where(Invitation.id == invitation_id).values(token=new_token()))
    return {"comments": responses, "follow_up_texts": texts, "invitations_cancelled": invitations}
