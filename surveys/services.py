"""Answering and unsubscribing: what a customer's click changes. They flush and the caller commits (a lone answer
on PostgreSQL commits itself: see submit_answer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from messaging.models import OutboxMessage
from surveys.answer_path import claim_invitation, store_answer
from surveys.channels import CHANNELS, EMAIL
from surveys.kinds import HIGHEST, KINDS, LOWEST, SCORED_KEYS, Kind
from surveys.mail import SURVEY_MAIL_KINDS
from surveys.models import ChurnReason, Invitation, Response, ResponseReason, Survey
from surveys.signals import response_submitted

MAX_COMMENT = 5000


class AlreadyAnswered(Exception):
    """The invitation has its one answer already."""


class InvitationExpired(Exception):
    """The invitation can no longer be answered."""


class EmptyChurnAnswer(ValueError):
    """A churn answer with neither a reason ticked nor a word written."""


class UnknownInvitation(LookupError):
    """No invitation has this token."""


class OffScale(ValueError):
    """The score is not on the scale of the invitation's survey (a CSAT survey answered with 9, say)."""

    def __init__(self, kind: Kind):
        super().__init__(f"score not on the {kind.key} scale {kind.low}-{kind.high}")
        self.kind = kind


def invitation_by_token(session: Session, token: str) -> Invitation | None:
    """The invitation with its survey (every page needs the survey's texts)."""
    if not token or len(token) > 64:
        return None
    return session.scalars(
        select(Invitation).options(joinedload(Invitation.survey)).where(Invitation.token == token)
    ).one_or_none()


def is_expired(invitation: Invitation, now: datetime) -> bool:
    return invitation.status == "expired" or (invitation.status != "answered" and invitation.expires_at <= now)


@dataclass(frozen=True)
class Submitted:
    """A stored answer and the texts of its survey (for the thank-you page)."""

    response: Response
    survey_texts: dict
    kind: str = "nps"
    asks_more: bool = False  # the survey has follow-up questions (which of them this answer sees: questions_for)

    def text(self, name: str) -> str:
        texts = self.survey_texts
        return (texts.get(self.response.locale) or texts["en"]).get(name) or texts["en"][name]


def submit_answer(
    session: Session, token: str, score: int, comment: str | None, now: datetime, channel: str = EMAIL
) -> Submitted:
    """Store the one answer of the invitation with this token, arrived by `channel`; no reminder goes out after it.

    The conditional UPDATE is the guard against a double submit: a second request waits for the first
    one's row lock and then finds the invitation answered. The unique invitation_id of responses backs it up.
    Only when nothing was stored does a second query find out why (unknown, answered or expired).
    How it is stored, and how other packages join in, is surveys/answer_path.py.
    """
    if not LOWEST <= score <= HIGHEST:
        raise ValueError(f"score must be between {LOWEST} and {HIGHEST}")
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > MAX_COMMENT:
        raise ValueError(f"comment longer than {MAX_COMMENT} characters")
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    params = {
        "by_token": token,
        "at_now": now,
        "new_score": score,
        "new_comment": comment,
        "new_created_at": now,
        "new_channel": channel,
    }
    try:
        row = store_answer(session, params)
    except IntegrityError:
        row = None
    if row is None:
        session.rollback()
        raise _why_not_open(session, token, now)
    response_id, invitation_id, survey_id, customer_id, locale, texts, kind, asks_more = row
    response = Response(
        id=response_id,
        invitation_id=invitation_id,
        survey_id=survey_id,
        customer_id=customer_id,
        score=score,
        comment=comment,
        locale=locale,
        created_at=now,
        channel=channel,
    )
    # A reminder still queued is cancelled by the sender, which sends nothing for answered invitations.
    response_submitted.send(response, session=session, now=now, kind=kind)
    return Submitted(response, texts, kind, bool(asks_more))


def _why_not_open(session: Session, token: str, now: datetime) -> Exception:
    invitation = invitation_by_token(session, token)
    if invitation is None:
        return UnknownInvitation(token)
    if invitation.status == "answered":
        return AlreadyAnswered()
    if is_expired(invitation, now):
        return InvitationExpired()
    return OffScale(KINDS[invitation.survey.kind])


MAX_COMEBACK = 2000


def active_reasons(session: Session) -> list[ChurnReason]:
    """The reasons a churn survey offers now, in the admin's order."""
    return list(
        session.scalars(
            select(ChurnReason).where(ChurnReason.retired_at.is_(None)).order_by(ChurnReason.position, ChurnReason.id)
        )
    )


