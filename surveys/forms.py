"""The customer's answer form."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectChoice, TextAreaField
from wtforms.validators import InputRequired, Length

from surveys.services import MAX_COMMENT


def answer_form_token(survey_token: str) -> str:
    """The form's anti-forgery value, derived from the invitation instead of a session.

    Survey pages set no cookie (customers need no session and no consent banner); the invitation
    token in the URL is what authorises an answer, and this value shows the form came from our page.
    """
    key = current_app.secret_key.encode()
    return hmac.new(key, b"survey-answer\0" + survey_token.encode(), hashlib.sha256).hexdigest()


class NpsForm(FlaskForm):
    class Meta:
        csrf = False  # replaced by the per-invitation csrf_token below

    csrf_token = HiddenField()
    score = RadioField(
        choices=[SelectChoice(n, str(n)) for n in range(11)],
        coerce=int,
        validators=[InputRequired(message=_l("Please choose a score from 0 to 10."))],
    )
    comment = TextAreaField(
        validators=[
            Length(max=MAX_COMMENT, message=_l("Please keep your comment under %(max)d characters.", max=MAX_COMMENT))
        ]
    )
