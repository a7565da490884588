"""Follow-up questions: up to three after the score, each shown to all answers or only to some classes (e.g. the
detractors), as single choice, multiple choice (optionally with "other: ___"), a short text or a second rating
(1-5). Choices are data with German and English labels and are retired like churn reasons: no longer offered,
kept by the answers that chose them.

The score is stored first, by the answer POST's own statement: follow-up answers are a second, optional step, so a
customer who stops after the score has lost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, exists, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, selectinload

from kundenpuls.extensions import db
from kundenpuls.timeutil import UTCDateTime
from surveys.kinds import KINDS
from surveys.models import Labelled
from surveys.signals import follow_ups_given

TYPES = ("single", "multiple", "text", "rating")
MAX_QUESTIONS = 3
MAX_CHOICES = 12
MAX_TEXT = 500
RATING = range(1, 6)


class FollowUpQuestion(Labelled, db.Model):
    __tablename__ = "follow_up_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    position: Mapped[int] = mapped_column(default=1)
    type: Mapped[str] = mapped_column(String(10))  # TYPES
    label_de: Mapped[str] = mapped_column(String(300))
    label_en: Mapped[str] = mapped_column(String(300))
    # The classes of the survey's kind that see the question (["detractor"]); None: every answer.
    show_to: Mapped[list | None] = mapped_column(JSON)
    # Multiple choice: an "other" box with a short text.
    other_option: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Retired questions are no longer asked; their answers stay and still count.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    choices: Mapped[list[FollowUpChoice]] = relationship(
        order_by="(FollowUpChoice.position, FollowUpChoice.id)", back_populates="question"
    )

    def shown_to(self, answer_class: str | None) -> bool:
        return self.show_to is None or answer_class in self.show_to

    @property
    def offered(self) -> list[FollowUpChoice]:
        return [choice for choice in self.choices if choice.retired_at is None]


class FollowUpChoice(Labelled, db.Model):
    __tablename__ = "follow_up_choices"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("follow_up_questions.id"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    label_de: Mapped[str] = mapped_column(String(120))
    label_en: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(default=0)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    question: Mapped[FollowUpQuestion] = relationship(back_populates="choices")


class FollowUpAnswer(db.Model):
    """One answer to a follow-up question: a chosen choice (one row per choice for multiple choice), a text (a
    short-text answer, or the "other" box with no choice), or a rating."""

    __tablename__ = "follow_up_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id"), index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("follow_up_questions.id"), index=True)
    choice_id: Mapped[int | None] = mapped_column(ForeignKey("follow_up_choices.id"), index=True)
    text: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column()

    question: Mapped[FollowUpQuestion] = relationship(lazy="joined")
    choice: Mapped[FollowUpChoice | None] = relationship(lazy="joined")


class FollowUpError(ValueError):
    """A follow-up answer that cannot be stored; `errors` maps the question's field name to a message key."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class FollowUpsGiven(Exception):
    """The answer's follow-up questions were answered already."""


def active_questions(session: Session, survey_id: int) -> list[FollowUpQuestion]:
    """The survey's questions that are asked now, in order, with their choices."""
    return list(
        session.scalars(
            select(FollowUpQuestion)
            .where(FollowUpQuestion.survey_id == survey_id, FollowUpQuestion.retired_at.is_(None))
            .options(selectinload(FollowUpQuestion.choices))
            .order_by(FollowUpQuestion.position, FollowUpQuestion.id)
        )
    )


def all_questions(session: Session, survey_id: int) -> list[FollowUpQuestion]:
    """Every question the survey ever asked (retired ones too), for the admin page and the API."""
    return list(
        session.scalars(
            select(FollowUpQuestion)
            .where(FollowUpQuestion.survey_id == survey_id)
            .options(selectinload(FollowUpQuestion.choices))
            .order_by(FollowUpQuestion.retired_at.is_not(None), FollowUpQuestion.position, FollowUpQuestion.id)
        )
    )