def submit_churn_answer(
    session: Session,
    token: str,
    reason_ids: list[int],
    main_id: int | None,
    comment: str | None,
    comeback: str | None,
    now: datetime,
) -> Submitted:
    """Store the one churn answer of an invitation: ticked reasons, the main one, open texts.

    The main reason counts as ticked; with one reason ticked it is the main one. Only reasons on offer
    (not retired) are accepted. Same once-only claim as the NPS answer.
    """
    comment = (comment or "").strip() or None
    comeback = (comeback or "").strip() or None
    if comment is not None and len(comment) > MAX_COMMENT or comeback is not None and len(comeback) > MAX_COMEBACK:
        raise ValueError("text too long")
    chosen = set(reason_ids) | ({main_id} if main_id is not None else set())
    offered = {reason.id for reason in active_reasons(session)}
    if not chosen <= offered:
        raise ValueError(f"unknown or retired reasons: {sorted(chosen - offered)}")
    if not chosen and comment is None:
        raise EmptyChurnAnswer()
    if main_id is None and len(chosen) == 1:
        main_id = next(iter(chosen))
    invitation = invitation_by_token(session, token)
    if invitation is None:
        raise UnknownInvitation(token)
    if invitation.survey.kind != "churn":
        raise ValueError("not a churn survey")
    claimed = claim_invitation(session, token, now)
    if claimed is None:
        session.rollback()
        raise _why_not_open(session, token, now)
    invitation_id, survey_id, customer_id, locale, texts, *_ = claimed
    response = Response(
        invitation_id=invitation_id,
        survey_id=survey_id,
        customer_id=customer_id,
        score=None,
        comment=comment,
        comeback=comeback,
        locale=locale,
        created_at=now,
    )
    response.reasons = [ResponseReason(reason_id=rid, main=rid == main_id) for rid in sorted(chosen)]
    session.add(response)
    session.flush()
    response_submitted.send(response, session=session, now=now)
    return Submitted(response, texts, "churn")


def record_response(
    session: Session, invitation: Invitation, score: int, comment: str | None, now: datetime
) -> Response:
    """Answer a loaded invitation (demo data, tests); the object then shows what the database holds."""
    response = submit_answer(session, invitation.token, score, comment, now).response
    set_committed_value(invitation, "status", "answered")
    set_committed_value(invitation, "answered_at", now)
    return response


def unsubscribe(session: Session, invitation: Invitation, now: datetime) -> None:
    """Stop all survey mail to this customer at once, including queued reminders."""
    customer = invitation.customer
    if customer.unsubscribed_at is None:
        customer.unsubscribed_at = now
    _cancel_pending(session, OutboxMessage.customer_id == customer.id, "unsubscribed")
    session.execute(
        update(Invitation)
        .where(Invitation.customer_id == customer.id, Invitation.status == "pending")
        .values(status="cancelled")
    )
    session.flush()


def on_lifecycle_changes_removed(_sender, session: Session, change_ids: list[int], **_: object) -> None:
    """A history replay found these changes wrong: churn invitations sent for them keep everything but the link."""
    session.execute(
        update(Invitation)
        .where(Invitation.lifecycle_change_id.in_(change_ids))
        .values(lifecycle_change_id=None)
        .execution_options(synchronize_session=False)
    )


def on_customer_churned(customer, session: Session, now: datetime, **_: object) -> None:
    """A customer who cancelled gets no more NPS, CSAT or effort mail that has not gone out; the churn survey asks
    instead."""
    nps_invitations = (
        select(Invitation.id)
        .join(Survey, Survey.id == Invitation.survey_id)
        .where(Invitation.customer_id == customer.id, Invitation.status == "pending", Survey.kind.in_(SCORED_KEYS))
    )
    _cancel_pending(session, OutboxMessage.invitation_id.in_(nps_invitations), "customer cancelled")
    session.execute(
        update(Invitation)
        .where(Invitation.id.in_(nps_invitations.scalar_subquery()))
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )


def _cancel_pending(session: Session, condition, reason: str) -> None:
    session.execute(
        update(OutboxMessage)
        .where(condition, OutboxMessage.kind.in_(SURVEY_MAIL_KINDS), OutboxMessage.status == "pending")
        .values(status="cancelled", last_error=reason)
        .execution_options(synchronize_session=False)
    )
