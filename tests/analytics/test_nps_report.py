"""NPS per period: every figure checked against a direct computation on the raw numbers."""

from __future__ import annotations

import csv
import io
import math
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from scipy.stats import norm
from sqlalchemy import select

from analytics.nps import change, figure
from analytics.rollup import rebuild
from customers.models import Customer, Purchase
from surveys.models import Invitation, Response, Survey
from tests.feedback_helpers import make_user, sign_in

Z = norm.ppf(0.975)


def adjusted_wald(promoters: int, passives: int, detractors: int) -> tuple[float, float]:
    """Rocks (2016) written out from the paper's recipe, in points."""
    n = promoters + passives + detractors + 3
    p, d = (promoters + 0.75) / n, (detractors + 0.75) / n
    se = math.sqrt((p + d - (p - d) ** 2) / n)
    return max(-100, 100 * (p - d - Z * se)), min(100, 100 * (p - d + Z * se))


@pytest.mark.parametrize(
    "promoters, passives, detractors",
    [(40, 30, 30), (1, 0, 0), (0, 0, 1), (10, 0, 0), (0, 5, 0), (3, 1, 7), (500, 200, 300)],
)
def test_interval_is_the_adjusted_wald_interval(promoters, passives, detractors):
    result = figure(promoters, passives, detractors)
    n = promoters + passives + detractors
    low, high = adjusted_wald(promoters, passives, detractors)
    assert result.n == n
    assert result.nps == pytest.approx(100 * (promoters - detractors) / n, abs=0.01)
    assert result.ci_low == pytest.approx(low, abs=0.01) and result.ci_high == pytest.approx(high, abs=0.01)
    assert -100 <= result.ci_low <= result.ci_high <= 100


def test_all_promoters_still_get_an_honest_interval():
    result = figure(10, 0, 0)
    assert result.nps == 100 and result.ci_high == 100
    assert result.ci_low < 80  # the plain Wald interval would claim 100 to 100
    assert result.too_few


def test_no_answers_gives_no_numbers():
    result = figure(0, 0, 0)
    assert (result.n, result.nps, result.ci_low, result.ci_high) == (0, None, None, None)


def scores(promoters: int, passives: int, detractors: int):
    """One value per answer, as a respondent counts in NPS: +1, 0, -1."""
    return np.array([1] * promoters + [0] * passives + [-1] * detractors, dtype=float)


def test_the_change_p_value_tests_the_difference_it_is_shown_with():
    """An unpooled two-sample z-test on the per-answer values +1/0/-1, computed here from the answers themselves."""
    before, after = figure(30, 30, 40), figure(55, 25, 20)
    result = change(after, before)
    a, b = scores(55, 25, 20), scores(30, 30, 40)
    difference = a.mean() - b.mean()
    z = difference / math.sqrt(a.var() / a.size + b.var() / b.size)
    assert result.delta == pytest.approx(100 * difference) == pytest.approx(after.nps - before.nps)
    assert result.p_value == pytest.approx(2 * norm.sf(abs(z)), rel=1e-9)
    assert result.significant
    assert change(figure(15, 10, 12), figure(14, 14, 12)).significant is False
    assert change(figure(1, 0, 0), figure(0, 0, 0)) is None


def test_a_change_between_small_periods_is_not_tested():
    """Below NPS_MIN_ANSWERS a p-value means little; before, +66.7 points between n = 1 and n = 9 showed p = 1.000."""
    small = change(figure(1, 0, 0), figure(5, 2, 2))
    assert small.delta == pytest.approx(66.67, abs=0.01) and small.p_value is None and small.too_few
    assert not small.significant
    assert change(figure(20, 8, 5), figure(1, 1, 2)).too_few  # n = 33 against n = 4
    assert change(figure(3, 3, 3), figure(1, 0, 0)).too_few
    tested = change(figure(2, 1, 1, min_answers=4), figure(1, 1, 2, min_answers=4))
    assert tested.p_value is not None


def test_all_answers_in_one_class_on_both_sides_is_an_exact_difference():
    assert change(figure(40, 0, 0), figure(40, 0, 0)).p_value == 1.0
    assert change(figure(40, 0, 0), figure(0, 0, 40)).p_value == 0.0


