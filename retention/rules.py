"""Retention rules: conditions on a customer's segment and history that suggest a measure.

A rule's conditions are {dimension: [allowed values]}; every named dimension must match, a dimension left
out matches everyone. Each rule compiles to one SQL condition over the customer_segments table, so a rule
is checked for a million customers in one statement, and its "why" is rendered from the same conditions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from analytics.co_purchase import SEPARATOR, known_categories
from analytics.labels import NPS_LABELS, PORTFOLIO_LABELS
from customers.models import PHASES, phase_label
from feedback.models import ROOT_CAUSES
from kundenpuls import audit
from kundenpuls.models import ROLE_LABELS
from retention import offers
from retention.cockpit import ALIVE_BANDS, PORTFOLIO, SATISFACTION, VALUE_CLASSES
from retention.models import RetentionRule, Suggestion
from surveys.models import ChurnReason

TRENDS = ("falling", "rising", "steady")
RISKS = ("at_risk", "not_at_risk", "no_model")
DIMENSIONS = (
    "value_class", "phase", "satisfaction", "portfolio", "reason", "score_trend", "purchase_trend", "churn_risk",
    "alive_band", "clv_class", "bought", "not_bought",
)  # fmt: skip
CATEGORY_DIMENSIONS = ("bought", "not_bought")  # values are purchase categories, matched in the segment's list
DIMENSION_LABELS = {
    "value_class": _l("Value class"),
    "phase": _l("Lifecycle phase"),
    "satisfaction": _l("Satisfaction"),
    "portfolio": _l("Portfolio group"),
    "reason": _l("Reason given (churn answer or case root cause)"),
    "score_trend": _l("Score trend (latest vs previous answer)"),
    "purchase_trend": _l("Purchases (last 180 days vs the 180 before)"),
    "churn_risk": _l("At risk of leaving (purchase model)"),
    "alive_band": _l("Probability of still being a customer (purchase model)"),
    "clv_class": _l("Class by expected CLV (purchase model)"),
    "bought": _l("Has bought (any of these, in the last two years)"),
    "not_bought": _l("But not (none of these, in the last two years)"),
}
RISK_WORDS = {
    "at_risk": _l("at risk of leaving"),
    "not_at_risk": _l("not at risk"),
    "no_model": _l("no purchase model"),
}
ALIVE_WORDS = {
    "under_25": _l("P(alive) under 25 %"), "25_50": _l("P(alive) 25-50 %"), "50_75": _l("P(alive) 50-75 %"),
    "75_up": _l("P(alive) 75 % or more"),
}  # fmt: skip
OWNER_ROLES = ("agent", "manager")
RULE_FIELDS = (
    "name", "name_de", "position", "active", "conditions", "measure_de", "measure_en", "owner_role", "due_days",
    "repeat_after_days", "offer_category",
)  # fmt: skip


class InvalidRule(ValueError):
    """The rule cannot be saved; `errors` says why, field by field, in words an admin understands."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def reason_keys(session: Session) -> tuple[str, ...]:
    """Reasons a rule may name: the churn-reason keys and the root causes of cases."""
    keys = session.scalars(select(ChurnReason.key).order_by(ChurnReason.position)).all()
    return tuple(dict.fromkeys((*keys, *ROOT_CAUSES)))


def allowed_values(session: Session) -> dict[str, tuple[str, ...]]:
    return {
        "value_class": VALUE_CLASSES,
        "phase": PHASES,
        "satisfaction": SATISFACTION,
        "portfolio": PORTFOLIO,
        "reason": reason_keys(session),
        "score_trend": TRENDS,
        "purchase_trend": TRENDS,
        "churn_risk": RISKS,
        "alive_band": ALIVE_BANDS,
        "clv_class": VALUE_CLASSES,
        **dict.fromkeys(CATEGORY_DIMENSIONS, tuple(known_categories(session))),
    }


