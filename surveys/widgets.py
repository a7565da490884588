"""The web widget's decisions: whether to ask this visitor now, the contact it makes, and the answer.

A signed-in customer (the host page passes their external id and HMAC-SHA256(secret, external id), computed on the
host's server) is asked when the survey's audience holds them, they did not unsubscribe and were not contacted by
any channel within the survey's quiet period. Showing the widget makes the contact: an invitation of channel
"widget", delivered at once, so the quiet period, "one answer per invitation" and the response rate hold as for
mail; closing it ends that invitation unanswered. A visitor without a signed id is asked only when the widget
allows anonymous answers; their answer is an invitation without a customer answered at once (counted in reports,
never in a segment), and their browser, not the server, remembers not to ask again (Widget.once_per_days).
Every answer takes the one answer path (surveys.services.submit_answer): the same checks, cases and webhooks.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import Select, and_, bindparam, literal, or_, select, true, update
from sqlalchemy.orm import Session, joinedload

from customers.models import Customer
from kundenpuls import audit
from surveys.audience import conditions, quiet
from surveys.channels import WIDGET
from surveys.models import Invitation, Survey, new_token
from surveys.services import Submitted, UnknownInvitation, submit_answer
from surveys.signals import invitations_sent
from surveys.widget_models import Widget

KEY_BYTES = 12  # 16 characters: public, in the host page's source
SECRET_BYTES = 32
# A shown widget's invitation can be answered for this long (a visitor who leaves it open over lunch).
ANSWER_WITHIN = timedelta(hours=12)
# What an admin sets on the widget's page; SETTINGS adds the on/off switch (both audited).
EDITABLE = ("label", "allow_anonymous", "origins", "url_patterns", "after_page_views", "after_seconds", "once_per_days")
SETTINGS = ("active", *EDITABLE)


def signature(secret: str, external_id: str) -> str:
    """What the host's server puts next to the customer id: hex HMAC-SHA256 of the id under the widget's secret."""
    return hmac.new(secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()


def signed(widget: Widget, external_id: str, given: str) -> bool:
    return hmac.compare_digest(signature(widget.secret, external_id), (given or "").strip().lower())


def create_widget(session: Session, survey: Survey, values: dict, actor_id: int | None, now: datetime) -> Widget:
    widget = Widget(
        survey=survey,
        public_key=secrets.token_urlsafe(KEY_BYTES),
        secret=secrets.token_hex(SECRET_BYTES),
        created_at=now,
        created_by=actor_id,
    )
    for name in SETTINGS:
        if name in values:
            setattr(widget, name, values[name])
    session.add(widget)
    session.flush()
    audit.record(session, "widget", widget.id, "created", actor_id, now, after=_settings(widget))
    return widget


def change_widget(session: Session, widget: Widget, values: dict, actor_id: int | None, now: datetime) -> None:
    before = _settings(widget)
    for name in SETTINGS:
        if name in values:
            setattr(widget, name, values[name])
    audit.record(session, "widget", widget.id, "changed", actor_id, now, before=before, after=_settings(widget))


def new_secret(session: Session, widget: Widget, actor_id: int, now: datetime) -> None:
    """A new secret (the old one leaked): every signature made with the old one stops working at once."""
    widget.secret = secrets.token_hex(SECRET_BYTES)
    audit.record(session, "widget", widget.id, "secret replaced", actor_id, now)


def _settings(widget: Widget) -> dict:
    return {"survey_id": widget.survey_id, **{name: getattr(widget, name) for name in SETTINGS}}


def widget_by_key(session: Session, key: str) -> Widget | None:
    if not key or len(key) > 40:
        return None
    return session.scalars(
        select(Widget).options(joinedload(Widget.survey)).where(Widget.public_key == key)
    ).one_or_none()


def origin_allowed(widget: Widget, origin: str | None) -> bool:
    """A request from a page of a listed origin (any origin when none is listed; requests without an Origin
    header are not from a browser page, and the signature alone decides for them)."""
    allowed = widget.lines("origins")
    return not allowed or origin is None or origin.rstrip("/") in {o.rstrip("/") for o in allowed}


def page_matches(widget: Widget, url: str | None) -> bool:
    """The page's path (and query) matches one of the widget's patterns; every page when it has none."""
    patterns = widget.lines("url_patterns")
    if not patterns:
        return True
    parts = urlsplit(url or "")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return any(fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(parts.path, pattern) for pattern in patterns)


@dataclass(frozen=True)
class Decision:
    show: bool
    reason: str  # "ask", or why not: off, page, anonymous, unknown, unsubscribed, audience, quiet
    customer_id: int | None = None


def decide(session: Session, widget: Widget, external_id: str | None, url: str | None, now: datetime) -> Decision:
    """Whether to show the survey to this visitor now: one indexed SELECT for a signed-in customer."""
    survey = widget.survey
    if not (widget.active and survey.active):
        return Decision(False, "off")
    if not page_matches(widget, url):
        return Decision(False, "page")
    if external_id is None:
        return Decision(widget.allow_anonymous, "ask" if widget.allow_anonymous else "anonymous")
    since = now - timedelta(days=survey.quiet_days)
    row = session.execute(_decision(survey), {"external_id": external_id, "since": since}).first()
    if row is None:
        return Decision(False, "unknown")
    for passed, reason in ((row.subscribed, "unsubscribed"), (row.in_audience, "audience"), (row.quiet, "quiet")):
        if not passed:
            return Decision(False, reason, row.id)
    return Decision(True, "ask", row.id)


# Decision statements by survey, kind and audience: built once per process (bench/widget: building the audience and
# quiet-period expressions took 2.3 of the check's 4.7 ms in-process), run with bound parameters.
_statements: dict[tuple, Select] = {}


def _decision(survey: Survey) -> Select:
    key = (survey.id, survey.kind, survey.quiet_days, json.dumps(survey.audience, sort_keys=True))
    statement = _statements.get(key)
    if statement is None:
        in_audience = and_(
            true(),
            *conditions(survey.audience),
            or_(literal(survey.kind != "nps"), Customer.lifecycle_phase != "churned"),
        )
        statement = select(
            Customer.id,
            Customer.unsubscribed_at.is_(None).label("subscribed"),
            in_audience.label("in_audience"),
            quiet(survey, None, Customer.id, since=bindparam("since")).label("quiet"),
        ).where(Customer.external_id == bindparam("external_id"), Customer.erased_at.is_(None))
        if len(_statements) > 1000:  # audiences edited over months: start afresh rather than grow
            _statements.clear()
        _statements[key] = statement
    return statement


def shown(session: Session, widget: Widget, customer_id: int, locale: str, now: datetime) -> Invitation:
    """The contact: an invitation of channel widget, delivered now (decide() then finds the customer quiet, so
    another tab or a reload does not ask again)."""
    survey = widget.survey
    invitation = Invitation(
        token=new_token(survey.kind),
        survey_id=survey.id,
        customer_id=customer_id,
        locale=locale,
        channel=WIDGET,
        status="sent",
        created_at=now,
        sent_at=now,
        expires_at=now + ANSWER_WITHIN,
    )
    session.add(invitation)
    session.flush()
    invitations_sent.send(None, session=session, invitation_ids=[invitation.id], now=now)
    return invitation


def dismissed(session: Session, widget: Widget, external_id: str, token: str, now: datetime) -> bool:
    """The visitor closed the widget: its invitation ends unanswered (the contact stays, for the quiet period)."""
    found = _shown_to(widget, external_id, token)
    ended = session.execute(
        update(Invitation).where(Invitation.id == found.scalar_subquery()).values(status="expired", expires_at=now)
    )
    return ended.rowcount > 0


def answer_anonymously(
    session: Session, widget: Widget, score: int, comment: str | None, locale: str, now: datetime
) -> Submitted:
    """An anonymous visitor's answer: an invitation without a customer, answered at once through the answer path."""
    invitation = Invitation(
        token=new_token(widget.survey.kind),
        survey_id=widget.survey_id,
        customer_id=None,
        locale=locale,
        channel=WIDGET,
        status="sent",  # never delivered to anyone known, so no response rate (sent_at stays empty)
        created_at=now,
        expires_at=now + timedelta(minutes=1),
    )
    session.add(invitation)
    session.flush()
    return submit_answer(session, invitation.token, score, comment, now, WIDGET)


def answer_shown(
    session: Session, widget: Widget, external_id: str, token: str, score: int, comment: str | None, now: datetime
) -> Submitted:
    """A signed-in customer's answer to the invitation `shown` made for them; UnknownInvitation for anyone else's."""
    if session.scalar(_shown_to(widget, external_id, token)) is None:
        raise UnknownInvitation(token)
    return submit_answer(session, token, score, comment, now, WIDGET)


def _shown_to(widget: Widget, external_id: str, token: str):
    """The id of the widget invitation with this token, if it was shown to this customer."""
    return (
        select(Invitation.id)
        .join(Customer, Customer.id == Invitation.customer_id)
        .where(
            Invitation.token == token,
            Invitation.survey_id == widget.survey_id,
            Invitation.channel == WIDGET,
            Customer.external_id == external_id,
        )
    )
