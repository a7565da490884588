"""Words for the segment dimensions, shared by pages, rules and their "why"."""

from flask_babel import lazy_gettext as _l

PORTFOLIO_LABELS = {
    "star": _l("Star customers"),
    "earnings": _l("Earnings customers"),
    "question_mark": _l("Question-mark customers"),
    "take_along": _l("Take-along customers"),
    "potential_unknown": _l("Potential not known"),
}
NPS_LABELS = {
    "promoter": _l("promoter"),
    "passive": _l("passive"),
    "detractor": _l("detractor"),
    "unknown": _l("unknown (never answered)"),
}
