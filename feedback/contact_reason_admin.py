"""Admin page for the contact reasons agents choose on a case (issue 24): the generic list page of
surveys.option_admin with its own words."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from feedback.models import ContactReason
from surveys.option_admin import OptionList, option_admin

CONTACT_REASONS = OptionList(
    model=ContactReason,
    entity="contact_reason",
    title=_l("Contact reasons"),
    intro=_l(
        "Agents record on each case why the customer got in touch, from this list; the contacts report counts them. "
        "Renaming keeps earlier cases (they show the new wording); a retired reason is no longer offered, earlier "
        "cases keep it and the report still counts it."
    ),
    on_offer=_l("offered"),
    added=_l("Reason added. Cases offer it from now on."),
    keep_one=True,
)
bp = option_admin("contact_reason_admin", "/cases/contact-reasons", CONTACT_REASONS)
