"""Channels: how an invitation reached the customer, and how the answer came back.

An invitation records the channel that first delivered it (email: the scheduler's mail; link: a personal link
printed on an invoice or receipt, with its QR code; anonymous: a public link at a counter, on a poster or in a
newsletter, surveys.public_links; widget: the survey shown on the company's own website or app, surveys.widgets). An
answer records the path it came by: the mailed link, the printed link typed in, or the QR code scanned, which can
differ from the invitation's (a receipt's invitation is also mailed later, and either path answers it).
The quiet period, unsubscribes and "one answer per invitation" are the invitation's, so they hold whatever the
channel.
"""

from __future__ import annotations

from flask import abort
from flask_babel import lazy_gettext as _l

from kundenpuls.extensions import db
from surveys.models import Survey

EMAIL, LINK, QR, ANONYMOUS, WIDGET = "email", "link", "qr", "anonymous", "widget"
CHANNELS = (EMAIL, LINK, QR, ANONYMOUS, WIDGET)
# The path of each answer page: /s/ is the mailed link, /p/ the printed one, /q/ the QR code's (short, to print small).
PATHS = {EMAIL: "s", LINK: "p", QR: "q"}
LABELS = {
    EMAIL: _l("E-mail"),
    LINK: _l("Printed link"),
    QR: _l("QR code"),
    ANONYMOUS: _l("Anonymous link"),
    WIDGET: _l("Web widget"),
}
# Paths an answer to a personal invitation may say it came by (the form's hidden field); anonymous answers come by
# their own page only.
PERSONAL = (EMAIL, LINK, QR)


def survey_for_channel_or_404(survey_id: int) -> Survey:
    """The survey an admin adds a link or widget to; churn surveys ask known customers who left, by mail only."""
    survey = db.session.get(Survey, survey_id)
    if survey is None or survey.kind == "churn":
        abort(404)
    return survey
