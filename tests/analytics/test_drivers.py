"""Promoters vs detractors: each test statistic equals SciPy on the raw numbers, p-values BH-corrected."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import flask_babel
import numpy as np
import pytest
from scipy.stats import false_discovery_control, fisher_exact, mannwhitneyu
from sqlalchemy import delete, select

from analytics.drivers import driver_report
from analytics.facts import record_facts
from analytics.queries import ReportFilter
from analytics.themes import themes
from customers.lifecycle import recompute_phases
from customers.models import Customer, Purchase
from surveys.models import Invitation, Response, Survey
from tests.feedback_helpers import make_user, sign_in

WHEN = datetime(2026, 6, 10, 12, tzinfo=UTC)
PROMOTERS = [(10, 180, "Küche", "Schnelle Lieferung, tolle Beratung"), (9, 150, "Küche", "tolle Beratung"),
             (10, 210, "Küche", None), (9, 160, "Garten", "schnelle Lieferung"), (10, 140, "Küche", None),
             (9, 175, "Küche", None)]  # fmt: skip
DETRACTORS = [(2, 40, "Garten", "Lieferung kam zu spät"), (5, 60, "Garten", "Paket beschädigt, Lieferung zu spät"),
              (0, 35, "Garten", "zu spät"), (6, 90, "Küche", None), (4, 55, "Garten", "Paket beschädigt")]  # fmt: skip
PASSIVES = [(8, 500, "Küche", "ok"), (7, 5, "Garten", None)]


@pytest.fixture
def answers(session):
    survey = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    for i, (score, amount, category, comment) in enumerate(PROMOTERS + DETRACTORS + PASSIVES):
        customer = Customer(external_id=f"D-{i}", email=f"d{i}@example.com", locale="de", created_at=WHEN)
        session.add(customer)
        session.flush()
        bought = WHEN - timedelta(days=3 + i)
        purchase = Purchase(
            order_id=f"DO-{i}", customer_id=customer.id, amount=Decimal(amount), margin=Decimal(amount) / 4,
            currency="EUR", category=category, purchased_at=bought, created_at=bought,
        )  # fmt: skip
        session.add(purchase)
        session.flush()
        invitation = Invitation(
            token=f"drv-{i}", survey_id=survey.id, customer_id=customer.id, purchase_id=purchase.id, locale="de",
            status="answered", created_at=WHEN, expires_at=WHEN, sent_at=WHEN,
        )  # fmt: skip
        session.add(invitation)
        session.flush()
        session.add(
            Response(
                invitation_id=invitation.id, survey_id=survey.id, customer_id=customer.id, score=score,
                comment=comment, locale="de", created_at=WHEN,
            )
        )  # fmt: skip
    session.commit()
    recompute_phases(session, WHEN, "backfill")  # purchase counts and first purchases, as the scheduler keeps them
    record_facts(session)  # and the answers' facts, as the nightly run records them for rows loaded like these
    session.commit()


def test_findings_match_scipy_on_the_raw_numbers(session, answers):
    report = driver_report(session, date(2026, 6, 1), date(2026, 6, 30), ReportFilter())
    assert (report.promoters, report.detractors) == (6, 5)
    by_key = {(f.attribute, f.level): f for f in report.findings}

    order = by_key[("order_value", None)]
    expected = mannwhitneyu([a for _, a, _, _ in PROMOTERS], [a for _, a, _, _ in DETRACTORS], alternative="two-sided")
    assert order.p_value == pytest.approx(expected.pvalue)
    assert order.effect == pytest.approx(2 * expected.statistic / 30 - 1) == 1.0
    assert order.promoters_value == 167.5 and order.detractors_value == 55.0

    tenure = by_key[("tenure_days", None)]  # customer i bought 3 + i days before answering
    expected = mannwhitneyu([3 + i for i in range(6)], [3 + i for i in range(6, 11)], alternative="two-sided")
    assert tenure.p_value == pytest.approx(expected.pvalue)
    assert (tenure.promoters_value, tenure.detractors_value) == (pytest.approx(5.5), pytest.approx(11.0))

    garden = by_key[("category", "Garten")]
    table = np.array([[1, 5], [4, 1]])
    assert garden.test == "Fisher exact"
    assert garden.p_value == pytest.approx(fisher_exact(table).pvalue)
    assert garden.sentence == "Detractors are 4.8x as often in category Garten (80% vs 17%)."

    raw = [f.p_value for f in report.findings]
    assert [f.q_value for f in report.findings] == pytest.approx(list(false_discovery_control(raw, method="bh")))
    effects = [abs(f.effect) for f in report.findings]
    assert effects == sorted(effects, reverse=True)


def test_passives_are_left_out_and_no_data_means_no_findings(session, answers):
    empty = driver_report(session, date(2025, 1, 1), date(2025, 1, 31), ReportFilter())
    assert (empty.promoters, empty.detractors, empty.findings) == (0, 0, [])


def test_comment_themes_without_stop_words():
    found = dict(themes(["Lieferung kam zu spät", "Paket beschädigt, Lieferung zu spät", "Paket beschädigt"]))
    assert found["lieferung"] == 2 and found["paket beschädigt"] == 2 and found["spät"] == 2
    assert "zu" not in found


def test_drivers_page_and_csv(client, session, answers):
    sign_in(client, make_user(session, "chefin@example.com", "manager"))
    flask_babel.refresh()
    page = client.get("/reports/drivers?from=2026-06-01&to=2026-06-30")
    assert page.status_code == 200
    assert "Promoters' median order value is €167.50 vs €55.00 for detractors (3.0x)." in page.text
    flask_babel.refresh()  # requests in a test share Flask-Babel's cached locale
    german = client.get("/reports/drivers?from=2026-06-01&to=2026-06-30", headers={"Accept-Language": "de"})
    assert "Kritiker sind 4.8x so oft in Kategorie Garten (80\xa0% vs 17\xa0%)." in german.text
    assert "paket beschädigt" in page.text
    export = client.get("/reports/drivers?from=2026-06-01&to=2026-06-30&format=csv")
    assert export.mimetype == "text/csv" and export.text.startswith("attribute,level,test")


def test_lifecycle_phase_and_churn_reason_separate_the_groups(session, answers, client):
    from sqlalchemy import update

    from surveys.models import ChurnReason, ResponseReason

    churn = session.scalars(select(Survey).where(Survey.kind == "churn")).one()
    reasons = {r.key: r.id for r in session.scalars(select(ChurnReason))}
    left = {"D-6": "delivery", "D-7": "delivery", "D-8": "delivery", "D-0": "price"}
    session.execute(update(Customer).values(lifecycle_phase="existing"))
    for external_id, key in left.items():
        customer = session.scalars(select(Customer).where(Customer.external_id == external_id)).one()
        customer.lifecycle_phase = "churned"
        later = WHEN + timedelta(days=30)
        invitation = Invitation(
            token=f"churn-{external_id}", survey_id=churn.id, customer_id=customer.id, locale="de",
            status="answered", created_at=later, expires_at=later, sent_at=later,
        )  # fmt: skip
        session.add(invitation)
        session.flush()
        response = Response(
            invitation_id=invitation.id, survey_id=churn.id, customer_id=customer.id, score=None, locale="de",
            created_at=later,
        )  # fmt: skip
        response.reasons = [ResponseReason(reason_id=reasons[key], main=True)]
        session.add(response)
    session.commit()

    report = driver_report(session, date(2026, 6, 1), date(2026, 6, 30), ReportFilter())
    by_key = {(f.attribute, f.level): f for f in report.findings}
    # Only customers who gave a reason compare on it: 1 promoter (price), 3 detractors (delivery).
    delivery = by_key[("churn_reason", "delivery")]
    assert delivery.p_value == pytest.approx(fisher_exact([[0, 1], [3, 0]]).pvalue)
    assert delivery.sentence == "100% of detractors are in churn reason delivery, no promoter is."
    churned = by_key[("phase", "churned")]
    assert churned.p_value == pytest.approx(fisher_exact([[1, 5], [3, 2]]).pvalue)
    assert (churned.promoters_value, churned.detractors_value) == (pytest.approx(1 / 6), pytest.approx(3 / 5))
    # The page names the reason and the phase in the reader's language.
    sign_in(client, make_user(session, "chefin@example.com", "manager"))
    flask_babel.refresh()
    german = client.get("/reports/drivers?from=2026-06-01&to=2026-06-30", headers={"Accept-Language": "de"}).text
    assert "Abwanderungsgrund Lieferung" in german and "Lebenszyklusphase abgewandert" in german


def test_facts_are_recorded_when_answers_are_applied_and_nightly_for_the_rest(session, answers):
    from analytics.models import AnswerFact
    from retention.answers import apply_answers
    from retention.refresh import nightly_refresh
    from tests.feedback_helpers import answered

    now = datetime.now(UTC)
    answered(session, 90, 3, amount=120.0, now=now)  # through the survey: waits for the scheduler
    fact_of = select(AnswerFact).join(Customer, Customer.id == AnswerFact.customer_id)
    assert session.scalars(fact_of.where(Customer.external_id == "C-90")).all() == []
    apply_answers(session, now)
    fact = session.scalars(fact_of.where(Customer.external_id == "C-90")).one()
    assert (fact.score, fact.order_value, fact.margin) == (3, 120.0, 14.2)
    assert fact.answer_delay_days == pytest.approx(3 + 1 / 24) and fact.tenure_days == pytest.approx(3 + 1 / 24)
    assert fact.purchases_per_year == pytest.approx(1.0)

    # A scored answer loaded past the scheduler gets its facts with the nightly run; a waiting one does not.
    loaded = session.scalars(select(Response).where(Response.score == 10)).first()
    session.execute(delete(AnswerFact).where(AnswerFact.response_id == loaded.id))
    answered(session, 91, 9, now=now)
    session.commit()
    assert record_facts(session) == 1  # what the nightly run does
    session.rollback()
    nightly_refresh(session, datetime(2026, 11, 24, 2, 30, tzinfo=UTC))
    facts = set(session.scalars(select(AnswerFact.response_id)))
    waiting = session.scalars(select(Response.id).join(Customer).where(Customer.external_id == "C-91")).one()
    assert loaded.id in facts and waiting not in facts
    report = driver_report(session, date(2026, 6, 1), date(2026, 6, 30), ReportFilter())
    assert (report.promoters, report.detractors) == (6, 5)


def test_a_share_against_zero_is_worded_plainly_not_as_infinitely_often():
    from analytics.drivers import _categorical

    findings = {f.level: f for f in _categorical({"Werkstatt": (0, 2), "Küche": (6, 5)}, "category")}
    assert findings["Werkstatt"].sentence == "29% of detractors are in category Werkstatt, no promoter is."
    assert "∞" not in findings["Küche"].sentence and "as often" in findings["Küche"].sentence
    only_promoters = {f.level: f for f in _categorical({"Web": (3, 0), "Laden": (3, 7)}, "category")}
    assert only_promoters["Web"].sentence == "50% of promoters are in category Web, no detractor is."


def test_significant_findings_come_first(session, answers, client):
    report = driver_report(session, date(2026, 6, 1), date(2026, 6, 30), ReportFilter())
    flags = [f.significant for f in report.findings]
    assert True in flags and False in flags
    assert flags == sorted(flags, reverse=True)  # every significant finding before every other
    significant = [f for f in report.findings if f.significant]
    assert [abs(f.effect) for f in significant] == sorted((abs(f.effect) for f in significant), reverse=True)
    sign_in(client, make_user(session, "chefin@example.com", "manager"))
    page = client.get("/reports/drivers?from=2026-06-01&to=2026-06-30", headers={"Accept-Language": "en"}).text
    assert "∞" not in page and "Significant findings first" in page