def validate(session: Session, values: dict) -> dict:
    """The rule's fields, cleaned; raises InvalidRule with a message per bad field."""
    errors: dict[str, str] = {}
    cleaned = dict(values)
    name = " ".join(str(values.get("name") or "").split())
    if not name or len(name) > 120:
        errors["name"] = _("A rule needs a name of at most 120 characters.")
    cleaned["name"] = name
    cleaned["name_de"] = " ".join(str(values.get("name_de") or "").split())[:120] or None
    conditions = values.get("conditions")
    if not isinstance(conditions, dict):
        errors["conditions"] = _("Conditions must map a dimension to a list of values.")
        conditions = {}
    allowed = allowed_values(session)
    clean_conditions: dict[str, list[str]] = {}
    for dimension, chosen in conditions.items():
        if dimension not in allowed:
            errors["conditions"] = _("Unknown condition %(name)s.", name=dimension)
            continue
        if not isinstance(chosen, list) or not chosen:
            continue
        unknown = [v for v in chosen if v not in allowed[dimension]]
        if unknown:
            errors[dimension] = _("Unknown value %(value)s for %(dimension)s.", value=unknown[0], dimension=dimension)
            continue
        clean_conditions[dimension] = [v for v in allowed[dimension] if v in chosen]
    cleaned["offer_category"] = offers.clean_offer(values.get("offer_category"), clean_conditions, allowed, errors)
    if not clean_conditions and "conditions" not in errors:
        errors["conditions"] = _("A rule without conditions would suggest its measure to every customer.")
    never = _never_fires(clean_conditions)
    if never and "conditions" not in errors:
        errors["conditions"] = never
    cleaned["conditions"] = clean_conditions
    for field in ("measure_de", "measure_en"):
        text = " ".join(str(values.get(field) or "").split())
        if not text or len(text) > 500:
            errors[field] = _("Describe the measure in at most 500 characters.")
        cleaned[field] = text
    if values.get("owner_role") not in OWNER_ROLES:
        errors["owner_role"] = _("The owner is an agent or a manager.")
    for field, low, high in (("due_days", 0, 365), ("repeat_after_days", 1, 3650), ("position", 0, 10000)):
        try:
            number = int(values.get(field))
        except (TypeError, ValueError):
            number = None
        if number is None or not low <= number <= high:
            errors[field] = _("A whole number from %(low)s to %(high)s.", low=low, high=high)
        cleaned[field] = number
    cleaned["active"] = bool(values.get("active"))
    if errors:
        raise InvalidRule(errors)
    return cleaned


def _never_fires(conditions: dict[str, list[str]]) -> str | None:
    """Combinations no customer can have: the rule would be dead, which is almost certainly a mistake."""
    if conditions.get("bought") and not set(conditions["bought"]) - set(conditions.get("not_bought", ())):
        return _('Every category in "Has bought" is also in "But not": this rule could never fire.')
    gone = set(conditions.get("phase", ())) and set(conditions["phase"]) <= {"potential", "inactive", "churned"}
    if gone and conditions.get("churn_risk") == ["at_risk"]:
        return _("Only new and existing customers can be at risk: this rule could never fire.")
    if conditions.get("satisfaction") == ["unknown"] and "score_trend" in conditions:
        return _("Customers never asked have no score trend: this rule could never fire.")
    phases = set(conditions.get("phase", ()))
    if phases and phases <= {"potential"}:
        if set(conditions.get("value_class", ("C",))) <= {"A", "B"}:
            return _("Potential customers have bought nothing, so they are never A or B: this rule could never fire.")
        if conditions.get("bought"):
            return _("Potential customers have bought nothing: this rule could never fire.")
        if "purchase_trend" in conditions and set(conditions["purchase_trend"]) <= {"falling", "rising"}:
            return _("Potential customers have no purchases to compare: this rule could never fire.")
    return None


def save_rule(session: Session, rule: RetentionRule | None, values: dict, actor_id: int, now: datetime):
    """Create or change a rule (validated, audited); returns it. Open suggestions of the old version stay until
    the next refresh lapses those that no longer match; switching a rule off lapses its open ones at once."""
    cleaned = validate(session, values)
    created = rule is None
    if created:
        rule = RetentionRule()
        session.add(rule)
    before, after = audit.apply_changes(rule, cleaned, RULE_FIELDS)
    if not after and not created:
        return rule
    rule.updated_at = now
    rule.offer_evidence = offers.evidence(session, now, rule)
    session.flush()
    forget_rules()
    audit.record(
        session, "retention_rule", rule.id, "created" if created else "changed", actor_id, now,
        None if created else before, after,
    )  # fmt: skip
    if not rule.active:
        session.execute(
            update(Suggestion)
            .where(Suggestion.rule_id == rule.id, Suggestion.status == "open")
            .values(status="lapsed", decided_at=now),
            execution_options={"synchronize_session": False},
        )
    return rule


