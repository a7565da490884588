"""Retention rules on what a customer has bought: "has bought X but not Y" fires on its customers only (in SQL and
row by row alike), a measure of type "offer" says why with the share of the customer's segment for whom Y followed
X (checked against a count made here and SciPy's Wilson interval), and the rules page counts who took the offer."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from scipy.stats import binomtest
from sqlalchemy import select

from customers.models import Purchase
from retention.models import RetentionRule, Suggestion
from retention.refresh import refresh_all
from retention.rules import InvalidRule, save_rule, sentence
from tests.conftest import csrf_token
from tests.feedback_helpers import make_user, sign_in
from tests.retention.test_segments import NOW, customer

EN = {"Accept-Language": "en"}
RULE = {
    "name": "Kitchen to garden", "position": 5, "active": True, "conditions": {"bought": ["Kitchen"]},
    "measure_de": "Gartenkatalog senden", "measure_en": "Send the garden catalogue", "owner_role": "agent",
    "due_days": 5, "repeat_after_days": 180, "offer_category": "Garden",
}  # fmt: skip


def buys(session, c, *purchases: tuple[str, int]) -> None:
    """Purchases of (category, days before NOW)."""
    for category, days in purchases:
        session.add(
            Purchase(
                order_id=f"{c.external_id}-{category}-{days}", customer_id=c.id, amount=Decimal(40), category=category,
                purchased_at=NOW - timedelta(days=days), created_at=NOW,
            )
        )  # fmt: skip
    session.flush()


def offered_to(session, rule: RetentionRule) -> set[str]:
    return set(
        session.scalars(
            select(Suggestion.customer_id).where(Suggestion.rule_id == rule.id, Suggestion.status == "open")
        )
    )


def test_has_bought_x_but_not_y_fires_on_its_customers_and_not_their_neighbours(session, staff):
    from retention.rules import active_rules
    from retention.suggestions import suggest_one

    made = {}
    for key, purchases in {
        "kitchen": [("Kitchen", 20)],
        "kitchen-and-garden": [("Kitchen", 20), ("Garden", 10)],
        "garden": [("Garden", 10)],
        "kitchen-long-ago": [("Kitchen", 800)],  # two years back counts no more
        "look-alike": [("Kitchenette", 20)],
        "wildcards": [("50%_Sale", 20)],  # a LIKE wildcard in a name is matched as itself
        "wildcard-look-alike": [("50xxSale", 20)],
    }.items():
        made[key] = customer(session, key.upper())
        buys(session, made[key], *purchases)
    save_rule(session, None, RULE, staff.id, NOW)
    save_rule(session, None, {**RULE, "name": "Sale", "conditions": {"bought": ["50%_Sale"]}}, staff.id, NOW)
    session.commit()
    refresh_all(session, NOW)
    session.commit()
    kitchen = session.scalars(select(RetentionRule).where(RetentionRule.name == "Kitchen to garden")).one()
    sale = session.scalars(select(RetentionRule).where(RetentionRule.name == "Sale")).one()
    assert kitchen.conditions == {"bought": ["Kitchen"], "not_bought": ["Garden"]}  # the offer is never re-offered
    assert offered_to(session, kitchen) == {made["kitchen"].id}
    assert offered_to(session, sale) == {made["wildcards"].id}
    by_sql = sorted(session.execute(select(Suggestion.customer_id, Suggestion.rule_id)).all())
    session.query(Suggestion).delete()
    rules = active_rules(session)
    for c in made.values():
        suggest_one(session, NOW, c.id, rules)
    assert sorted(session.execute(select(Suggestion.customer_id, Suggestion.rule_id)).all()) == by_sql


def simulate(session, segment: str, value_class: str, customers: int, followed: int, late: int = 0) -> None:
    """`customers` who first bought Kitchen 300 days ago: `followed` bought Garden 100 days later, `late` of the
    others 200 days later (outside the window); and three whose Kitchen purchase is too recent to judge."""
    for n in range(customers):
        c = customer(session, f"{segment}-{n}", value_class)
        garden = [("Garden", 200)] if n < followed else [("Garden", 100)] if n < followed + late else []
        buys(session, c, ("Kitchen", 300), ("Kitchen", 250), *garden)
    for n in range(3):
        buys(session, customer(session, f"{segment}-recent-{n}", value_class), ("Kitchen", 60))


def test_the_offer_says_why_with_its_segments_share_and_interval(session, staff, app):
    simulate(session, "A", "A", customers=40, followed=26, late=5)
    simulate(session, "B", "B", customers=12, followed=3)
    target_a, target_b = customer(session, "TARGET-A", "A"), customer(session, "TARGET-B", "B")
    buys(session, target_a, ("Kitchen", 30))
    buys(session, target_b, ("Kitchen", 30))
    save_rule(session, None, RULE, staff.id, NOW)
    session.commit()
    refresh_all(session, NOW)
    session.commit()
    rule = session.scalars(select(RetentionRule).where(RetentionRule.name == "Kitchen to garden")).one()
    # Counted here: only customers whose first Kitchen purchase is 180 days back; Garden within 180 days of it.
    assert rule.offer_evidence["segments"] == {"A existing": [40, 26], "B existing": [12, 3]}
    assert rule.offer_evidence["all"] == [52, 29]
    offered = offered_to(session, rule)
    # The targets, the six too recent to judge, and those in the counts without Garden (9 A, 9 B).
    assert {target_a.id, target_b.id} <= offered and len(offered) == 2 + 6 + 9 + 9
    low, high = binomtest(26, 40).proportion_ci(method="wilson")
    a = session.scalars(select(Suggestion).where(Suggestion.customer_id == target_a.id)).one()
    b = session.scalars(select(Suggestion).where(Suggestion.customer_id == target_b.id)).one()
    with app.test_request_context(headers=EN):
        said_a = sentence(rule, "en", a, a.conditions)
        said_b = sentence(rule, "en", b, b.conditions)
    assert said_a.startswith("bought Kitchen, not Garden → Send the garden catalogue (agent, within 5 working days).")
    assert (
        f"65 % ({100 * low:.0f}-{100 * high:.0f} %) of A × existing customers who bought Kitchen also bought Garden "
        "within 180 days (40 customers); this customer has not." in said_a
    )
    # Twelve B customers are too few to quote: the share over everyone stands in, and says so.
    low, high = binomtest(29, 52).proportion_ci(method="wilson")
    assert f"56 % ({100 * low:.0f}-{100 * high:.0f} %) of all customers who bought Kitchen" in said_b
    assert "too few in this segment" in said_b


def test_the_rules_page_counts_who_took_the_offer(session, staff, client):
    from retention.outcomes import rule_outcomes
    from retention.suggestions import mark_done

    made = [customer(session, f"T-{n}", "A") for n in range(3)]
    for c in made:
        buys(session, c, ("Kitchen", 200))
    buys(session, customer(session, "GARDENER"), ("Garden", 400))
    save_rule(session, None, RULE, staff.id, NOW - timedelta(days=150))
    session.commit()
    refresh_all(session, NOW - timedelta(days=150))
    session.commit()
    rule = session.scalars(select(RetentionRule).where(RetentionRule.name == "Kitchen to garden")).one()
    for s in session.scalars(select(Suggestion).where(Suggestion.rule_id == rule.id)):
        mark_done(session, s, staff, NOW - timedelta(days=140))
    buys(session, made[0], ("Garden", 120))  # 20 days after the measure
    session.add(Purchase(order_id="late", customer_id=made[1].id, amount=Decimal(5), category="Garden",
                         purchased_at=NOW - timedelta(days=10), created_at=NOW))  # fmt: skip
    session.commit()
    outcome = next(o for o in rule_outcomes(session, NOW) if o.rule.id == rule.id)
    assert (outcome.settled, outcome.took_offer) == (3, 1)
    admin = make_user(session, "chef@example.com", "admin")
    sign_in(client, admin)
    page = client.get("/cockpit/rules", headers=EN).text
    assert "bought Garden after: 1 of 3" in page


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"conditions": {"phase": ["existing"]}}, "offer_category", "needs the categories a customer has bought"),
        ({"offer_category": "Boats"}, "offer_category", "No purchase has the category Boats"),
        ({"conditions": {"bought": ["Boats"]}}, "bought", "Unknown value Boats"),
        ({"conditions": {"bought": ["Garden"]}}, "conditions", "could never fire"),
        ({"offer_category": None, "conditions": {"phase": ["potential"], "bought": ["Kitchen"]}}, "conditions",
         "could never fire"),
    ],
)  # fmt: skip
def test_an_offer_rule_that_cannot_work_is_refused(session, staff, change, field, message):
    buys(session, customer(session, "C-1"), ("Kitchen", 5), ("Garden", 5))
    session.commit()
    with pytest.raises(InvalidRule) as refused:
        save_rule(session, None, {**RULE, **change}, staff.id, NOW)
    assert message in refused.value.errors[field]


def test_an_admin_makes_an_offer_rule_in_the_form(session, client):
    buys(session, customer(session, "C-1"), ("Kitchen", 5), ("Garden", 5), ("Bath, Spa", 5))
    session.commit()
    admin = make_user(session, "admin@example.com", "admin")
    sign_in(client, admin)
    form = client.get("/cockpit/rules/new", headers=EN).text
    assert 'value="Bath, Spa"' in form and "Measure type: offer a category" in form
    data = {
        "csrf_token": csrf_token(form), "name": "Bath to garden", "active": "y", "position": "10",
        "bought": ["Bath, Spa"], "offer_category": "Garden", "measure_en": "Offer the garden range",
        "measure_de": "Gartensortiment anbieten", "owner_role": "agent", "due_days": "5", "repeat_after_days": "90",
    }  # fmt: skip
    assert client.post("/cockpit/rules/new", data={**data, "bought": []}, headers=EN).status_code == 422
    assert client.post("/cockpit/rules/new", data=data, headers=EN).status_code == 302
    rule = session.scalars(select(RetentionRule).where(RetentionRule.name == "Bath to garden")).one()
    assert (rule.offer_category, rule.conditions) == ("Garden", {"bought": ["Bath, Spa"], "not_bought": ["Garden"]})
    assert rule.offer_evidence["all"] == [0, 0]  # nobody bought it 180 days ago yet
    page = client.get("/cockpit/rules", headers=EN).text
    assert "bought Bath, Spa, not Garden → Offer the garden range" in page