@pytest.fixture
def answers(session):
    """Known scores: March 2026 (de, class A), April none, May (en, class C); invitations sent for each."""
    survey = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    plan = [
        (datetime(2026, 3, 5, 10, tzinfo=UTC), "de", "A", "Küche", [10, 10, 9, 9, 9, 8, 7, 6, 3, 0]),
        (datetime(2026, 5, 20, 10, tzinfo=UTC), "en", "C", "Garten", [9, 8, 6, 6, 5]),
    ]
    unanswered = {"2026-03": 10, "2026-05": 15}
    counter = 0
    for when, locale, value_class, category, scores in plan:
        for score in scores + [None] * unanswered[when.strftime("%Y-%m")]:
            counter += 1
            customer = Customer(
                external_id=f"R-{counter}", email=f"r{counter}@example.com", locale=locale,
                created_at=when, value_class=value_class,
            )  # fmt: skip
            session.add(customer)
            session.flush()
            purchase = Purchase(
                order_id=f"RO-{counter}", customer_id=customer.id, amount=Decimal("10"), currency="EUR",
                category=category, purchased_at=when, created_at=when,
            )  # fmt: skip
            session.add(purchase)
            session.flush()
            invitation = Invitation(
                token=f"report-{counter}", survey_id=survey.id, customer_id=customer.id, purchase_id=purchase.id,
                locale=locale, status="answered" if score is not None else "expired", created_at=when,
                expires_at=when, sent_at=when, last_mailed_at=when,
            )  # fmt: skip
            session.add(invitation)
            session.flush()
            if score is not None:
                session.add(
                    Response(
                        invitation_id=invitation.id, survey_id=survey.id, customer_id=customer.id, score=score,
                        locale=locale, created_at=when,
                    )
                )  # fmt: skip
    rebuild(session)  # rows inserted directly, as a bulk load would: recount
    session.commit()


def test_report_per_month_with_an_empty_month(session, answers):
    from analytics.queries import ReportFilter, nps_report

    report = nps_report(session, date(2026, 3, 1), date(2026, 5, 31), "month", ReportFilter())
    march, april, may = report.periods
    assert [p.start for p in report.periods] == [date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1)]
    assert (march.figure.promoters, march.figure.passives, march.figure.detractors) == (5, 2, 3)
    assert march.figure.nps == 20.0 and march.response_rate == 50.0
    assert april.figure.n == 0 and april.figure.nps is None and april.response_rate is None
    assert (may.figure.promoters, may.figure.passives, may.figure.detractors) == (1, 1, 3)
    assert may.figure.nps == -40.0 and may.response_rate == 25.0
    assert may.change is None  # the previous period has no answers
    assert report.total.n == 15 and report.total.nps == pytest.approx(100 * (6 - 6) / 15)
    low, high = adjusted_wald(5, 2, 3)
    assert march.figure.ci_low == pytest.approx(low, abs=0.01) and march.figure.too_few


def test_filters_language_segment_category(session, answers):
    from analytics.queries import ReportFilter, nps_report

    def total(**kwargs):
        return nps_report(session, date(2026, 3, 1), date(2026, 5, 31), "month", ReportFilter(**kwargs)).total

    assert total(locale="en").n == 5
    assert total(segment="A").n == 10
    assert total(category="Garten").nps == -40.0
    assert total(category="Garten", locale="de").n == 0


def test_weekly_periods_start_on_monday(session, answers):
    from analytics.queries import ReportFilter, nps_report

    report = nps_report(session, date(2026, 3, 4), date(2026, 3, 20), "week", ReportFilter())
    assert [p.start for p in report.periods] == [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)]
    assert [p.figure.n for p in report.periods] == [10, 0, 0]


def test_api_returns_the_same_numbers(api, answers):
    page = api.get("/api/v1/nps?from=2026-03-01&to=2026-05-31&interval=month&segment=A")
    assert page.status_code == 200
    body = page.get_json()
    assert body["filters"] == {"segment": "A"}
    march = body["periods"][0]
    assert (march["start"], march["n"], march["nps"], march["promoters"]) == ("2026-03-01", 10, 20.0, 5)
    assert body["total"]["n"] == 10


def test_api_refuses_bad_parameters_with_a_problem(api):
    page = api.get("/api/v1/nps?from=2026-13-01&interval=year")
    assert page.status_code == 422 and page.mimetype == "application/problem+json"
    fields = {error["field"] for error in page.get_json()["errors"]}
    assert fields == {"from", "interval"}


def test_api_needs_a_key(client):
    assert client.get("/api/v1/nps").status_code == 401


def test_manager_page_has_chart_table_and_csv(client, session, answers):
    sign_in(client, make_user(session, "chefin@example.com", "manager"))
    page = client.get("/reports/nps?from=2026-03-01&to=2026-05-31&interval=month")
    assert page.status_code == 200
    assert "<svg" in page.text and "<polygon" in page.text
    assert "<td>2026-04-01</td><td>0</td>" in page.text
    assert "too few answers" in page.text
    export = client.get("/reports/nps.csv?from=2026-03-01&to=2026-05-31&interval=month")
    rows = [line.split(",") for line in export.text.strip().splitlines()]
    assert rows[0][:6] == ["period_start", "n", "promoters", "passives", "detractors", "nps"]
    assert rows[1][:6] == ["2026-03-01", "10", "5", "2", "3", "20.0"]
    assert rows[2][1] == "0" and rows[2][5] == ""
    bad = client.get("/reports/nps?from=2026-06-01&to=2026-05-01")
    assert bad.status_code == 422 and "must not be after" in bad.text


