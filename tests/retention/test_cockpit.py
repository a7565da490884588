"""The cockpit matrix against hand-made customers: counts, revenue shares, NPS per cell, the cell's list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from customers.models import Customer
from retention.cockpit import matrix
from retention.segments import refresh_segments
from tests.conftest import csrf_token
from tests.feedback_helpers import make_user, sign_in
from tests.retention.test_customer_api import nps_answer


def customer(session, external_id, value_class, phase, revenue, scores=()):
    c = Customer(
        external_id=external_id, email=f"{external_id.lower()}@example.com", locale="de",
        created_at=datetime(2025, 1, 1, tzinfo=UTC), value_class=value_class, lifecycle_phase=phase,
        revenue_12m=Decimal(revenue),
    )  # fmt: skip
    session.add(c)
    session.flush()
    for days_ago, score in scores:
        nps_answer(session, c, score, datetime.now(UTC) - timedelta(days=days_ago))
    return c


def placed(session) -> None:
    """The nightly segment refresh, which the cockpit reads."""
    refresh_segments(session, datetime.now(UTC))
    session.commit()


def test_cells_count_customers_revenue_and_latest_satisfaction(session):
    customer(session, "K-1", "A", "existing", 600, [(100, 3), (5, 10)])  # latest: promoter
    customer(session, "K-2", "A", "existing", 200, [(5, 2)])  # detractor
    customer(session, "K-3", "A", "existing", 100)  # never asked
    customer(session, "K-4", "C", "new", 100, [(3, 8)])  # passive
    customer(session, "K-5", None, "potential", 0)  # not classified yet: counted as C
    session.commit()
    placed(session)
    cells = matrix(session)
    a = cells[("A", "existing")]
    assert (a.customers, a.revenue, a.revenue_share) == (3, Decimal(900), 90.0)
    assert a.satisfaction == {"promoter": 1, "passive": 0, "detractor": 1, "unknown": 1}
    assert (a.answered, a.nps) == (2, 0.0)
    c_new = cells[("C", "new")]
    assert (c_new.customers, c_new.nps, c_new.revenue_share) == (1, 0.0, 10.0)
    assert cells[("C", "potential")].customers == 1 and cells[("C", "potential")].nps is None
    assert cells[("A", "potential")].meaningless and cells[("A", "potential")].customers == 0
    assert not cells[("A", "churned")].meaningless
    assert sum(cell.customers for cell in cells.values()) == 5


def test_cockpit_page_and_cell_list(session, client):
    customer(session, "K-1", "A", "existing", 600, [(5, 10)])
    customer(session, "K-2", "A", "existing", 200, [(5, 2)])
    session.commit()
    placed(session)
    sign_in(client, make_user(session, "chefin@example.com", "manager"))
    page = client.get("/cockpit", headers={"Accept-Language": "en"}).text
    assert 'data-cell="A-existing"' in page and "cannot occur" in page
    cell = client.get("/cockpit/customers?value_class=A&phase=existing&satisfaction=detractor").text
    assert "K-2" in cell and "K-1" not in cell
    assert "<strong>retain</strong>" in cell  # the segment's default strategy
    both = client.get("/cockpit/customers?value_class=A&phase=existing").text
    assert both.index("K-1") < both.index("K-2")  # highest revenue first
    assert client.get("/cockpit/customers?value_class=Z&phase=existing").status_code == 422
    client.post("/logout", data={"csrf_token": csrf_token(page)})
    sign_in(client, make_user(session, "agent@example.com", "agent"))
    assert client.get("/cockpit").status_code == 403


def test_portfolio_groups_by_value_and_potential(session, client):
    from retention.cockpit import portfolio

    star = customer(session, "P-1", "A", "existing", 5000, [(5, 10)])
    star.potential_value = Decimal(9000)
    earner = customer(session, "P-2", "A", "existing", 3000, [(5, 3)])
    earner.potential_value = Decimal(500)
    question = customer(session, "P-3", "C", "new", 100)
    question.potential_estimate = Decimal(2500)  # estimated potential counts when none is stated
    customer(session, "P-4", "C", "existing", 50).potential_value = Decimal(100)
    customer(session, "P-5", "C", "existing", 20)  # no potential at all
    customer(session, "P-6", "C", "potential", 0).potential_value = Decimal(5000)  # a prospect: not in it
    session.commit()
    placed(session)
    groups = portfolio(session, Decimal(1000), Decimal(2000))
    assert {name: g.customers for name, g in groups.items()} == {
        "star": 1, "earnings": 1, "question_mark": 1, "take_along": 1, "potential_unknown": 1,
    }  # fmt: skip
    assert groups["star"].revenue_share == round(100 * 5000 / 8170, 1) and groups["star"].nps == 100.0
    assert groups["earnings"].nps == -100.0 and groups["question_mark"].nps is None
    # Other thresholds, other groups: a value threshold above everyone turns the star into a question mark.
    assert portfolio(session, Decimal(10000), Decimal(2000))["question_mark"].customers == 2
    sign_in(client, make_user(session, "chefin@example.com", "manager"))
    page = client.get("/cockpit", headers={"Accept-Language": "en"}).text
    assert 'data-group="star"' in page and "Star customers" in page
    listed = client.get("/cockpit/customers?portfolio=question_mark").text
    assert "P-3" in listed and "P-1" not in listed
    assert client.get("/cockpit/customers?portfolio=star&phase=new").status_code == 422


def test_the_cockpit_is_a_heat_map_that_does_not_rest_on_colour(session, client, app):
    from retention.cockpit import Cell

    def cell(promoters, detractors, others=0):
        split = {"promoter": promoters, "passive": others, "detractor": detractors, "unknown": 0}
        return Cell("A", "existing", customers=promoters + detractors + others, satisfaction=split)

    assert cell(10, 40).heat(30) == "1"  # NPS -60
    assert cell(20, 25, 5).heat(30) == "2"  # -10
    assert cell(20, 20).heat(30) == "3"  # exactly 0
    assert cell(25, 10, 5).heat(30) == "4"  # +37.5
    assert cell(35, 5).heat(30) == "5"  # +75
    assert cell(1, 0).heat(30) == "few"  # one answer: not shaded
    customer(session, "K-1", "A", "existing", 600, [(5, 10)])
    customer(session, "K-2", "A", "existing", 200, [(5, 2)])
    customer(session, "K-3", "C", "new", 100, [(5, 1)])
    session.commit()
    placed(session)
    app.config["NPS_MIN_ANSWERS"] = 1
    sign_in(client, make_user(session, "chefin@example.com", "manager"))
    page = client.get("/cockpit", headers={"Accept-Language": "en"}).text
    assert 'class="cell heat-3" data-cell="A-existing"' in page  # one promoter, one detractor: NPS 0
    assert 'class="cell heat-1" data-cell="C-new"' in page  # -100, striped
    assert 'NPS <strong data-figure="nps">-100</strong>' in page  # the number is written too
    assert "Negative NPS is striped" in page and "fewer than 1 answers" in page


def test_each_cell_shows_its_months_as_a_small_line(session, client):
    from analytics.models import NpsDaily
    from analytics.queries import segment_months
    from surveys.models import Survey

    survey = session.scalars(select(Survey).where(Survey.key == "nps-default")).one()
    today = datetime.now(UTC).date()
    last_month = today.replace(day=1) - timedelta(days=1)
    for day, promoters, detractors in ((last_month, 2, 6), (today, 6, 2)):
        session.add(NpsDaily(day=day, survey_id=survey.id, locale="de", segment="A", phase="existing",
                             promoters=promoters, passives=2, detractors=detractors))  # fmt: skip
    session.commit()
    months = segment_months(session, today)[("A", "existing")]
    assert len(months) == 12 and [f.n for _, f in months[-2:]] == [10, 10]
    assert [f.nps for _, f in months[-2:]] == [-40.0, 40.0]  # 100 x (P - D) / n
    assert all(f.nps is None for _, f in months[:-2])
    sign_in(client, make_user(session, "chefin@example.com", "manager"))
    page = client.get("/cockpit", headers={"Accept-Language": "en"}).text
    cell = page.split('data-cell="A-existing"')[1].split("</td>")[0]
    assert f'aria-label="NPS: {last_month:%Y-%m} -40 … {today:%Y-%m} 40"' in cell
    assert "data-trend" not in page.split('data-cell="B-existing"')[1].split("</td>")[0]  # no answers, no line