def questions_for(session: Session, survey_id: int, kind: str, score: int | None) -> list[FollowUpQuestion]:
    """The questions an answer with this score sees (by its class on the survey kind's scale)."""
    answer_class = KINDS[kind].classify(score) if KINDS[kind].scored else None
    return [q for q in active_questions(session, survey_id) if q.shown_to(answer_class)]


def has_questions(survey_id_column):
    """SQL: the survey has a question asked now (the answer statement returns it, so the hot path needs no
    second query to know whether a follow-up step comes)."""
    return exists().where(FollowUpQuestion.survey_id == survey_id_column, FollowUpQuestion.retired_at.is_(None))


@dataclass(frozen=True)
class Given:
    """What a customer posted for one question: choice ids, an "other" text, a text, a rating."""

    choices: tuple[int, ...] = ()
    other: str | None = None
    text: str | None = None
    rating: int | None = None

    @property
    def empty(self) -> bool:
        return not (self.choices or self.other or self.text or self.rating is not None)


def store_follow_ups(
    session: Session, response_id: int, questions: list[FollowUpQuestion], given: dict, now: datetime
) -> int:
    """Check and store the answers to `questions` (the ones the response's class was shown); every question is
    optional. Returns how many rows were written; FollowUpsGiven when this response has follow-up answers already."""
    if session.scalar(select(exists().where(FollowUpAnswer.response_id == response_id))):
        raise FollowUpsGiven()
    errors, rows = {}, []
    for question in questions:
        answer: Given = given.get(question.id) or Given()
        offered = {choice.id for choice in question.offered}
        field = f"q{question.id}"
        if any(choice not in offered for choice in answer.choices):
            errors[field] = "choice"
        elif question.type == "single" and len(answer.choices) > 1:
            errors[field] = "one"
        elif question.type == "rating" and answer.rating is not None and answer.rating not in RATING:
            errors[field] = "rating"
        elif any(text is not None and len(text) > MAX_TEXT for text in (answer.other, answer.text)):
            errors[field] = "long"
        elif answer.empty:
            continue
        rows += _rows(response_id, question, answer)
    if errors:
        raise FollowUpError(errors)
    session.add_all(rows)
    session.flush()
    if rows:
        follow_ups_given.send(response_id, session=session, now=now)
    return len(rows)


def _rows(response_id: int, question: FollowUpQuestion, answer: Given) -> list[FollowUpAnswer]:
    base = {"response_id": response_id, "question_id": question.id}
    if question.type == "text":
        return [FollowUpAnswer(**base, text=answer.text)] if answer.text else []
    if question.type == "rating":
        return [FollowUpAnswer(**base, rating=answer.rating)] if answer.rating is not None else []
    rows = [FollowUpAnswer(**base, choice_id=choice) for choice in answer.choices]
    if question.type == "multiple" and question.other_option and answer.other:
        rows.append(FollowUpAnswer(**base, text=answer.other))
    return rows


def answers_of(session: Session, response_ids: list[int]) -> dict[int, list[dict]]:
    """Per response: its follow-up answers as plain data (API, webhooks, export, the case page)."""
    found: dict[int, dict[int, dict]] = {}
    rows = session.scalars(
        select(FollowUpAnswer).where(FollowUpAnswer.response_id.in_(response_ids)).order_by(FollowUpAnswer.id)
    )
    for row in rows:
        question = row.question
        entry = found.setdefault(row.response_id, {}).setdefault(
            question.id,
            {"question_id": question.id, "question": {"de": question.label_de, "en": question.label_en},
             "type": question.type, "choices": [], "text": None, "rating": None},
        )  # fmt: skip
        if row.choice is not None:
            entry["choices"].append({"key": row.choice.key, "de": row.choice.label_de, "en": row.choice.label_en})
        if row.text is not None:
            entry["text"] = row.text
        if row.rating is not None:
            entry["rating"] = row.rating
    return {response_id: list(entries.values()) for response_id, entries in found.items()}
