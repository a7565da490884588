"""The admin's survey form: settings plus the texts in German and English."""

from __future__ import annotations

import functools

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Form,
    FormField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from customers.models import PHASE_LABELS, PHASES
from surveys.audience import VALUE_CLASSES
from surveys.audience import clean as clean_audience
from surveys.kinds import KINDS, Kind

WEEKDAYS = (_l("Mon"), _l("Tue"), _l("Wed"), _l("Thu"), _l("Fri"), _l("Sat"), _l("Sun"))


class _MailTextsForm(Form):
    """The texts every survey has: the mail and the question."""

    subject = StringField(_l("Mail subject"), validators=[DataRequired(), Length(max=200)])
    reminder_subject = StringField(_l("Reminder subject"), validators=[DataRequired(), Length(max=200)])
    greeting = StringField(_l("Greeting"), validators=[DataRequired(), Length(max=100)])
    intro = TextAreaField(_l("Mail text"), validators=[DataRequired(), Length(max=1000)])
    reminder_intro = TextAreaField(_l("Reminder text"), validators=[DataRequired(), Length(max=1000)])
    question = StringField(_l("Question"), validators=[DataRequired(), Length(max=300)])


class TextsForm(_MailTextsForm):
    low_label = StringField(_l("Label for 0"), validators=[DataRequired(), Length(max=60)])
    high_label = StringField(_l("Label for 10"), validators=[DataRequired(), Length(max=60)])
    comment_label = StringField(_l("Comment question"), validators=[DataRequired(), Length(max=300)])
    thanks = StringField(_l("Thank-you line"), validators=[DataRequired(), Length(max=200)])


def _scale_texts_form(kind: Kind) -> type[Form]:
    """The texts of a CSAT or CES survey: as NPS's, with a label for every point of the scale."""
    fields = {
        f"label_{n}": StringField(_l("Label for %(n)s", n=n), validators=[DataRequired(), Length(max=60)])
        for n in kind.scale
    }
    fields["comment_label"] = StringField(_l("Comment question"), validators=[DataRequired(), Length(max=300)])
    fields["thanks"] = StringField(_l("Thank-you line"), validators=[DataRequired(), Length(max=200)])
    return type(f"{kind.key.title()}TextsForm", (_MailTextsForm,), fields)


class ChurnTextsForm(_MailTextsForm):
    button = StringField(_l("Button in the mail"), validators=[DataRequired(), Length(max=60)])
    main_label = StringField(_l("Main-reason question"), validators=[DataRequired(), Length(max=300)])
    comment_label = StringField(_l("Open-text question"), validators=[DataRequired(), Length(max=300)])
    comeback_label = StringField(_l("Come-back question"), validators=[DataRequired(), Length(max=300)])
    thanks = StringField(_l("Thank-you line"), validators=[DataRequired(), Length(max=200)])


def _days(maximum: int):
    return [InputRequired(), NumberRange(min=0, max=maximum)]


def checkboxes(label, choices) -> SelectMultipleField:
    return SelectMultipleField(
        label,
        choices=[SelectChoice(value, text) for value, text in choices],
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
    )


SATISFACTION_LABELS = {
    "promoter": _l("promoters (9–10)"),
    "passive": _l("passives (7–8)"),
    "detractor": _l("detractors (0–6)"),
    "unknown": _l("never answered"),
}


class SurveyForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    name_de = StringField(_l("Name on German pages (optional)"), validators=[Optional(), Length(max=200)])
    active = BooleanField(_l("Active (paused when off)"))
    delay_days = IntegerField(_l("Days after purchase"), validators=_days(365))
    reminder_count = IntegerField(_l("Reminders"), validators=[InputRequired(), NumberRange(min=0, max=3)])
    reminder_after_days = IntegerField(_l("Days until a reminder"), validators=[InputRequired(), NumberRange(1, 60)])
    expiry_days = IntegerField(_l("Days until the survey closes"), validators=[InputRequired(), NumberRange(1, 365)])
    quiet_days = IntegerField(_l("Quiet period in days (across all surveys)"), validators=_days(730))
    send_weekdays = SelectMultipleField(
        _l("Send on"),
        choices=[SelectChoice(str(i), label) for i, label in enumerate(WEEKDAYS)],
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
        validators=[DataRequired(message=_l("Choose at least one day."))],
    )
    send_start = TimeField(_l("From (customer's local time)"), validators=[InputRequired()])
    send_end = TimeField(_l("Until"), validators=[InputRequired()])
    passive_comment_cases = BooleanField(_l("Passives (7–8) with a comment open a low-priority case"))
    trigger = SelectField(
        _l("Sent after"),
        default="purchase",
        choices=[
            SelectChoice("purchase", _l("a purchase (days after the purchase)")),
            SelectChoice("case_resolved", _l("a resolved feedback case (days after the resolution): re-ask")),
        ],
    )
    rating_grid = BooleanField(_l("After the score, ask for ratings of the offer's attributes (rating grid)"))
    texts_de = FormField(TextsForm, label=_l("German texts"))
    texts_en = FormField(TextsForm, label=_l("English texts"))
    audience_value_classes = checkboxes(_l("Value classes"), [(c, c) for c in VALUE_CLASSES])
    audience_phases = checkboxes(_l("Lifecycle phases"), [(p, PHASE_LABELS[p]) for p in PHASES])
    audience_satisfaction = checkboxes(_l("Latest NPS answer"), list(SATISFACTION_LABELS.items()))
    audience_locales = checkboxes(_l("Languages"), [("de", _l("German")), ("en", _l("English"))])
    audience_categories = StringField(
        _l("Product categories (comma-separated; the purchase that triggers the survey)"),
        validators=[Length(max=1000)],
    )
    audience_after_resolved_case = BooleanField(_l("Only customers whose case was resolved after their latest answer"))

    def audience(self) -> dict | None:
        return clean_audience(
            {
                "value_classes": self.audience_value_classes.data,
                "phases": self.audience_phases.data,
                "satisfaction": self.audience_satisfaction.data,
                "locales": self.audience_locales.data,
                "categories": (self.audience_categories.data or "").split(","),
                "after_resolved_case": self.audience_after_resolved_case.data,
            }
        )

    def validate_send_end(self, field) -> None:
        if self.send_start.data and field.data and field.data <= self.send_start.data:
            raise ValidationError(_l("The window must end after it starts."))

    def validate_reminder_after_days(self, field) -> None:
        if self.expiry_days.data and field.data and field.data >= self.expiry_days.data:
            raise ValidationError(_l("Reminders must come before the survey closes."))


