"""In headless Chromium: a cancellation arrives by API, the customer gives reasons on a phone, the manager
reads them in the churn report and the agent finds the case."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.scheduler import tick
from surveys.models import Response
from tests.conftest import ARTIFACTS, next_business_morning
from tests.feedback.test_browser_queue import sign_in
from tests.feedback_helpers import make_user

pytestmark = pytest.mark.browser


def test_cancellation_to_reasons_to_report_and_case(session, api, buy, smtp, live_server, chromium):
    make_user(session, "chefin@example.com", "manager", "Maria Managerin")
    buy(purchased_at=datetime.now(UTC) - timedelta(days=120), name="Anna Becker")
    cancelled = api.post(
        "/api/v1/cancellations",
        {"customer_external_id": "C-1", "cancelled_at": datetime.now(UTC).isoformat(), "reason": "Vertrag beendet"},
    )
    assert cancelled.status_code == 201, cancelled.json
    morning = next_business_morning(datetime.now(UTC))
    tick(morning)
    tick(morning + timedelta(minutes=1))
    [mail] = smtp.messages
    assert mail["Subject"] == "Schade, dass Sie gehen – verraten Sie uns, warum?"
    link = re.search(r'href="([^"]+/s/[^"]+)"', mail.get_body(("html",)).get_content()).group(1)
    assert link.startswith(live_server)

    phone = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="de-DE")
    page = phone.new_page()
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Warum kaufen Sie nicht mehr bei uns?")
    # Sending nothing keeps the page and says what is missing.
    page.get_by_role("button", name="Antwort senden").click()
    expect(page.get_by_role("alert").first).to_contain_text("Bitte kreuzen Sie mindestens einen Grund an")
    page.get_by_label("Preis").check()
    page.get_by_label("Zu einem Wettbewerber gewechselt").check()
    page.get_by_label("Was war der wichtigste Grund?").select_option(label="Zu einem Wettbewerber gewechselt")
    page.get_by_label("Möchten Sie uns mehr erzählen?").fill("Beim Wettbewerber 20 % günstiger")
    page.get_by_label("Würden Sie wiederkommen, wenn …?").fill("kostenloser Versand")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "churn-phone.png"), full_page=True)
    page.get_by_role("button", name="Antwort senden").click()
    page.get_by_role("heading", name="Vielen Dank für Ihre Offenheit!").wait_for()
    phone.close()

    response = session.scalars(select(Response)).one()
    assert sorted((r.reason.key, r.main) for r in response.reasons) == [("competitor", True), ("price", False)]

    context, manager = sign_in(chromium, live_server, "chefin@example.com")
    manager.goto(f"{live_server}/reports/churn")
    reasons = manager.locator('table[data-table="reasons"]')
    expect(reasons.locator("tbody tr").first).to_contain_text("Switched to a competitor")
    expect(reasons.locator('tr[data-reason="competitor"] td').nth(1)).to_have_text("1")
    expect(reasons.locator('tr[data-reason="price"] td').nth(2)).to_contain_text("100.0 %")
    expect(manager.locator('section[data-group="competitor"]')).to_contain_text("Beim Wettbewerber 20 % günstiger")
    expect(manager.locator('[data-figure="churned"]')).to_have_text("1")
    manager.screenshot(path=str(ARTIFACTS / "churn-report.png"), full_page=True)

    manager.goto(f"{live_server}/queue")
    manager.locator("table.queue tbody tr").first.get_by_role("link").first.click()
    expect(manager.locator("[data-reasons]")).to_contain_text("Switched to a competitor (main)")
    manager.get_by_role("link", name=re.compile("Anna Becker")).click()
    expect(manager.locator(".win-back")).to_contain_text("Win-back offer sized to the former customer value")
    context.close()
