"""Admins change a survey: every change is audited and reaches mail that has not gone out yet."""

from __future__ import annotations

import copy
from datetime import datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from kundenpuls import audit
from surveys.default_texts import DEFAULT_TEXTS
from surveys.kinds import CES, CSAT
from surveys.mail import rerender_pending
from surveys.models import Survey

_MAIL_TEXTS = ("subject", "reminder_subject", "greeting", "intro", "reminder_intro", "question")
TEXT_NAMES = {
    "nps": (*_MAIL_TEXTS, "low_label", "high_label", "comment_label", "thanks"),
    "churn": (*_MAIL_TEXTS, "button", "main_label", "comment_label", "comeback_label", "thanks"),
    # CSAT and CES label every point of their short scales.
    **{
        kind.key: (*_MAIL_TEXTS, *(f"label_{n}" for n in kind.scale), "comment_label", "thanks") for kind in (CSAT, CES)
    },
}
# Kinds an admin can create; a new CSAT or CES survey follows resolved cases unless told otherwise.
CREATABLE = ("nps", "csat", "ces")
LOCALES = ("de", "en")
SETTINGS = (
    "name",
    "name_de",
    "active",
    "delay_days",
    "reminder_count",
    "reminder_after_days",
    "expiry_days",
    "quiet_days",
    "send_weekdays",
    "send_start",
    "send_end",
    "passive_comment_cases",
    "trigger",
    "rating_grid",
)
CHURN_SETTINGS = (
    *(name for name in SETTINGS if name not in ("passive_comment_cases", "trigger", "rating_grid")),
    "trigger_cancellation",
    "trigger_inactive",
)


def settings_for(kind: str) -> tuple[str, ...]:
    return CHURN_SETTINGS if kind == "churn" else SETTINGS


def _plain(value):
    return value.strftime("%H:%M") if isinstance(value, time) else value


def update_survey(
    session: Session, survey: Survey, changes: dict, actor_id: int | None, now: datetime, note: str | None = None
) -> int:
    """Apply `changes` (settings and a full `texts` dict); returns how many queued mails were rendered again.
    `actor_id` is the admin; an API change has none and says which key in `note`."""
    before, after = {}, {}
    for name in settings_for(survey.kind):
        if name in changes and changes[name] != getattr(survey, name):
            before[name], after[name] = _plain(getattr(survey, name)), _plain(changes[name])
            setattr(survey, name, changes[name])
    if "texts" in changes and changes["texts"] != survey.texts:
        for locale in LOCALES:
            for name in TEXT_NAMES[survey.kind]:
                old = (survey.texts.get(locale) or {}).get(name)
                new = changes["texts"][locale][name]
                if old != new:
                    before[f"{locale}.{name}"], after[f"{locale}.{name}"] = old, new
        survey.texts = copy.deepcopy(changes["texts"])
    if "audience" in changes and changes["audience"] != survey.audience:
        before["audience"], after["audience"] = survey.audience, changes["audience"]
        survey.audience = copy.deepcopy(changes["audience"])
    if not after:
        return 0
    session.flush()
    audit.record(session, "survey", survey.id, "changed", actor_id, now, before, after, note=note)
    return rerender_pending(session, survey.id, now)


def new_survey(session: Session, kind: str) -> Survey:
    """A survey of `kind` as it would start (not added to the session): paused, with the first NPS survey's
    settings (send window, quiet period, reminders) and texts for NPS, or the default texts of its kind and the
    resolved-case trigger, one day later, for CSAT and CES."""
    if kind not in CREATABLE:
        raise ValueError(f"kind must be one of {CREATABLE}")
    template = session.scalars(select(Survey).where(Survey.kind == "nps").order_by(Survey.id)).first()
    texts = template.texts if kind == "nps" else DEFAULT_TEXTS[kind]
    survey = Survey(kind=kind, active=False, texts=copy.deepcopy(texts), audience=None)
    for setting in SETTINGS:
        if setting not in ("name", "active"):
            setattr(survey, setting, getattr(template, setting))
    if kind != "nps":
        survey.trigger, survey.delay_days = "case_resolved", 1
    return survey


def create_survey(
    session: Session,
    name: str,
    key: str,
    actor_id: int | None,
    now: datetime,
    kind: str = "nps",
    changes: dict | None = None,
    note: str | None = None,
) -> Survey:
    """Create a survey as new_survey starts it; `changes` (checked by the caller: the admin form's rules) apply on
    top and are part of the audit entry."""
    survey = new_survey(session, kind)
    survey.key, survey.name = key, name
    for setting, value in (changes or {}).items():
        setattr(survey, setting, copy.deepcopy(value))
    session.add(survey)
    session.flush()
    after = {"name": survey.name, "key": key, "kind": kind, **{n: _plain(v) for n, v in (changes or {}).items()}}
    audit.record(session, "survey", survey.id, "created", actor_id, now, after=after, note=note)
    return survey
