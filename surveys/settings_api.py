"""GET, POST and PATCH /api/v1/surveys: the survey settings by API, with the admin form's rules.

A body is checked in two steps. Pydantic (strict) checks the JSON's shape and types and refuses unknown fields;
then the values, merged onto the survey's current ones (PATCH) or a new survey's defaults (POST), go through the
same WTForms form as /surveys, so every range, the send window, "reminders before the survey closes" and the
required texts are one set of rules. Changes are audited like an edit on /surveys, with the API key's prefix as the
note instead of a user.
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal

from flask import Blueprint, g, jsonify, request, url_for
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from customers.models import PHASES
from kundenpuls.apiauth import require_api_key
from kundenpuls.extensions import csrf, db
from kundenpuls.inputs import error_list, json_body
from kundenpuls.problems import Problem
from kundenpuls.timeutil import utcnow
from surveys.admin_forms import survey_form_class
from surveys.audience import SATISFACTION, VALUE_CLASSES
from surveys.follow_up_settings import (
    QuestionInvalid,
    QuestionSpec,
    add_choice,
    add_question,
    retire_choice,
    retire_question,
)
from surveys.follow_ups import MAX_CHOICES, TYPES, FollowUpQuestion, all_questions
from surveys.models import Survey
from surveys.settings import CREATABLE, LOCALES, TEXT_NAMES, create_survey, new_survey, settings_for, update_survey

bp = Blueprint("survey_settings_api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

Text = Annotated[str, Field(max_length=1000)]


class AudienceIn(BaseModel):
    """Who is asked; every list empty (or the whole audience null) asks everyone."""

    model_config = ConfigDict(extra="forbid", strict=True)

    value_classes: list[Literal[VALUE_CLASSES]] = []
    phases: list[Literal[PHASES]] = []
    satisfaction: list[Literal[SATISFACTION]] = []
    locales: list[Literal[LOCALES]] = []
    categories: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(default=[], max_length=100)
    after_resolved_case: bool = False


class ChoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    de: Annotated[str, Field(min_length=1, max_length=120)]
    en: Annotated[str, Field(min_length=1, max_length=120)]


class QuestionIn(BaseModel):
    """A new follow-up question (no `id`), or changes to one (`id`): retire it, add choices, retire choices."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: int | None = None
    type: Literal[TYPES] | None = None
    label_de: Annotated[str, Field(max_length=300)] | None = None
    label_en: Annotated[str, Field(max_length=300)] | None = None
    show_to: list[Annotated[str, Field(max_length=20)]] | None = Field(default=None, max_length=3)
    other_option: bool = False
    choices: list[ChoiceIn] = Field(default=[], max_length=MAX_CHOICES)
    retired: bool = False
    retire_choices: list[Annotated[str, Field(max_length=40)]] = Field(default=[], max_length=MAX_CHOICES)


