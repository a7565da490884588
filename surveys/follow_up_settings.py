"""Admins (on /surveys or by API) add, relabel and retire follow-up questions and their choices; every change is
audited as a change of the survey. Nothing is deleted: answers keep the questions and choices they were given."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from kundenpuls import audit
from surveys.follow_ups import MAX_CHOICES, MAX_QUESTIONS, TYPES, FollowUpChoice, FollowUpQuestion, active_questions
from surveys.kinds import KINDS
from surveys.models import Survey
from surveys.options import option_key


class QuestionInvalid(ValueError):
    """`errors` maps a field (type, label_de, show_to, choices, ...) to what is wrong, in English."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class QuestionSpec:
    type: str
    label_de: str
    label_en: str
    show_to: list[str] | None = None  # None: every answer
    other_option: bool = False
    choices: list[tuple[str, str]] = field(default_factory=list)  # (German, English)


def check(survey: Survey, spec: QuestionSpec, active: int) -> None:
    """The rules for a new question, for the admin page and the API alike."""
    errors = {}
    kind = KINDS[survey.kind]
    if not kind.scored:
        errors["survey"] = "churn surveys ask their reasons instead"
    if active >= MAX_QUESTIONS:
        errors["survey"] = f"a survey asks at most {MAX_QUESTIONS} follow-up questions; retire one first"
    if spec.type not in TYPES:
        errors["type"] = f"one of {', '.join(TYPES)}"
    for name in ("label_de", "label_en"):
        text = getattr(spec, name).strip()
        if not text or len(text) > 300:
            errors[name] = "1 to 300 characters"
    if spec.show_to is not None and (not spec.show_to or not set(spec.show_to) <= set(kind.classes)):
        errors["show_to"] = f"classes of {kind.key} surveys: {', '.join(kind.classes)}"
    if spec.type in ("single", "multiple"):
        if not 2 <= len(spec.choices) <= MAX_CHOICES:
            errors["choices"] = f"2 to {MAX_CHOICES} choices"
        elif any(not de.strip() or not en.strip() or len(de) > 120 or len(en) > 120 for de, en in spec.choices):
            errors["choices"] = "every choice needs a German and an English label of up to 120 characters"
    elif spec.choices:
        errors["choices"] = f"{spec.type} questions have no choices"
    if spec.other_option and spec.type != "multiple":
        errors["other_option"] = "only multiple-choice questions have an 'other' box"
    if errors:
        raise QuestionInvalid(errors)


def _describe(question: FollowUpQuestion) -> dict:
    return {
        "id": question.id, "type": question.type, "label_de": question.label_de, "label_en": question.label_en,
        "show_to": question.show_to, "other_option": question.other_option,
        "choices": [c.key for c in question.choices if c.retired_at is None],
    }  # fmt: skip


def add_question(
    session: Session, survey: Survey, spec: QuestionSpec, actor_id: int | None, now: datetime, note: str | None = None
) -> FollowUpQuestion:
    active = active_questions(session, survey.id)
    check(survey, spec, len(active))
    question = FollowUpQuestion(
        survey_id=survey.id,
        position=max((q.position for q in active), default=0) + 1,
        type=spec.type,
        label_de=spec.label_de.strip(),
        label_en=spec.label_en.strip(),
        show_to=sorted(set(spec.show_to), key=KINDS[survey.kind].classes.index) if spec.show_to else None,
        other_option=spec.other_option,
        created_at=now,
    )
    taken: set[str] = set()
    for position, (de, en) in enumerate(spec.choices):
        key = option_key(en, taken)
        taken.add(key)
        question.choices.append(FollowUpChoice(key=key, label_de=de.strip(), label_en=en.strip(), position=position))
    session.add(question)
    session.flush()
    audit.record(session, "survey", survey.id, "question added", actor_id, now, after=_describe(question), note=note)
    return question


def add_choice(
    session: Session, question: FollowUpQuestion, de: str, en: str, actor_id: int | None, now: datetime
) -> FollowUpChoice:
    if question.type not in ("single", "multiple") or question.retired_at is not None:
        raise QuestionInvalid({"choices": "only an asked single- or multiple-choice question takes choices"})
    if len(question.offered) >= MAX_CHOICES:
        raise QuestionInvalid({"choices": f"at most {MAX_CHOICES} choices; retire one first"})
    if not de.strip() or not en.strip() or len(de) > 120 or len(en) > 120:
        raise QuestionInvalid({"choices": "a German and an English label of up to 120 characters"})
    key = option_key(en, {c.key for c in question.choices})
    position = max((c.position for c in question.choices), default=-1) + 1
    choice = FollowUpChoice(key=key, label_de=de.strip(), label_en=en.strip(), position=position)
    question.choices.append(choice)
    session.flush()
    audit.record(session, "survey", question.survey_id, "choice added", actor_id, now,
                 after={"question": question.id, "choice": key, "de": de, "en": en})  # fmt: skip
    return choice


def retire_question(session: Session, question: FollowUpQuestion, actor_id: int | None, now: datetime) -> None:
    if question.retired_at is None:
        question.retired_at = now
        audit.record(session, "survey", question.survey_id, "question retired", actor_id, now,
                     before=_describe(question))  # fmt: skip


def retire_choice(session: Session, choice: FollowUpChoice, actor_id: int | None, now: datetime) -> None:
    """No longer offered; answers that chose it keep it. A question keeps at least two choices on offer."""
    if choice.retired_at is not None:
        return
    if len(choice.question.offered) <= 2:
        raise QuestionInvalid({"choices": "a question keeps at least two choices; retire the question instead"})
    choice.retired_at = now
    audit.record(session, "survey", choice.question.survey_id, "choice retired", actor_id, now,
                 before={"question": choice.question_id, "choice": choice.key})  # fmt: skip
