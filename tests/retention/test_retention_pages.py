"""The retention pages as staff use them: rules read and edited, suggestions worked from the customer page and
the list, segment strategies, segment movements, and the customer API with segment and suggestions."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from feedback.models import Case
from retention.models import RetentionRule, SegmentStrategy, Suggestion
from retention.refresh import refresh_all
from retention.segments import refresh_segments
from tests.conftest import csrf_token
from tests.feedback_helpers import make_user, sign_in
from tests.retention.test_rules import make
from tests.retention.test_segments import NOW

EN = {"Accept-Language": "en"}


def a_detractor(session):
    c = make(session, "R-1", {"value_class": "A", "scores": [3], "reasons": ["price"]})
    session.commit()
    refresh_all(session, datetime.now(UTC))
    session.commit()
    return c


def test_an_agent_accepts_a_suggestion_on_the_customer_page_and_it_lands_in_the_queue(session, client):
    c = a_detractor(session)
    manager = make_user(session, "chef@example.com", "manager", "Chef")
    agent = make_user(session, "agent@example.com", "agent", "Agentin")
    sign_in(client, agent)
    page = client.get(f"/customers/{c.id}", headers=EN).text
    assert 'data-segment="A-existing-detractor"' in page and "retain" in page  # the default strategy
    assert "A customer, detractor (score 3) → Personal call by the account owner" in page
    high = session.scalars(select(RetentionRule).where(RetentionRule.name == "High-value detractor")).one()
    suggestion = session.scalars(select(Suggestion).where(Suggestion.rule_id == high.id)).one()
    # The measure belongs to a manager: an agent cannot take it, a manager can be made its owner.
    token = csrf_token(page)
    refused = client.post(f"/suggestions/{suggestion.id}/accept", data={"csrf_token": token, "owner_id": agent.id})
    assert refused.status_code == 302 and session.get(Suggestion, suggestion.id).status == "open"
    accepted = client.post(
        f"/suggestions/{suggestion.id}/accept", data={"csrf_token": token, "owner_id": manager.id}, headers=EN
    )
    assert accepted.status_code == 302
    session.expire_all()
    case = session.scalars(select(Case).where(Case.kind == "measure")).one()
    assert case.owner_id == manager.id and case.priority == "high"
    queue = client.get("/queue", headers=EN).text
    assert "Personal call by the account owner" in queue and "retention measure: High-value detractor" in queue
    assert "case" in client.get(f"/customers/{c.id}", headers=EN).text


def test_a_dismissal_needs_a_reason_and_a_csrf_token(session, client):
    c = a_detractor(session)
    sign_in(client, make_user(session, "chef@example.com", "manager", "Chef"))
    token = csrf_token(client.get(f"/customers/{c.id}", headers=EN).text)
    # Without a reason, a dismissal is refused with a message and changes nothing.
    price = session.scalars(select(Suggestion).where(Suggestion.status == "open")).first()
    client.post(f"/suggestions/{price.id}/dismiss", data={"csrf_token": token, "reason": " "})
    follow = client.get(f"/customers/{c.id}", headers=EN).text
    assert "Say why the measure is not worth doing" in follow
    assert session.get(Suggestion, price.id).status == "open"
    client.post(f"/suggestions/{price.id}/dismiss", data={"csrf_token": token, "reason": "Price agreed last week"})
    session.expire_all()
    assert session.get(Suggestion, price.id).dismiss_reason == "Price agreed last week"
    # Without a CSRF token nothing happens.
    assert client.post(f"/suggestions/{price.id}/done").status_code == 400


def test_managers_read_the_rules_and_admins_edit_them_in_the_browser_form(session, client, staff):
    a_detractor(session)
    manager = make_user(session, "chef@example.com", "manager")
    sign_in(client, manager)
    page = client.get("/cockpit/rules", headers=EN).text
    assert "A customer, detractor → Personal call by the account owner" in page
    assert "(manager, within 1 working day)" in page
    rule = session.scalars(select(RetentionRule).where(RetentionRule.name == "Promoter")).one()
    assert client.get(f"/cockpit/rules/{rule.id}").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(page)})
    admin = make_user(session, "admin@example.com", "admin")
    sign_in(client, admin)
    form = client.get(f"/cockpit/rules/{rule.id}", headers=EN).text
    assert re.search(r'<input checked[^>]*name="satisfaction"[^>]*value="promoter"', form)
    assert not re.search(r'<input checked[^>]*name="satisfaction"[^>]*value="passive"', form)
    data = {
        "csrf_token": csrf_token(form), "name": "Promoter or passive", "active": "y", "position": "60",
        "satisfaction": ["promoter", "passive"], "measure_en": "Ask for a review", "measure_de": "Um Bewertung bitten",
        "owner_role": "agent", "due_days": "10", "repeat_after_days": "90",
    }  # fmt: skip
    saved = client.post(f"/cockpit/rules/{rule.id}", data=data, headers=EN)
    assert saved.status_code == 302
    session.expire_all()
    edited = session.get(RetentionRule, rule.id)
    assert edited.conditions == {"satisfaction": ["promoter", "passive"]} and edited.due_days == 10
    assert "Promoter or passive" in client.get(f"/cockpit/rules/{rule.id}", headers=EN).text  # in the trail
    bad = client.post(f"/cockpit/rules/{rule.id}", data={**data, "satisfaction": [], "due_days": "x"}, headers=EN)
    assert bad.status_code == 422
    assert "would suggest its measure to every customer" in bad.text
    session.expire_all()
    assert session.get(RetentionRule, rule.id).conditions == {"satisfaction": ["promoter", "passive"]}
    new = client.post("/cockpit/rules/new", data={**data, "name": "Unhappy C", "satisfaction": ["detractor"],
                                                  "value_class": ["C"]}, headers=EN)  # fmt: skip
    assert new.status_code == 302
    assert session.scalars(select(RetentionRule).where(RetentionRule.name == "Unhappy C")).one().conditions == {
        "value_class": ["C"], "satisfaction": ["detractor"],
    }  # fmt: skip


def test_an_admin_sets_a_segment_strategy_and_the_customer_page_shows_it(session, client):
    c = a_detractor(session)
    admin = make_user(session, "admin@example.com", "admin")
    sign_in(client, admin)
    page = client.get("/cockpit/strategies", headers=EN).text
    assert 'data-segment="A-existing-detractor"' in page
    saved = client.post(
        "/cockpit/strategies",
        data={"csrf_token": csrf_token(page), "A-existing-detractor-direction": "grow",
              "A-existing-detractor-level": "standard"},
    )  # fmt: skip
    assert saved.status_code == 302
    assert session.get(SegmentStrategy, ("A", "existing", "detractor")).direction == "grow"
    assert "<strong data-strategy>grow</strong>" in client.get(f"/customers/{c.id}", headers=EN).text
    bad = client.post(
        "/cockpit/strategies",
        data={"csrf_token": csrf_token(page), "A-new-promoter-direction": "conquer", "A-new-promoter-level": "basic"},
    )
    assert bad.status_code == 422 and "Choose a direction" in bad.text


def test_segment_movements_month_by_month(session, client):
    from tests.retention.test_customer_api import nps_answer

    c = make(session, "M-1", {"value_class": "B", "scores": [9]})
    session.commit()
    refresh_segments(session, NOW - timedelta(days=60))
    nps_answer(session, c, 3, NOW - timedelta(days=30))
    refresh_segments(session, NOW - timedelta(days=30), "answer", [c.id])
    session.commit()
    sign_in(client, make_user(session, "chef@example.com", "manager"))
    page = client.get("/cockpit/movements?from=2026-09-01&to=2026-11-30", headers=EN).text
    assert 'data-month="2026-10"' in page and "B · existing · promoter" in page and "B · existing · detractor" in page
    rows = list(csv.reader(io.StringIO(client.get("/cockpit/movements?from=2026-09-01&to=2026-11-30&format=csv").text)))
    assert rows[1] == ["2026-10-01", "B", "existing", "promoter", "B", "existing", "detractor", "1", "worse"]
    assert client.get("/cockpit/movements?from=nope").status_code == 422


def test_the_customer_api_has_segment_strategy_and_suggestions(session, api):
    c = a_detractor(session)
    body = api.get(f"/api/v1/customers/{c.external_id}").json
    assert body["segment"]["satisfaction"] == "detractor" and body["segment"]["strategy"] == "retain"
    assert body["segment"]["history"] == []  # placed, never moved
    by_rule = {s["rule"]: s for s in body["suggestions"]}
    assert by_rule["Detractor citing price, high value"]["why"].startswith("A customer, detractor (score 3), reason")
    assert by_rule["High-value detractor"]["status"] == "open" and by_rule["High-value detractor"]["due_days"] == 1