def test_agents_do_not_see_reports(client, session):
    sign_in(client, make_user(session, "agent@example.com", "agent"))
    assert client.get("/reports/nps").status_code == 403


def test_rollup_follows_every_answer_and_agrees_with_the_raw_rows(session):
    from analytics.queries import ReportFilter, nps_report
    from analytics.rollup import disagreements
    from tests.feedback_helpers import answered

    now = datetime.now(UTC)
    for n, score in enumerate([10, 9, 8, 7, 6, 0, 10, 3], start=1):
        answered(session, n, score, now=now)
    assert disagreements(session) == 0
    today = now.date()
    for interval in ("week", "month"):
        for filters in (ReportFilter(), ReportFilter(locale="de"), ReportFilter(category="Haushalt")):
            fast = nps_report(session, today, today, interval, filters)
            slow = nps_report(session, today, today, interval, filters, source="raw")
            assert [p.figure for p in fast.periods] == [p.figure for p in slow.periods]
    assert fast.total.n == 8 and fast.total.promoters == 3 and fast.total.detractors == 3


def test_an_answer_rolled_back_is_not_counted(session):
    from analytics.models import NpsDaily
    from analytics.rollup import disagreements
    from customers.schemas import PurchaseIn
    from customers.services import record_purchase
    from surveys.jobs import create_due_invitations
    from surveys.services import submit_answer
    from tests.conftest import purchase_payload
    from tests.feedback_helpers import answered

    now = datetime.now(UTC)
    answered(session, 1, 9, now=now)
    payload = purchase_payload("O-9", "C-9", "x@example.com", now - timedelta(days=3, hours=1))
    record_purchase(session, PurchaseIn.model_validate(payload), now)
    session.commit()
    create_due_invitations(session, now)
    session.commit()
    token = session.scalars(select(Invitation.token).where(Invitation.status != "answered")).one()
    submit_answer(session, token, 2, None, now)
    session.rollback()
    assert sum(row.detractors for row in session.scalars(select(NpsDaily))) == 0
    assert sum(row.promoters for row in session.scalars(select(NpsDaily))) == 1
    assert disagreements(session) == 0


def test_response_rate_rollup_follows_mailing_and_answers(session):
    from analytics.queries import ReportFilter, nps_report
    from customers.schemas import PurchaseIn
    from customers.services import record_purchase
    from messaging.outbox import dispatch_due
    from surveys.jobs import create_due_invitations
    from surveys.services import submit_answer
    from tests.conftest import next_business_morning, purchase_payload

    send_at = next_business_morning(datetime.now(UTC))
    for n in range(1, 5):
        payload = purchase_payload(f"O-{n}", f"C-{n}", f"k{n}@example.com", send_at - timedelta(days=3, hours=2))
        record_purchase(session, PurchaseIn.model_validate(payload), send_at)
    session.commit()
    create_due_invitations(session, send_at)
    session.commit()
    assert dispatch_due(session, send_at).sent == 4
    tokens = session.scalars(select(Invitation.token).order_by(Invitation.id)).all()
    for token, score in zip(tokens[:2], (10, 3), strict=True):
        submit_answer(session, token, score, None, send_at + timedelta(hours=1))
        session.commit()
    day = send_at.date()
    fast = nps_report(session, day, day, "week", ReportFilter())
    slow = nps_report(session, day, day, "week", ReportFilter(), source="raw")
    assert (
        (fast.periods[0].sent, fast.periods[0].answered) == (4, 2) == (slow.periods[0].sent, slow.periods[0].answered)
    )
    assert fast.periods[0].response_rate == 50.0


def test_shards_of_finished_days_fold_into_one_row(session, postgresql_only):
    from sqlalchemy import func

    from analytics.models import NpsDaily
    from analytics.queries import ReportFilter, nps_report
    from analytics.rollup import compact, disagreements
    from tests.feedback_helpers import answered

    now = datetime.now(UTC)
    for n, score in enumerate([10, 9, 8, 7, 6, 0, 10, 3, 9, 9], start=1):
        answered(session, n, score, now=now)
    assert session.scalar(select(func.count(func.distinct(NpsDaily.shard)))) > 1
    before = nps_report(session, now.date(), now.date(), "month", ReportFilter()).total
    assert compact(session, now) == 0  # today is not finished
    assert compact(session, now + timedelta(days=1)) > 0
    assert session.scalar(select(func.count()).select_from(NpsDaily).where(NpsDaily.shard > 0)) == 0
    assert session.scalar(select(func.count()).select_from(NpsDaily)) == 1
    assert nps_report(session, now.date(), now.date(), "month", ReportFilter()).total == before
    assert disagreements(session) == 0