class SurveyChanges(BaseModel):
    """PATCH: the settings to change; texts merge per language and name, the audience is replaced whole."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = None
    name_de: Annotated[str, Field(max_length=200)] | None = None  # the name on German pages ("" for none)
    active: bool | None = None
    trigger: Literal["purchase", "case_resolved"] | None = None
    delay_days: int | None = None
    reminder_count: int | None = None
    reminder_after_days: int | None = None
    expiry_days: int | None = None
    quiet_days: int | None = None
    send_weekdays: list[Annotated[int, Field(ge=0, le=6)]] | None = Field(default=None, max_length=7)
    send_start: Annotated[str, Field(pattern=r"^[0-2][0-9]:[0-5][0-9]$")] | None = None
    send_end: Annotated[str, Field(pattern=r"^[0-2][0-9]:[0-5][0-9]$")] | None = None
    passive_comment_cases: bool | None = None
    rating_grid: bool | None = None
    trigger_cancellation: bool | None = None
    trigger_inactive: bool | None = None
    audience: AudienceIn | None = None
    texts: dict[Literal[LOCALES], dict[Annotated[str, Field(max_length=40)], Text]] | None = None
    follow_up_questions: list[QuestionIn] | None = Field(default=None, max_length=10)


class NewSurvey(SurveyChanges):
    kind: Literal[CREATABLE]
    key: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=50)]
    name: str


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


def survey_json(survey: Survey) -> dict:
    settings = {name: getattr(survey, name) for name in settings_for(survey.kind)}
    settings["send_weekdays"] = sorted(survey.weekdays)
    settings["send_start"], settings["send_end"] = _hhmm(survey.send_start), _hhmm(survey.send_end)
    return {
        "id": survey.id,
        "key": survey.key,
        "kind": survey.kind,
        **settings,
        "audience": survey.audience,
        "texts": {locale: dict(survey.texts.get(locale) or {}) for locale in LOCALES},
        "follow_up_questions": [_question_json(q) for q in all_questions(db.session, survey.id)] if survey.id else [],
        # The results route belongs to analytics (a package above): named by its path, not imported.
        "results": f"{request.script_root}/api/v1/surveys/{survey.id}/results" if survey.kind != "churn" else None,
    }


def _question_json(question: FollowUpQuestion) -> dict:
    return {
        "id": question.id, "position": question.position, "type": question.type, "label_de": question.label_de,
        "label_en": question.label_en, "show_to": question.show_to, "other_option": question.other_option,
        "retired": question.retired_at is not None,
        "choices": [{"id": c.id, "key": c.key, "label_de": c.label_de, "label_en": c.label_en,
                     "retired": c.retired_at is not None} for c in question.choices],
    }  # fmt: skip


def _apply_questions(survey: Survey, items: list[QuestionIn], now) -> None:
    """New questions are added, named ones changed, in the order given; the first error stops all (422)."""
    for n, item in enumerate(items):
        where = f"follow_up_questions.{n}"
        try:
            if item.id is None:
                if item.retired or item.retire_choices:
                    raise QuestionInvalid({"id": "a new question has nothing to retire"})
                spec = QuestionSpec(item.type or "", item.label_de or "", item.label_en or "", item.show_to,
                                    item.other_option, [(c.de, c.en) for c in item.choices])  # fmt: skip
                add_question(db.session, survey, spec, None, now, note=_note())
                continue
            question = db.session.get(FollowUpQuestion, item.id)
            if question is None or question.survey_id != survey.id:
                raise QuestionInvalid({"id": "no follow-up question of this survey has this id"})
            if item.type or item.label_de or item.label_en or item.show_to or item.other_option:
                raise QuestionInvalid({"id": "a question's wording and type stay; retire it and add a new one"})
            for choice in item.choices:
                add_choice(db.session, question, choice.de, choice.en, None, now)
            by_key = {choice.key: choice for choice in question.choices}
            for key in item.retire_choices:
                if key not in by_key:
                    raise QuestionInvalid({"retire_choices": f"{key!r} is no choice of this question"})
                retire_choice(db.session, by_key[key], None, now)
            if item.retired:
                retire_question(db.session, question, None, now)
        except QuestionInvalid as exc:
            db.session.rollback()
            raise _invalid([{"field": f"{where}.{k}", "message": v} for k, v in exc.errors.items()]) from None


def _invalid(errors: list[dict]) -> Problem:
    return Problem(422, "Invalid survey", "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors)


def _parse(model: type[SurveyChanges]) -> SurveyChanges:
    try:
        body = model.model_validate(json_body("survey"))
    except ValidationError as exc:
        raise _invalid(error_list(exc)) from None
    nulls = [name for name in body.model_fields_set if getattr(body, name) is None and name != "audience"]
    if nulls:
        raise _invalid([{"field": name, "message": "may not be null"} for name in sorted(nulls)])
    return body


def _merged(survey: Survey, body: SurveyChanges) -> dict:
    """The survey's values as the API shows them, with the body's changes on top."""
    values = survey_json(survey)
    given = body.model_dump(exclude_unset=True, exclude={"kind", "key", "follow_up_questions"})
    for name, value in given.items():
        if name == "texts":
            for locale, texts in value.items():
                values["texts"][locale] = {**values["texts"].get(locale, {}), **texts}
        else:
            values[name] = value
    unknown = [
        {"field": f"texts.{locale}.{name}", "message": f"not a text of {survey.kind} surveys"}
        for locale, texts in (given.get("texts") or {}).items()
        for name in texts
        if name not in TEXT_NAMES[survey.kind]
    ]
    foreign = [{"field": name, "message": f"not a setting of {survey.kind} surveys"}
               for name in given if name not in (*settings_for(survey.kind), "texts", "audience")]  # fmt: skip
    if unknown or foreign:
        raise _invalid(foreign + unknown)
    return values


def _formdata(values: dict, kind: str) -> MultiDict:
    """The values as the /surveys form would post them."""
    data = MultiDict()
    for name in settings_for(kind):
        value = values[name]
        if name == "send_weekdays":
            for day in value:
                data.add(name, str(day))
        elif isinstance(value, bool):
            if value:
                data.add(name, "y")
        elif value is not None:
            data.add(name, str(value))
    for locale in LOCALES:
        for name, text in values["texts"].get(locale, {}).items():
            data.add(f"texts_{locale}-{name}", text)
    audience = values["audience"] or {}
    for key in ("value_classes", "phases", "satisfaction", "locales"):
        for value in audience.get(key) or []:
            data.add(f"audience_{key}", value)
    data.add("audience_categories", ",".join(audience.get("categories") or []))
    if audience.get("after_resolved_case"):
        data.add("audience_after_resolved_case", "y")
    return data


def _form_errors(errors: dict) -> list[dict]:
    """The form's errors under the API's field names (texts.de.subject, audience.phases, send_end)."""
    found = []
    for name, messages in errors.items():
        if isinstance(messages, dict):
            locale = name.removeprefix("texts_")
            found += [{"field": f"texts.{locale}.{sub}", "message": str(m)} for sub, ms in messages.items() for m in ms]
        else:
            field = f"audience.{name.removeprefix('audience_')}" if name.startswith("audience_") else name
            found += [{"field": field, "message": str(m)} for m in messages]
    return found


def _checked_changes(values: dict, kind: str) -> dict:
    """Validate with the admin form's rules; the changes as the admin page would save them."""
    form = survey_form_class(kind)(formdata=_formdata(values, kind), meta={"csrf": False})
    if not form.validate():
        raise _invalid(_form_errors(form.errors))
    changes = {name: getattr(form, name).data for name in settings_for(kind)}
    changes["name"] = changes["name"].strip()
    changes["send_weekdays"] = ",".join(sorted(form.send_weekdays.data))
    changes["texts"] = {locale: {n: getattr(form, f"texts_{locale}")[n].data for n in TEXT_NAMES[kind]}
                        for locale in LOCALES}  # fmt: skip
    changes["audience"] = form.audience()
    return changes


