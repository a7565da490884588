"""In headless Chromium: a manager reads the cockpit, opens a cell and lands on a customer's page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.conftest import ARTIFACTS
from tests.feedback_helpers import make_user
from tests.test_browser_queue import sign_in
from tests.test_cockpit import customer

pytestmark = pytest.mark.browser


def test_manager_goes_from_a_cockpit_cell_to_the_customer(session, live_server, chromium):
    make_user(session, "chefin@example.com", "manager", "Maria Managerin")
    top = customer(session, "K-1", "A", "existing", 6000, [(5, 2)])
    top.name, top.margin_12m, top.potential_value = "Autohaus Becker", Decimal(1500), Decimal(9000)
    customer(session, "K-2", "A", "existing", 900, [(5, 10)]).name = "Bäckerei Schulz"
    session.commit()
    context, page = sign_in(chromium, live_server, "chefin@example.com")
    page.goto(f"{live_server}/cockpit")
    cell = page.locator('[data-cell="A-existing"]')
    expect(cell.locator('[data-figure="customers"]')).to_have_text("2")
    expect(page.locator('[data-group="star"] [data-figure="customers"]')).to_have_text("1")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "cockpit.png"), full_page=True)
    cell.get_by_title("detractor").click()
    expect(page.locator("h1")).to_contain_text("A · existing · detractor")
    page.get_by_role("link", name="Autohaus Becker").click()
    expect(page.locator("[data-satisfaction]")).to_have_text("detractor (2)")
    expect(page.locator("[data-clv]")).to_contain_text("4000.00 €")  # 1500 x 0.8 / (1 + 0.1 - 0.8)
    context.close()
