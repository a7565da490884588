"""In headless Chromium, on the demo data `make run` seeds: a manager reads "invest here, save there" for A
customers, what segments buy and why customers get in touch; an admin finds the household-to-garden offer with its
why and keeps the contact reasons. axe-core finds no accessibility violations on any of these pages; screenshots go
to tests/artifacts/ for the README."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import select

from app.demo import seed_demo
from kundenpuls.timeutil import utcnow
from retention.models import RetentionRule
from tests.conftest import ARTIFACTS
from tests.feedback.test_browser_queue import sign_in
from tests.feedback_helpers import make_user

pytestmark = [pytest.mark.browser, pytest.mark.one_database]


def no_violations(page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_invest_here_save_there_on_the_demo_data(session, live_server, chromium):
    seed_demo(session, utcnow())
    offer = session.scalars(select(RetentionRule).where(RetentionRule.offer_category.is_not(None))).one()
    make_user(session, "chefin@example.com", "admin", "Maria Managerin")
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = sign_in(chromium, live_server, "chefin@example.com")

    page.goto(f"{live_server}/reports/importance?value_class=A")
    invest = page.locator('[data-quadrant="invest_here"]')
    expect(invest.filter(has_text="Delivery speed")).to_have_count(1)
    expect(invest.filter(has_text="Advice")).to_have_count(1)
    expect(page.locator("svg").first).to_be_visible()
    no_violations(page)
    page.screenshot(path=str(ARTIFACTS / "importance-quadrant.png"), full_page=True)

    page.goto(f"{live_server}/reports/basket")
    expect(page.get_by_text("Garten").first).to_be_visible()
    no_violations(page)

    page.goto(f"{live_server}/reports/contacts")
    expect(page.get_by_text("Question about a delivery").first).to_be_visible()
    no_violations(page)

    page.goto(f"{live_server}/suggestions?rule={offer.id}")
    why = page.locator("[data-why]").first
    expect(why).to_contain_text("customers who bought Haushalt also bought Garten within 180 days")
    expect(why).to_contain_text("this customer has not")
    no_violations(page)
    page.screenshot(path=str(ARTIFACTS / "offer-suggestions.png"))  # the first screenful of a long list

    page.goto(f"{live_server}/cockpit/rules/{offer.id}")
    expect(page.get_by_label("Measure type: offer a category (optional)")).to_have_value("Garten")
    no_violations(page)

    page.goto(f"{live_server}/cases/contact-reasons")
    page.get_by_label("German label").last.fill("Gutschein einlösen")
    page.get_by_label("English label").last.fill("Redeem a voucher")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator('tr[data-key="redeem_a_voucher"]')).to_be_visible()
    no_violations(page)
    context.close()