def _note() -> str:
    return f"API key {g.api_key.prefix}"


@bp.get("/surveys")
@require_api_key
def list_surveys():
    surveys = db.session.scalars(select(Survey).order_by(Survey.id)).all()
    return jsonify({"surveys": [survey_json(survey) for survey in surveys]})


def _survey(survey_id: int) -> Survey:
    survey = db.session.get(Survey, survey_id)
    if survey is None:
        raise Problem(404, "Not found", f"no survey with id {survey_id}")
    return survey


# One rule for both methods: with two, a PATCH to an id beyond the id columns (which the converter refuses) found
# the GET rule's path and answered 405 instead of 404 (Werkzeug checks a rule's methods before its converters).
@bp.route("/surveys/<int:survey_id>", methods=["GET", "PATCH"])
@require_api_key
def one_survey(survey_id: int):
    survey = _survey(survey_id)
    return jsonify(survey_json(survey)) if request.method == "GET" else _patch(survey)


@bp.post("/surveys")
@require_api_key
def post_survey():
    """Create a survey (paused unless `active` says otherwise) from a new survey's defaults and the body."""
    body = _parse(NewSurvey)
    template = new_survey(db.session, body.kind)  # not added to the session: only its values are used
    template.key = body.key
    changes = _checked_changes(_merged(template, body), body.kind)
    if db.session.scalar(select(Survey.id).where(Survey.key == body.key)) is not None:
        raise Problem(
            409, "Key taken", f"a survey with key {body.key!r} exists", [{"field": "key", "message": "taken"}]
        )
    name = changes.pop("name")
    survey = create_survey(db.session, name, body.key, None, utcnow(), body.kind, changes, note=_note())
    if body.follow_up_questions:
        _apply_questions(survey, body.follow_up_questions, utcnow())
    db.session.commit()
    location = url_for(".one_survey", survey_id=survey.id)
    return jsonify(survey_json(survey)), 201, {"Location": location}


def _patch(survey: Survey):
    """Change some settings; mail not sent yet is rendered again, as after an edit on /surveys."""
    body = _parse(SurveyChanges)
    changes = _checked_changes(_merged(survey, body), survey.kind)
    update_survey(db.session, survey, changes, None, utcnow(), note=_note())
    if body.follow_up_questions:
        if survey.kind == "churn":
            raise _invalid([{"field": "follow_up_questions", "message": "churn surveys ask their reasons instead"}])
        _apply_questions(survey, body.follow_up_questions, utcnow())
    db.session.commit()
    return jsonify(survey_json(survey))
