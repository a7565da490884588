"""The words for a case's priority ("why it ranks here") and its SLA clock, for the queue and the case page.

Built in Python with the page's translations fetched once: as template macros they asked Flask-Babel for every
phrase of every row, a fifth of the queue page's time. Details that come from data (a rule's name) are escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

from flask_babel import get_translations
from markupsafe import Markup

from feedback.models import OPEN
from kundenpuls.formatting import money


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated where it is shown."""
    return message


REASONS = {
    "detractor": N_("detractor, score %(score)s"),
    "churn": N_("churn answer"),
    "passive": N_("passive with comment"),
    "dissatisfied": N_("dissatisfied, score %(score)s"),
    "hard": N_("hard to do, score %(score)s"),
    "neutral": N_("neutral with comment"),
    "value": N_("%(value)s revenue in 12 months"),
    "measure": N_("retention measure: %(rule)s"),
    "potential": N_("%(value)s potential"),
}


AMOUNTS = ("value", "potential")  # reasons whose detail is a whole amount in euros


def page_gettext() -> Callable[[str], str]:
    """The current locale's gettext, looked up once for a whole page."""
    return get_translations().ugettext


def why(reasons: list, gettext: Callable[[str], str] | None = None) -> Markup:
    """ "detractor, score 2 (+30) · €1,200 revenue in 12 months (+12)": what the priority points are made of."""
    gettext = gettext or page_gettext()
    parts = []
    for key, points, detail in reasons or ():
        if key in REASONS:
            value = money(detail, digits=0) if key in AMOUNTS else detail
            phrase = Markup(gettext(REASONS[key])) % {"score": detail, "value": value, "rule": detail}
            parts.append(phrase + f" (+{int(points)})")
    return Markup(" · ").join(parts)


def due(status: str, next_due_at: datetime, now: datetime, gettext: Callable[[str], str] | None = None) -> Markup:
    """ "due in 5 h", "overdue by 3 days" (marked up as overdue) or "closed"; days from two days on."""
    gettext = gettext or page_gettext()
    if status not in OPEN:
        return Markup(gettext("closed"))
    hours = math.floor((next_due_at - now).total_seconds() / 3600)
    if hours < 0:
        late = -hours
        text = (
            gettext("overdue by %(h)s h") % {"h": late}
            if late < 48
            else gettext("overdue by %(d)s days") % {"d": late // 24}
        )
        return Markup('<strong class="overdue">%s</strong>') % text
    if hours < 48:
        return Markup(gettext("due in %(h)s h")) % {"h": hours}
    return Markup(gettext("due in %(d)s days")) % {"d": hours // 24}
