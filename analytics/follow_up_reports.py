"""Follow-up answers in the reports: each choice as a categorical attribute of the drivers report (promoters vs
detractors among the answers that answered its question), and the breakdown of every question by class on a
survey's results page. Retired questions and choices still count: their answers were given."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from analytics.queries import ReportFilter, day_bounds, survey_filters
from surveys.follow_ups import FollowUpAnswer, FollowUpChoice, FollowUpQuestion
from surveys.kinds import KINDS, NPS, sql_position_flags
from surveys.models import Response, Survey


def _answered(start: date, end: date):
    since, until = day_bounds(start, end)
    return Response.created_at >= since, Response.created_at < until


def choice_counts(session: Session, start: date, end: date, filters: ReportFilter) -> dict:
    """{question id: {"answered": (promoters, detractors), "choices": {choice id: (promoters, detractors)}}} over
    the NPS answers in range (the drivers report's filters: survey and language)."""
    promoter = NPS.sql_in(Response.score, "promoter")
    detractor = NPS.sql_in(Response.score, "detractor")
    base = survey_filters(
        select().select_from(FollowUpAnswer).join(Response, Response.id == FollowUpAnswer.response_id),
        filters, Response.survey_id, Response.locale,
    ).where(*_answered(start, end), promoter | detractor)  # fmt: skip
    result: dict[int, dict] = {}
    per_question = base.add_columns(
        FollowUpAnswer.question_id,
        func.count(distinct(FollowUpAnswer.response_id)).filter(promoter),
        func.count(distinct(FollowUpAnswer.response_id)).filter(detractor),
    ).group_by(FollowUpAnswer.question_id)
    for question_id, p, d in session.execute(per_question):
        result[question_id] = {"answered": (int(p), int(d)), "choices": {}}
    per_choice = (
        base.add_columns(
            FollowUpAnswer.question_id,
            FollowUpAnswer.choice_id,
            func.count().filter(promoter),
            func.count().filter(detractor),
        )
        .where(FollowUpAnswer.choice_id.is_not(None))
        .group_by(FollowUpAnswer.question_id, FollowUpAnswer.choice_id)
    )
    for question_id, choice_id, p, d in session.execute(per_choice):
        result[question_id]["choices"][choice_id] = (int(p), int(d))
    return result


def findings(counts: dict, two_by_two_test, phi, finding) -> list:
    """One finding per choice whose question promoters and detractors both answered: the share who chose it among
    those who answered, compared with the 2x2 test the drivers report uses for every categorical attribute."""
    found = []
    for question_id, question in counts.items():
        n_p, n_d = question["answered"]
        if not n_p or not n_d:
            continue  # asked of one class only: nothing to compare
        for choice_id, (in_p, in_d) in sorted(question["choices"].items()):
            table = np.array([[in_p, n_p - in_p], [in_d, n_d - in_d]])
            test, p_value = two_by_two_test(table)
            level = f"{question_id}:{choice_id}"
            share_p, share_d = in_p / n_p, in_d / n_d
            sentence = f"Choice {level}: {share_d:.0%} of detractors vs {share_p:.0%} of promoters."
            found.append(finding("follow_up", "categorical", level, test, p_value, 1.0, phi(table), sentence,
                                 share_p, share_d))  # fmt: skip
    return found


def labels(session: Session, locale: str) -> dict[str, str]:
    """'question:choice' -> '„question“: choice' in the page's language, for the drivers page."""
    rows = session.execute(select(FollowUpQuestion, FollowUpChoice).join(FollowUpChoice.question))
    return {f"{q.id}:{c.id}": f"„{q.label(locale)}“: {c.label(locale)}" for q, c in rows}


@dataclass
class QuestionBreakdown:
    question: FollowUpQuestion
    classes: tuple[str, ...]
    answered: dict[str, int] = field(default_factory=dict)  # per class: answers that answered the question
    rows: list[tuple[FollowUpChoice, dict[str, int], int]] = field(default_factory=list)  # choice, per class, all
    ratings: dict[str, float | None] = field(default_factory=dict)  # mean rating per class (rating questions)
    texts: int = 0  # answers with a text (short text, or "other")


def breakdown(session: Session, survey: Survey, start: date, end: date, filters: ReportFilter) -> list:
    """Per question of the survey (retired ones too, if answered in range): answers per choice and class."""
    kind = KINDS[survey.kind]
    flags = sql_position_flags(Survey.kind, Response.score)
    scope = survey_filters(
        select().select_from(FollowUpAnswer)
        .join(Response, Response.id == FollowUpAnswer.response_id)
        .join(Survey, Survey.id == Response.survey_id),
        ReportFilter(survey.id, filters.locale), Response.survey_id, Response.locale,
    ).where(*_answered(start, end))  # fmt: skip
    answered = scope.add_columns(
        FollowUpAnswer.question_id,
        *(func.count(distinct(FollowUpAnswer.response_id)).filter(flag == 1) for flag in flags),
        func.count().filter(FollowUpAnswer.text.is_not(None)),
        *(func.avg(FollowUpAnswer.rating).filter(flag == 1) for flag in flags),
    ).group_by(FollowUpAnswer.question_id)
    per_choice = (
        scope.add_columns(FollowUpAnswer.choice_id, *(func.sum(flag) for flag in flags))
        .where(FollowUpAnswer.choice_id.is_not(None))
        .group_by(FollowUpAnswer.choice_id)
    )
    chosen = {choice_id: tuple(int(v or 0) for v in counts) for choice_id, *counts in session.execute(per_choice)}
    questions = {
        q.id: q for q in session.scalars(select(FollowUpQuestion).where(FollowUpQuestion.survey_id == survey.id))
    }
    result = []
    for question_id, *values in session.execute(answered):
        question = questions[question_id]
        item = QuestionBreakdown(question, kind.classes)
        item.answered = dict(zip(kind.classes, (int(v) for v in values[:3]), strict=True))
        item.texts = int(values[3])
        item.ratings = {
            name: (None if v is None else float(v)) for name, v in zip(kind.classes, values[4:], strict=True)
        }
        for choice in question.choices:
            counts = chosen.get(choice.id, (0, 0, 0))
            item.rows.append((choice, dict(zip(kind.classes, counts, strict=True)), sum(counts)))
        result.append(item)
    return sorted(result, key=lambda b: (b.question.retired_at is not None, b.question.position, b.question.id))
