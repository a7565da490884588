"""Anonymous survey links: an answer from someone not known, its abuse checks, and tying it to a customer who
confirms their address by mail (double opt-in).

An answer through a public link is an invitation without a customer, answered at once through the one answer path
(the same checks, rollup, cases and webhooks); it counts in reports but never in a customer's segment. When one IP
network sent ANONYMOUS_HOLD_AFTER answers through a link within 24 hours, further answers are held (HeldAnswer)
outside every report until a manager accepts them. Addresses are never stored: the confirmation link carries the
address, signed, and only a confirmed address that belongs to a customer ties the answer to them.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from customers.models import Customer
from kundenpuls import audit
from surveys.channels import ANONYMOUS
from surveys.models import Invitation, Response, Survey, new_token
from surveys.public_models import HeldAnswer, PublicLink
from surveys.services import Submitted, submit_answer
from surveys.signals import answer_identified

HOLD_WINDOW = timedelta(hours=24)
CONFIRM_DAYS = 7
SLUG_BYTES = 6  # 8 characters: public, but not to be guessed from a neighbour's link


def network_of(address: str | None) -> str:
    """A keyed hash of the client's network (/24 for IPv4, /48 for IPv6): enough to see one source sending many
    answers, without storing an address."""
    try:
        ip = ipaddress.ip_address(address or "")
        network = ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 48}", strict=False)
    except ValueError:
        network = "unknown"
    key = current_app.secret_key.encode()
    return hmac.new(key, f"network\0{network}".encode(), hashlib.sha256).hexdigest()[:16]


def create_link(
    session: Session,
    survey: Survey,
    label: str,
    actor_id: int | None,
    now: datetime,
    expires_at: datetime | None = None,
    ask_email: bool = False,
    once_per_days: int = 30,
) -> PublicLink:
    link = PublicLink(
        survey=survey,
        slug=secrets.token_urlsafe(SLUG_BYTES),
        label=label.strip(),
        expires_at=expires_at,
        ask_email=ask_email,
        once_per_days=once_per_days,
        created_at=now,
        created_by=actor_id,
    )
    session.add(link)
    session.flush()
    audit.record(session, "public_link", link.id, "created", actor_id, now, after=_settings(link))
    return link


def change_link(session: Session, link: PublicLink, values: dict, actor_id: int | None, now: datetime) -> None:
    """Label, active, expiry, ask_email, once_per_days; audited."""
    before = _settings(link)
    for name in ("label", "active", "expires_at", "ask_email", "once_per_days"):
        if name in values:
            setattr(link, name, values[name])
    audit.record(session, "public_link", link.id, "changed", actor_id, now, before=before, after=_settings(link))


def _settings(link: PublicLink) -> dict:
    return {
        "survey_id": link.survey_id,
        "label": link.label,
        "active": link.active,
        "expires_at": link.expires_at.isoformat() if link.expires_at else None,
        "ask_email": link.ask_email,
        "once_per_days": link.once_per_days,
    }


def link_by_slug(session: Session, slug: str) -> PublicLink | None:
    if not slug or len(slug) > 40:
        return None
    return session.scalars(select(PublicLink).where(PublicLink.slug == slug)).one_or_none()


@dataclass(frozen=True)
class Held:
    held: HeldAnswer


@dataclass(frozen=True)
class Answered:
    submitted: Submitted
    token: str  # the anonymous invitation's: the follow-up step posts to it


def recent_from(session: Session, link: PublicLink, network: str, now: datetime) -> int:
    """Answers (counted and held) from this network through this link in the last 24 hours."""
    since = now - HOLD_WINDOW
    counted = select(func.count()).where(
        Invitation.public_link_id == link.id, Invitation.network == network, Invitation.created_at > since
    )
    held = select(func.count()).where(
        HeldAnswer.public_link_id == link.id, HeldAnswer.network == network, HeldAnswer.created_at > since
    )
    return (session.scalar(counted) or 0) + (session.scalar(held) or 0)


def answer_anonymously(
    session: Session, link: PublicLink, score: int, comment: str | None, locale: str, network: str, now: datetime
) -> Answered | Held:
    """Store an anonymous answer through the answer path, or hold it when its network is over the threshold."""
    if recent_from(session, link, network, now) >= current_app.config["ANONYMOUS_HOLD_AFTER"]:
        held = HeldAnswer(
            public_link_id=link.id,
            network=network,
            score=score,
            comment=(comment or "").strip() or None,
            locale=locale,
            created_at=now,
        )
        session.add(held)
        session.flush()
        return Held(held)
    return _answer(session, link, score, comment, locale, network, now)


def _answer(session, link, score, comment, locale, network, now) -> Answered:
    invitation = Invitation(
        token=new_token(link.survey.kind),
        survey_id=link.survey_id,
        customer_id=None,
        locale=locale,
        channel=ANONYMOUS,
        status="sent",  # answered at once below; never mailed, so no response rate (sent_at stays empty)
        created_at=now,
        expires_at=now + timedelta(days=1),
        public_link_id=link.id,
        network=network,
    )
    session.add(invitation)
    session.flush()
    return Answered(submit_answer(session, invitation.token, score, comment, now, ANONYMOUS), invitation.token)


def held_answers(session: Session, limit: int = 200) -> list[HeldAnswer]:
    """Undecided held answers, oldest first."""
    return list(
        session.scalars(
            select(HeldAnswer).where(HeldAnswer.decided_at.is_(None)).order_by(HeldAnswer.created_at).limit(limit)
        )
    )


def decide(session: Session, held: HeldAnswer, accept: bool, actor_id: int, now: datetime) -> Response | None:
    """Accept (the answer takes the answer path as of when it came, so it counts on its own day) or reject it."""
    if held.decided_at is not None:
        raise ValueError("already decided")
    held.decided_at, held.decided_by, held.accepted = now, actor_id, accept
    response = None
    if accept:
        link = held.public_link
        answered = _answer(session, link, held.score, held.comment, held.locale, held.network, held.created_at)
        response = answered.submitted.response
        held.response_id = response.id
    audit.record(session, "held_answer", held.id, "accepted" if accept else "rejected", actor_id, now)
    return response


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="kundenpuls.anonymous-confirm")


def confirmation_token(response_id: int, email: str) -> str:
    return _serializer().dumps({"r": response_id, "e": email.strip()})


class InvalidConfirmation(Exception):
    """The link is broken, forged or older than CONFIRM_DAYS."""


def read_confirmation(token: str) -> tuple[int, str]:
    try:
        data = _serializer().loads(token, max_age=CONFIRM_DAYS * 86400)
    except (SignatureExpired, BadSignature):
        raise InvalidConfirmation() from None
    return int(data["r"]), str(data["e"])


def confirm(session: Session, token: str, now: datetime) -> Customer | None:
    """Tie the answer to the customer with the confirmed address; None when no customer has it (the answer stays
    anonymous). The answer then reaches the customer's segment like any other (answer_identified)."""
    response_id, email = read_confirmation(token)
    response = session.get(Response, response_id)
    invitation = session.get(Invitation, response.invitation_id) if response else None
    if invitation is None or invitation.channel != ANONYMOUS:
        raise InvalidConfirmation()
    customer = session.scalars(
        select(Customer)
        .where(func.lower(Customer.email) == email.lower(), Customer.erased_at.is_(None))
        .order_by(Customer.id)
        .limit(1)
    ).first()
    if customer is None:
        return None
    if response.customer_id is None:
        response.customer_id = invitation.customer_id = customer.id
        session.flush()
        answer_identified.send(response, session=session, now=now)
        audit.record(session, "response", response.id, "identified", None, now, note="confirmed by mail")
    return customer if response.customer_id == customer.id else None
