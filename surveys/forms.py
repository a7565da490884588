"""The customer's answer form."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectChoice, SelectField, SelectMultipleField, TextAreaField
from wtforms.validators import InputRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from surveys.kinds import Kind
from surveys.services import MAX_COMMENT


def answer_form_token(survey_token: str, purpose: bytes = b"survey-answer") -> str:
    """The form's anti-forgery value, derived from the invitation instead of a session.

    Survey pages set no cookie (customers need no session and no consent banner); the invitation
    token in the URL is what authorises an answer, and this value shows the form came from our page.
    The purpose differs per form, so the value also says which form (NPS or churn reasons) was posted.
    """
    key = current_app.secret_key.encode()
    return hmac.new(key, purpose + b"\0" + survey_token.encode(), hashlib.sha256).hexdigest()


def churn_form_token(survey_token: str) -> str:
    return answer_form_token(survey_token, b"churn-answer")


class ScoreForm(FlaskForm):
    """A score on the survey kind's scale and an optional comment (NPS, CSAT, CES): built by score_form."""

    class Meta:
        csrf = False  # replaced by the per-invitation csrf_token below

    csrf_token = HiddenField()
    score = RadioField(coerce=int, validators=[InputRequired(message=_l("Please choose a score."))])
    comment = TextAreaField(
        validators=[
            Length(max=MAX_COMMENT, message=_l("Please keep your comment under %(max)d characters.", max=MAX_COMMENT))
        ]
    )


def score_form(kind: Kind, **kwargs) -> ScoreForm:
    """The answer form for a survey of this kind: its scale's points are the only choices."""
    form = ScoreForm(**kwargs)
    form.score.choices = [SelectChoice(n, str(n)) for n in kind.scale]
    return form


class ChurnForm(FlaskForm):
    """Reasons (checkboxes), the main one, an open text and "would you come back if ...?"."""

    class Meta:
        csrf = False  # replaced by the per-invitation csrf_token below

    csrf_token = HiddenField()
    reasons = SelectMultipleField(
        option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False), validate_choice=True
    )
    main = SelectField(validate_choice=False)  # optional: checked in validate_main
    comment = TextAreaField(
        validators=[
            Length(max=MAX_COMMENT, message=_l("Please keep your comment under %(max)d characters.", max=MAX_COMMENT))
        ]
    )
    comeback = TextAreaField(
        validators=[Length(max=2000, message=_l("Please keep this under %(max)d characters.", max=2000))]
    )

    def validate_main(self, field) -> None:
        if field.data and field.data not in {choice.value for choice in self.reasons.choices}:
            raise ValidationError(_l("Not a valid choice."))

    def offer(self, reasons, locale: str, none_label: str) -> ChurnForm:
        """Offer these (active) reasons with labels in the customer's language."""
        self.reasons.choices = [SelectChoice(str(r.id), r.label(locale)) for r in reasons]
        self.main.choices = [SelectChoice("", none_label), *self.reasons.choices]
        return self