class ChurnSurveyForm(SurveyForm):
    delay_days = IntegerField(_l("Days after the cancellation"), validators=_days(365))
    trigger = None  # churn surveys have their own triggers
    rating_grid = None
    trigger_cancellation = BooleanField(_l("Ask customers who cancel (POST /api/v1/cancellations)"))
    trigger_inactive = BooleanField(_l("Ask customers who turn inactive"))
    texts_de = FormField(ChurnTextsForm, label=_l("German texts"))
    texts_en = FormField(ChurnTextsForm, label=_l("English texts"))


@functools.cache
def _scale_survey_form(key: str) -> type[SurveyForm]:
    kind = KINDS[key]
    texts = _scale_texts_form(kind)
    return type(
        f"{key.title()}SurveyForm",
        (SurveyForm,),
        {
            "delay_days": IntegerField(_l("Days after the event"), validators=_days(365)),
            "passive_comment_cases": BooleanField(_l("Neutral answers with a comment open a low-priority case")),
            "texts_de": FormField(texts, label=_l("German texts")),
            "texts_en": FormField(texts, label=_l("English texts")),
        },
    )


def survey_form_class(kind: str) -> type[SurveyForm]:
    if kind == "churn":
        return ChurnSurveyForm
    return SurveyForm if kind == "nps" else _scale_survey_form(kind)


TRIGGER_LABELS = {
    "purchase": _l("a purchase"),
    "case_resolved": _l("a resolved case"),
    "churn": _l("a cancellation or inactivity"),
}
# The kind as the survey list names it (the acronyms read the same in German).
SHORT_KIND_LABELS = {"nps": "NPS", "csat": "CSAT", "ces": "CES", "churn": _l("churn reasons")}
KIND_LABELS = {
    "nps": _l("NPS: how likely to recommend, 0–10"),
    "csat": _l("CSAT: how satisfied, 1–5"),
    "ces": _l("Customer effort (CES): how easy, 1–7"),
}


class NewSurveyForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), default="nps", choices=[SelectChoice(k, label) for k, label in KIND_LABELS.items()])
    key = StringField(
        _l("Key"),
        validators=[
            DataRequired(),
            Length(max=50),
            Regexp(r"^[a-z0-9][a-z0-9-]*$", message=_l("Lower-case letters, digits and dashes.")),
        ],
    )


class ReasonForm(FlaskForm):
    label_de = StringField(_l("German label"), validators=[DataRequired(), Length(max=120)])
    label_en = StringField(_l("English label"), validators=[DataRequired(), Length(max=120)])
    position = IntegerField(_l("Order"), validators=[InputRequired(), NumberRange(min=0, max=10000)], default=100)
    recoverable = BooleanField(_l("Recoverable (win-back)"))
    measure_de = StringField(_l("Win-back measure (German)"), validators=[Length(max=300)])
    measure_en = StringField(_l("Win-back measure (English)"), validators=[Length(max=300)])

    def validate_measure_en(self, field) -> None:
        if self.recoverable.data and not (field.data or "").strip() and not (self.measure_de.data or "").strip():
            raise ValidationError(_l("A recoverable reason needs a suggested measure."))

    def values(self) -> dict:
        return {
            "label_de": self.label_de.data.strip(),
            "label_en": self.label_en.data.strip(),
            "position": self.position.data,
            "recoverable": bool(self.recoverable.data),
            "measure_de": (self.measure_de.data or "").strip() or None,
            "measure_en": (self.measure_en.data or "").strip() or None,
        }
