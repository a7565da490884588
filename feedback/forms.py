"""Forms of the case page; every one carries Flask-WTF's CSRF token."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from feedback.models import ROOT_CAUSES, STATUSES
from feedback.services import MAX_NOTE

STATUS_LABELS = {
    "new": _l("New"),
    "in_progress": _l("In progress"),
    "waiting": _l("Waiting for customer"),
    "resolved": _l("Resolved"),
    "wont_fix": _l("Won't fix"),
}
PRIORITY_LABELS = {"high": _l("high"), "normal": _l("normal"), "low": _l("low")}
ROOT_CAUSE_LABELS = {
    "product_quality": _l("Product quality"),
    "price": _l("Price"),
    "delivery": _l("Delivery"),
    "service": _l("Service / support"),
    "billing": _l("Billing"),
    "website": _l("Website / app"),
    "communication": _l("Communication"),
    "other": _l("Other"),
}
NOTE_LABELS = {
    "note": _l("Internal note"),
    "contact": _l("Contacted the customer (call, visit)"),
    "customer_reply": _l("The customer's answer"),
}


class VersionedForm(FlaskForm):
    version = IntegerField(widget=HiddenField.widget, validators=[InputRequired()])


class AssignForm(VersionedForm):
    owner_id = SelectField(_l("Owner"), coerce=int, validate_choice=False)


class StatusForm(VersionedForm):
    status = SelectField(_l("Status"), choices=[SelectChoice(s, STATUS_LABELS[s]) for s in STATUSES])


class RootCauseForm(VersionedForm):
    root_cause = SelectField(
        _l("Root cause"),
        choices=[SelectChoice("", "—")] + [SelectChoice(c, ROOT_CAUSE_LABELS[c]) for c in ROOT_CAUSES],
        validators=[Optional()],
    )


class InteractionForm(VersionedForm):
    contact_reason_id = SelectField(_l("Why the customer got in touch"), coerce=int, validate_choice=False)
    customer_priority = StringField(_l("What mattered most to the customer"), validators=[Length(max=300)])
    measure_taken = TextAreaField(_l("Measure taken"), validators=[Length(max=1000)])


class NoteForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=[SelectChoice(k, label) for k, label in NOTE_LABELS.items()])
    text = TextAreaField(_l("Note"), validators=[DataRequired(), Length(max=MAX_NOTE)])


class ReplyForm(FlaskForm):
    reply_key = HiddenField(validators=[DataRequired(), Length(max=40)])
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=200)])
    text = TextAreaField(_l("Message to the customer"), validators=[DataRequired(), Length(max=MAX_NOTE)])


class TakeForm(FlaskForm):
    """Only the CSRF token: taking a case has no fields."""
