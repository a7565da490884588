"""In headless Chromium: a manager reads "does dissatisfaction predict leaving?" and a customer's outlook; axe-core
finds no accessibility violations on either page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from analytics.purchase_models import fit_models
from tests.analytics.test_leaving import generate
from tests.analytics.test_purchase_models import AS_OF, NOW, load, simulated_histories
from tests.conftest import ARTIFACTS
from tests.feedback.test_browser_queue import sign_in
from tests.feedback_helpers import make_user

pytestmark = pytest.mark.browser


def no_violations(page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_leaving_report_and_customer_outlook(session, live_server, chromium):
    generate(session, n=400)
    ids = load(session, simulated_histories(1500, seed=12))
    fit_models(session, NOW, AS_OF)
    make_user(session, "chefin@example.com", "manager", "Maria Managerin")
    context, manager = sign_in(chromium, live_server, "chefin@example.com")

    manager.goto(f"{live_server}/reports/leaving?from=2025-01-01")
    expect(manager.locator("[data-logrank]")).to_contain_text("log-rank test")
    expect(manager.locator('tr[data-class="detractor"]')).to_be_visible()
    no_violations(manager)
    ARTIFACTS.mkdir(exist_ok=True)
    manager.screenshot(path=str(ARTIFACTS / "leaving-report.png"), full_page=True)

    manager.goto(f"{live_server}/customers/{ids['S-00001']}")
    expect(manager.locator("[data-expected-purchases]")).to_contain_text("purchases expected in the next 90 days")
    expect(manager.locator("[data-clv-model]")).to_contain_text("fitted on purchases up to")
    no_violations(manager)
    manager.screenshot(path=str(ARTIFACTS / "customer-outlook.png"), full_page=True)

    manager.goto(f"{live_server}/reports/model-check?end={AS_OF - timedelta(days=120)}&until={AS_OF}")
    expect(manager.locator('table[data-table="frequency"] tbody tr')).to_have_count(8)
    expect(manager.locator('[data-figure="error"]')).to_be_visible()
    no_violations(manager)
    manager.screenshot(path=str(ARTIFACTS / "model-check.png"), full_page=True)
    context.close()
