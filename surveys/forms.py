"""The customer's answer form."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, TextAreaField
from wtforms.validators import InputRequired, Length

from surveys.services import MAX_COMMENT


class NpsForm(FlaskForm):
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
