"""Admin page for the rating grid's attributes (issue 24): the generic list page of surveys.option_admin with its
own words; at most MAX_ATTRIBUTES are asked at once."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from surveys.option_admin import OptionList, option_admin
from surveys.rating_grid import MAX_ATTRIBUTES, RatingAttribute

RATING_ATTRIBUTES = OptionList(
    model=RatingAttribute,
    entity="rating_attribute",
    title=_l("Rating grid: attributes"),
    intro=_l(
        "Surveys with the rating grid ask customers to rate these attributes 1–5 (or “does not apply”) after the "
        "score. Renaming keeps earlier ratings (they show the new wording); a retired attribute is no longer "
        "asked, earlier ratings keep it."
    ),
    on_offer=_l("asked"),
    added=_l("Attribute added. Surveys with the rating grid ask it from now on."),
    limit=MAX_ATTRIBUTES,
)
bp = option_admin("rating_admin", "/surveys/attributes", RATING_ATTRIBUTES)
