"""At risk: the purchase models' outlook reaches the segments, the cockpit and the retention rules."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from analytics.models import CustomerOutlook, ModelFit
from retention.cockpit import matrix
from retention.models import CustomerSegment, RetentionRule, Suggestion
from retention.refresh import refresh_all
from retention.rules import InvalidRule, condition, matches, save_rule
from tests.retention.test_segments import NOW, customer


def outlook(session, c, p_alive: float, clv_class: str = "B") -> None:
    fit = session.scalars(select(ModelFit)).first()
    if fit is None:
        fit = ModelFit(as_of=date(2026, 1, 1), status="good", started_at=NOW, r=0.5, alpha=30, a=0.8, b=2.5,
                       spend_p=5, spend_q=4, spend_gamma=60, converged=True)  # fmt: skip
        session.add(fit)
        session.flush()
    row = CustomerOutlook(customer_id=c.id, model_id=fit.id, x=3, t_x=100, age=400, p_alive=p_alive,
                          expected_purchases=0.2, expected_spend=50.0, clv=80.0, clv_class=clv_class)  # fmt: skip
    session.add(row)
    session.flush()


def suggested(session, c) -> set[str]:
    return set(
        session.scalars(
            select(RetentionRule.name).join(Suggestion, Suggestion.rule_id == RetentionRule.id)
            .where(Suggestion.customer_id == c.id)
        )
    )  # fmt: skip


def test_segments_carry_band_risk_and_clv_class(session):
    slipping = customer(session, "R-1", "A", "existing", revenue=900)
    outlook(session, slipping, 0.12, "A")
    loyal = customer(session, "R-2", "A", "existing", revenue=800)
    outlook(session, loyal, 0.93, "A")
    gone = customer(session, "R-3", "B", "inactive", revenue=0)
    outlook(session, gone, 0.05, "C")
    unknown = customer(session, "R-4", "C", "new")
    edge = customer(session, "R-5", "B", "new", revenue=100)
    outlook(session, edge, 0.5, "B")  # exactly at the threshold: not below it
    session.commit()
    refresh_all(session, NOW)
    session.commit()
    facts = {c.external_id: session.get(CustomerSegment, c.id) for c in (slipping, loyal, gone, unknown, edge)}
    assert (facts["R-1"].alive_band, facts["R-1"].at_risk, facts["R-1"].clv_class) == ("under_25", True, "A")
    assert (facts["R-2"].alive_band, facts["R-2"].at_risk) == ("75_up", False)
    assert (facts["R-3"].alive_band, facts["R-3"].at_risk) == ("under_25", False)  # inactive: gone, not at risk
    assert (facts["R-4"].alive_band, facts["R-4"].at_risk, facts["R-4"].clv_class) == (None, None, None)
    assert (facts["R-5"].alive_band, facts["R-5"].at_risk) == ("50_75", False)

    # The default rules: a high-value customer at risk gets the call; the loyal one does not.
    assert "High-value customer at risk" in suggested(session, slipping)
    assert "High-value customer at risk" not in suggested(session, loyal)

    cells = matrix(session)
    assert (cells["A", "existing"].at_risk, cells["A", "existing"].at_risk_revenue) == (1, 900)
    assert cells["B", "inactive"].at_risk == 0


def test_detractor_at_risk_rule_and_both_evaluations_agree(session):
    from tests.retention.test_segments import nps_answer

    unhappy = customer(session, "D-1", "C", "existing", revenue=50)
    nps_answer(session, unhappy, 2, NOW)
    outlook(session, unhappy, 0.3)
    unhappy_safe = customer(session, "D-2", "C", "existing", revenue=50)
    nps_answer(session, unhappy_safe, 2, NOW)
    outlook(session, unhappy_safe, 0.8)
    session.commit()
    refresh_all(session, NOW)
    session.commit()
    assert "Detractor at risk" in suggested(session, unhappy)
    assert "Detractor at risk" not in suggested(session, unhappy_safe)

    rules = {
        "risk": {"churn_risk": ["at_risk"]},
        "safe or unknown": {"churn_risk": ["not_at_risk", "no_model"]},
        "band": {"alive_band": ["25_50", "50_75"]},
        "class": {"clv_class": ["B"], "satisfaction": ["detractor"]},
    }
    segments = session.scalars(select(CustomerSegment)).all()
    for name, conditions in rules.items():
        where, _reason = condition(conditions, CustomerSegment)
        in_sql = set(session.scalars(select(CustomerSegment.customer_id).where(where)))
        in_python = {s.customer_id for s in segments if matches(conditions, s)[0]}
        assert in_sql == in_python, name
    where, _ = condition({"churn_risk": ["at_risk"]}, CustomerSegment)
    assert set(session.scalars(select(CustomerSegment.customer_id).where(where))) == {unhappy.id}


def test_a_rule_that_could_never_fire_is_refused(session):
    with pytest.raises(InvalidRule) as refused:
        save_rule(
            session, None,
            {"name": "Gone but at risk", "conditions": {"phase": ["inactive"], "churn_risk": ["at_risk"]},
             "measure_de": "x", "measure_en": "x", "owner_role": "agent", "due_days": 1, "repeat_after_days": 30,
             "position": 1, "active": True},
            1, NOW,
        )  # fmt: skip
    assert "Only new and existing customers can be at risk" in str(refused.value)


def test_an_admin_writes_an_at_risk_rule_in_the_form(session, client):
    import re

    from tests.conftest import csrf_token
    from tests.feedback_helpers import make_user, sign_in

    sign_in(client, make_user(session, "admin@example.com", "admin"))
    form = client.get("/cockpit/rules/new", headers={"Accept-Language": "en"}).text
    assert 'data-dimension="churn_risk"' in form and "At risk of leaving (purchase model)" in form
    assert re.search(r'name="alive_band"[^>]*value="under_25"', form) and 'name="clv_class"' in form
    data = {
        "csrf_token": csrf_token(form), "name": "Top CLV slipping", "active": "y", "position": "30",
        "clv_class": ["A"], "alive_band": ["under_25", "25_50"], "measure_en": "Call", "measure_de": "Anrufen",
        "owner_role": "manager", "due_days": "2", "repeat_after_days": "60",
    }  # fmt: skip
    assert client.post("/cockpit/rules/new", data=data).status_code == 302
    rule = session.scalars(select(RetentionRule).where(RetentionRule.name == "Top CLV slipping")).one()
    assert rule.conditions == {"alive_band": ["under_25", "25_50"], "clv_class": ["A"]}
    listing = client.get("/cockpit/rules", headers={"Accept-Language": "en"}).text
    assert "P(alive) under 25 % or P(alive) 25-50 %" in listing and "expected CLV class A" in listing
    bad = client.post("/cockpit/rules/new", data={**data, "name": "x", "alive_band": ["sometimes"]})
    assert bad.status_code == 422


def test_the_parallel_nightly_refresh_carries_the_risk(session, monkeypatch):
    """SEGMENT_REFRESH_WORKERS > 1 (the default) refreshes slices in threads: each must see the settings."""
    from kundenpuls.dialect import is_postgresql
    from retention import refresh

    if not is_postgresql(session):
        pytest.skip("PostgreSQL only: concurrent processes, row locks or server connections")
    monkeypatch.setattr(refresh, "CHUNK", 2)  # several slices from a handful of customers
    made = [customer(session, f"P-{i}", "B", "existing", revenue=100) for i in range(7)]
    for i, c in enumerate(made):
        outlook(session, c, 0.1 if i % 2 else 0.9)
    session.commit()
    refresh_all(session, NOW, workers=2)
    session.commit()
    flags = {c.external_id: session.get(CustomerSegment, c.id).at_risk for c in made}
    assert flags == {f"P-{i}": bool(i % 2) for i in range(7)}