def _trend(later, earlier, chosen: list[str]):
    options = {"falling": later < earlier, "rising": later > earlier, "steady": later == earlier}
    return and_(later.is_not(None), earlier.is_not(None), or_(*(options[t] for t in chosen)))


def condition(rule_conditions: dict[str, list[str]], segment):
    """The SQL condition of a rule over a customer_segments row (or alias); and the matched reason column."""
    parts = []
    reason = None
    for dimension, chosen in rule_conditions.items():
        if dimension == "score_trend":
            parts.append(_trend(segment.score, segment.previous_score, chosen))
        elif dimension == "purchase_trend":
            parts.append(_trend(segment.purchases_recent, segment.purchases_before, chosen))
        elif dimension == "churn_risk":
            options = {"at_risk": segment.at_risk.is_(True), "not_at_risk": segment.at_risk.is_(False),
                       "no_model": segment.at_risk.is_(None)}  # fmt: skip
            parts.append(or_(*(options[v] for v in chosen)))
        elif dimension == "reason":
            # The segment keeps the reasons given as ",price,delivery,": a LIKE per reason, no subquery per row.
            given = [(func.coalesce(segment.reasons, "").like(f"%,{key},%"), key) for key in chosen]
            parts.append(or_(*(match for match, _key in given)))
            reason = case(*given, else_=None)
        elif dimension in CATEGORY_DIMENSIONS:
            bought = or_(*(_has_category(segment.categories, category) for category in chosen))
            parts.append(bought if dimension == "bought" else ~bought)
        else:
            parts.append(getattr(segment, dimension).in_(chosen))
    return and_(*parts), reason


def _has_category(categories, category: str):
    """The segment's category list holds `category` (LIKE with % and _ in names escaped)."""
    return func.coalesce(categories, "").contains(f"{SEPARATOR}{category}{SEPARATOR}", autoescape=True)


def _trend_holds(later: int | None, earlier: int | None, chosen: list[str]) -> bool:
    if later is None or earlier is None:
        return False
    return (
        ("falling" in chosen and later < earlier)
        or ("rising" in chosen and later > earlier)
        or ("steady" in chosen and later == earlier)
    )


def matches(rule_conditions: dict[str, list[str]], facts) -> tuple[bool, str | None]:
    """The same test as `condition`, on one loaded segment row: (fires, matched reason).

    The answer path checks one customer this way (a statement with every rule cost more to plan than to run);
    the nightly refresh uses the SQL form. tests/retention/test_rules.py holds both to the same results."""
    reason = None
    for dimension, chosen in rule_conditions.items():
        if dimension == "score_trend":
            ok = _trend_holds(facts.score, facts.previous_score, chosen)
        elif dimension == "purchase_trend":
            ok = _trend_holds(facts.purchases_recent, facts.purchases_before, chosen)
        elif dimension == "churn_risk":
            ok = {True: "at_risk", False: "not_at_risk", None: "no_model"}[facts.at_risk] in chosen
        elif dimension == "reason":
            given = [key for key in chosen if f",{key}," in (facts.reasons or "")]
            ok, reason = bool(given), (given[0] if given else None)
        elif dimension in CATEGORY_DIMENSIONS:
            held = any(f"{SEPARATOR}{category}{SEPARATOR}" in (facts.categories or "") for category in chosen)
            ok = held if dimension == "bought" else not held
        else:
            ok = getattr(facts, dimension) in chosen
        if not ok:
            return False, None
    return True, reason


@dataclass(frozen=True)
class RuleSpec:
    """What the answer path needs of a rule, detached from any session."""

    id: int
    conditions: dict
    repeat_after_days: int


RULES_FRESH_SECONDS = 10
_specs: tuple[float, list[RuleSpec]] | None = None


def rule_specs(session: Session, now: datetime) -> list[RuleSpec]:
    """The active rules, read at most every RULES_FRESH_SECONDS per process: every answer needs them, and they
    change a few times a year (an edit in this process takes effect at once, elsewhere within seconds)."""
    global _specs
    if _specs is None or time.monotonic() > _specs[0]:
        specs = [RuleSpec(r.id, r.conditions, r.repeat_after_days) for r in active_rules(session)]
        _specs = (time.monotonic() + RULES_FRESH_SECONDS, specs)
    return _specs[1]