def test_phase_filter_counts_the_phase_at_answer_time(session, api):
    from sqlalchemy import update

    from analytics.queries import ReportFilter, nps_report
    from tests.feedback_helpers import answered

    now = datetime.now(UTC)
    for n, score in enumerate([10, 9, 3], start=1):
        answered(session, n, score, now=now)  # one purchase each: "new" customers when they answer
    today = now.date()

    def total(source="rollup", **kwargs):
        return nps_report(session, today, today, "month", ReportFilter(**kwargs), source=source).total

    assert (total(phase="new").n, total(phase="new").nps) == (3, pytest.approx(100 / 3, abs=0.01))
    assert total(phase="existing").n == 0
    assert total(phase="new", source="raw").n == 3
    # Later the first customer leaves: the report keeps the answer where it was given, as a new customer ...
    session.execute(update(Customer).where(Customer.external_id == "C-1").values(lifecycle_phase="churned"))
    session.commit()
    assert total(phase="new").n == 3 and total(phase="churned").n == 0
    # ... while the raw rows only know today's phase.
    assert total(phase="new", source="raw").n == 2 and total(phase="churned", source="raw").n == 1
    body = api.get(f"/api/v1/nps?from={today}&to={today}&phase=new").get_json()
    assert body["filters"] == {"phase": "new"} and body["total"]["n"] == 3
    bad = api.get("/api/v1/nps?phase=sleeping")
    assert bad.status_code == 422
    assert bad.get_json()["errors"] == [
        {"field": "phase", "message": "phase: one of potential, new, existing, inactive, churned"}
    ]


@pytest.mark.parametrize("source", ["rollup", "raw"])
def test_a_range_that_cuts_periods_counts_only_its_days_at_both_ends(session, answers, source):
    """Before, from=2026-03-10 counted March 1 to 9 too, while the last period was cut at `to`."""
    from analytics.queries import ReportFilter, nps_report

    report = nps_report(session, date(2026, 3, 10), date(2026, 5, 25), "month", ReportFilter(), source=source)
    march, april, may = report.periods
    assert (march.figure.n, march.sent, march.partial, march.first_day) == (0, 0, True, date(2026, 3, 10))
    assert (april.partial, april.first_day, april.last_day) == (False, date(2026, 4, 1), date(2026, 4, 30))
    assert (may.figure.n, may.partial, may.last_day) == (5, True, date(2026, 5, 25))
    assert report.total.n == 5
    cut_before = nps_report(session, date(2026, 3, 1), date(2026, 5, 19), "month", ReportFilter(), source=source)
    assert [p.figure.n for p in cut_before.periods] == [10, 0, 0]  # May 20 lies after `to`: cut the same way


def test_partial_periods_and_untested_changes_on_the_page_in_csv_and_api(session, answers, client, staff, api):
    sign_in(client, staff)
    query = "from=2026-03-10&to=2026-05-25&interval=month"
    page = client.get(f"/reports/nps?{query}", headers={"Accept-Language": "en"}).text
    assert "partial: 2026-03-10 to 2026-03-31" in page and "partial: 2026-05-01 to 2026-05-25" in page
    assert "Periods are UTC days" in page and "unpooled two-sample z-test" in page
    rows = list(csv.DictReader(io.StringIO(client.get(f"/reports/nps.csv?{query}").text)))
    assert [(r["partial"], r["first_day"], r["last_day"]) for r in rows] == [
        ("1", "2026-03-10", "2026-03-31"), ("0", "2026-04-01", "2026-04-30"), ("1", "2026-05-01", "2026-05-25")
    ]  # fmt: skip
    assert rows[2]["change"] == "" and rows[2]["p_value"] == ""  # April has no answers: no change at all
    periods = api.get(f"/api/v1/nps?{query}").json["periods"]
    assert [p["partial"] for p in periods] == [True, False, True]
    full = api.get("/api/v1/nps?from=2026-03-01&to=2026-05-31&interval=month").json["periods"]
    assert full[0]["n"] == 10 and not full[0]["partial"]


def test_every_report_page_says_its_days_are_utc(session, client, staff):
    sign_in(client, staff)
    for path in ("/reports/nps", "/reports/drivers", "/reports/churn", "/cockpit/movements"):
        page = client.get(path, headers={"Accept-Language": "en"})
        assert page.status_code == 200 and "UTC" in page.text, path


def test_the_churn_report_opens_with_its_contents(session, client, staff):
    sign_in(client, staff)
    page = client.get("/reports/churn", headers={"Accept-Language": "en"}).text
    contents = page.split('<nav class="contents"')[1].split("</nav>")[0]
    anchors = re.findall(r'href="#([\w-]+)"', contents)
    assert len(anchors) == 6
    assert all(f'id="{anchor}"' in page for anchor in anchors)  # each entry leads to its section
