"""Personal survey links to print on an invoice, delivery note or receipt, with their QR code.

The link belongs to the purchase's invitation: the first request creates it (channel "link", handed out now), every
later one returns it, and the invitation job mails the same invitation if the customer has not answered by the time
the mail is due. One invitation, so an answer by either path ends both, and the quiet period counts the printed
link as a contact like any mail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from customers.models import Customer, Purchase
from kundenpuls.locks import INVITE_LOCK, wait_for_job_lock
from surveys.audience import conditions as audience_conditions
from surveys.audience import quiet
from surveys.channels import LINK
from surveys.kinds import SCORED_KEYS
from surveys.models import Invitation, Survey, new_token
from surveys.signals import invitations_sent

PRINT_TOKEN_BYTES = 12
# How long the request waits for a running invitation job (a chunk takes about a second) before answering 503.
LOCK_WAIT_SECONDS = 5


class NoLink(Exception):
    """No link for this purchase; `reason` says why (the API's 409 names it)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class Busy(Exception):
    """The invitation job held the lock longer than LOCK_WAIT_SECONDS: retry shortly."""


@dataclass(frozen=True)
class PrintLink:
    invitation: Invitation
    created: bool


def purchase_survey_link(session: Session, order_id: str, survey_key: str | None, now: datetime) -> PrintLink | None:
    """The purchase's survey invitation, created for print if there is none yet; None for an unknown order.

    Without `survey_key` the survey is the purchase's existing one, else the first active purchase survey whose
    audience takes the customer and the purchase. Raises NoLink when the customer unsubscribed or was erased, no
    survey asks them, or they are within the survey's quiet period; Busy when the invitation job is running."""
    purchase = session.scalars(select(Purchase).where(Purchase.order_id == order_id)).one_or_none()
    if purchase is None:
        return None
    customer = session.get(Customer, purchase.customer_id)
    if customer.erased_at is not None:
        raise NoLink("erased", "The customer's data was erased: they are not asked again.")
    if customer.unsubscribed_at is not None:
        raise NoLink("unsubscribed", "The customer unsubscribed from surveys.")
    existing = _existing(session, purchase.id, survey_key)
    if existing is not None:
        return PrintLink(existing, False)
    survey = _survey_for(session, purchase, survey_key)
    if not wait_for_job_lock(session, INVITE_LOCK, LOCK_WAIT_SECONDS):
        raise Busy()
    existing = _existing(session, purchase.id, survey.key)  # the job may have invited meanwhile
    if existing is not None:
        return PrintLink(existing, False)
    if not session.scalar(select(quiet(survey, now, Customer.id)).where(Customer.id == customer.id)):
        raise NoLink("quiet_period", f"The customer was asked within the last {survey.quiet_days} days.")
    invitation = Invitation(
        token=new_token(survey.kind, PRINT_TOKEN_BYTES),
        survey=survey,
        customer=customer,
        purchase_id=purchase.id,
        locale=customer.locale or "de",
        channel=LINK,
        status="sent",
        created_at=now,
        sent_at=now,
        expires_at=now + timedelta(days=survey.expiry_days),
    )
    session.add(invitation)
    session.flush()
    invitations_sent.send(None, session=session, invitation_ids=[invitation.id], now=now)
    return PrintLink(invitation, True)


def _existing(session: Session, purchase_id: int, survey_key: str | None) -> Invitation | None:
    query = (
        select(Invitation)
        .join(Survey, Survey.id == Invitation.survey_id)
        .where(Invitation.purchase_id == purchase_id)
        .order_by(Invitation.id)
        .limit(1)
    )
    if survey_key is not None:
        query = query.where(Survey.key == survey_key)
    return session.scalars(query).first()


def _survey_for(session: Session, purchase: Purchase, survey_key: str | None) -> Survey:
    if survey_key is not None:
        survey = session.scalars(select(Survey).where(Survey.key == survey_key)).one_or_none()
        if survey is None or not survey.active or survey.trigger != "purchase" or survey.kind not in SCORED_KEYS:
            raise NoLink("no_survey", f"No active purchase survey has the key {survey_key!r}.")
        candidates = [survey]
    else:
        candidates = session.scalars(
            select(Survey)
            .where(Survey.active.is_(True), Survey.trigger == "purchase", Survey.kind.in_(SCORED_KEYS))
            .order_by(Survey.id)
        ).all()
    for survey in candidates:
        admits = exists().where(
            Customer.id == Purchase.customer_id,
            Purchase.id == purchase.id,
            *audience_conditions(survey.audience, Purchase.category),
        )
        if session.scalar(select(admits)):
            return survey
    raise NoLink("no_survey", "No active purchase survey asks this customer about this purchase.")