def forget_rules() -> None:
    global _specs
    _specs = None


def active_rules(session: Session) -> list[RetentionRule]:
    return list(
        session.scalars(
            select(RetentionRule)
            .where(RetentionRule.active.is_(True))
            .order_by(RetentionRule.position, RetentionRule.id)
        )
    )


def _either(values) -> str:
    return _(" or ").join(str(v) for v in values)


TREND_WORDS = {"falling": _l("falling"), "rising": _l("rising"), "steady": _l("steady")}


def words(conditions: dict[str, list[str]], facts=None, reason_labels: dict[str, str] | None = None) -> list[str]:
    """The conditions in words, in the order of DIMENSIONS: "A customer", "detractor", "reason price".

    With `facts` (a suggestion, or anything with the segment columns) each phrase states the customer's own
    value ("detractor (score 3)", "score fell from 8 to 3"); without, the rule's allowed values."""
    labels = reason_labels or {}
    phrases = []
    for dimension in DIMENSIONS:
        chosen = conditions.get(dimension)
        if not chosen:
            continue
        if dimension == "value_class":
            phrases.append(_("%(classes)s customer", classes=facts.value_class if facts else _either(chosen)))
        elif dimension == "phase":
            shown = [facts.phase] if facts else chosen
            phrases.append(_("phase %(phase)s", phase=_either(phase_label(p) for p in shown)))
        elif dimension == "satisfaction":
            if facts is not None and facts.score is not None:
                label = NPS_LABELS[facts.satisfaction]
                phrases.append(_("%(label)s (score %(score)s)", label=label, score=facts.score))
            else:
                phrases.append(_either(NPS_LABELS[s] for s in ([facts.satisfaction] if facts else chosen)))
        elif dimension == "portfolio":
            shown = [facts.portfolio] if facts else chosen
            phrases.append(_either(PORTFOLIO_LABELS[g] for g in shown))
        elif dimension == "reason":
            shown = [facts.reason] if facts is not None and facts.reason else chosen
            phrases.append(_("reason %(reason)s", reason=_either(labels.get(r, r) for r in shown)))
        elif dimension == "score_trend":
            if facts is not None and facts.score is not None and facts.previous_score is not None:
                phrases.append(_movement(_("score"), facts.previous_score, facts.score))
            else:
                phrases.append(_("score %(trend)s", trend=_either(TREND_WORDS[t] for t in chosen)))
        elif dimension == "purchase_trend":
            if facts is not None:
                phrases.append(_movement(_("purchases per half-year"), facts.purchases_before, facts.purchases_recent))
            else:
                phrases.append(_("purchases %(trend)s", trend=_either(TREND_WORDS[t] for t in chosen)))
        elif dimension == "churn_risk":
            phrases.append(_either(RISK_WORDS[v] for v in chosen))
        elif dimension == "alive_band":
            phrases.append(_either(ALIVE_WORDS[v] for v in chosen))
        elif dimension == "clv_class":
            phrases.append(_("expected CLV class %(classes)s", classes=_either(chosen)))
        elif dimension == "bought":
            phrases.append(_("bought %(categories)s", categories=_either(chosen)))
        elif dimension == "not_bought":
            phrases.append(_("not %(categories)s", categories=_either(chosen)))
    return phrases


def _movement(what: str, before: int, after: int) -> str:
    if after < before:
        return _("%(what)s fell from %(before)s to %(after)s", what=what, before=before, after=after)
    if after > before:
        return _("%(what)s rose from %(before)s to %(after)s", what=what, before=before, after=after)
    return _("%(what)s unchanged at %(after)s", what=what, after=after)


def owner_role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def due_words(days: int) -> str:
    if days == 0:
        return _("today")
    return _("within %(n)s working day", n=days) if days == 1 else _("within %(n)s working days", n=days)


def sentence(rule: RetentionRule, locale: str, facts=None, conditions=None, reason_labels=None) -> str:
    """ "A customer, detractor (score 3), reason price -> Personal call ... (manager, within 1 working day)" """
    when = ", ".join(words(conditions if conditions is not None else rule.conditions, facts, reason_labels))
    said = f"{when} → {rule.measure(locale)} ({owner_role_label(rule.owner_role)}, {due_words(rule.due_days)})"
    why = offers.why(rule, facts.value_class, facts.phase) if facts is not None and rule.offer_category else None
    return f"{said}. {why}" if why else said
