"""German and English complete: every text translated, levels and statuses by their names, amounts and dates by
Babel for the page's locale. The template scan fails on a template that prints a code (a status, a priority) or
formats an amount or a date by hand."""

from __future__ import annotations

import re
from pathlib import Path

import flask_babel
from babel.messages.pofile import read_po
from sqlalchemy import select

from feedback.models import Case
from tests.feedback_helpers import answered, make_user, sign_in

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "templates").rglob("*.html")) + sorted((ROOT / "templates").rglob("*.txt"))
# A code printed as text (not inside an attribute such as class="priority-{{ case.priority }}").
RAW_CODE = re.compile(r"(?<![\"=-])\{\{\s*[\w.]+\.(status|priority|kind|lifecycle_phase|root_cause)\s*\}\}")
HAND_MONEY = re.compile(r"€|\bEUR\b|\{\{[^}]*\.currency\s*\}\}")


def test_every_text_has_its_german_translation():
    with (ROOT / "translations/de/LC_MESSAGES/messages.po").open("rb") as po:
        catalog = read_po(po)
    missing = [m.id for m in catalog if m.id and not m.string]
    assert not missing, missing


def test_no_template_prints_a_code_an_amount_or_a_date_by_hand():
    problems = []
    for path in TEMPLATES:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            where = f"{path.relative_to(ROOT)}:{number}"
            if RAW_CODE.search(line):
                problems.append(f"{where}: prints a code, not its label: {RAW_CODE.search(line).group(0)}")
            if HAND_MONEY.search(line):
                problems.append(f"{where}: an amount with a hand-written currency (use |money)")
            if "strftime(" in line:
                problems.append(f"{where}: a date by strftime (use |staff_date or |staff_datetime)")
    assert not problems, "\n".join(problems)


def test_the_queue_and_the_case_speak_the_pages_language(session, client):
    case = answered(session, 1, 0, "Zu spät geliefert", amount=1234.5)
    sign_in(client, make_user(session, "agentin@example.com", "agent"))
    flask_babel.refresh()  # the tests' requests share one app context, and Flask-Babel keeps the locale there
    queue = client.get("/queue", headers={"Accept-Language": "de"}).text
    assert "<strong>hoch</strong>" in queue and "<strong>high</strong>" not in queue
    page = client.get(f"/cases/{case.id}", headers={"Accept-Language": "de"}).text
    assert "1.234,50\xa0€" in page and "1.234\xa0€ Umsatz in 12 Monaten" in page  # Babel's no-break space
    day = session.scalars(select(Case.created_at).where(Case.id == case.id)).one()
    with client.application.test_request_context(headers={"Accept-Language": "de"}):
        assert flask_babel.format_date(day, "medium") in page  # 02.12.2026, in Europe/Berlin's calendar
    flask_babel.refresh()
    english = client.get(f"/cases/{case.id}", headers={"Accept-Language": "en"}).text
    assert "€1,234.50" in english and "€1,234 revenue in 12 months" in english and "<strong>high</strong>" in english


def test_survey_and_rule_names_have_a_german_name(session, client, api):
    admin = make_user(session, "leitung@example.com", "admin")
    sign_in(client, admin)
    flask_babel.refresh()
    german = client.get("/queue", headers={"Accept-Language": "de"}).text
    assert ">NPS nach dem Kauf</option>" in german
    rules = client.get("/cockpit/rules", headers={"Accept-Language": "de"}).text
    assert "Kritiker mit hohem Wert" in rules and "High-value detractor" not in rules
    flask_babel.refresh()
    english = client.get("/queue", headers={"Accept-Language": "en"}).text
    assert ">NPS after purchase</option>" in english

    # The German name is a survey setting like the others: in the API and on the admin form.
    survey_id = api.get("/api/v1/surveys").json["surveys"][0]["id"]
    changed = api.patch(f"/api/v1/surveys/{survey_id}", {"name_de": "NPS nach jedem Kauf"})
    assert changed.status_code == 200 and changed.json["name_de"] == "NPS nach jedem Kauf"
    assert api.patch(f"/api/v1/surveys/{survey_id}", {"name_de": "x" * 201}).status_code == 422
    flask_babel.refresh()
    assert "NPS nach jedem Kauf" in client.get("/queue", headers={"Accept-Language": "de"}).text
