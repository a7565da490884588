"""In headless Chromium: every staff page, signed in as an admin on the demo data, at 360 and 1440 px wide,
has no sideways scrolling (tables scroll in their own focusable region, as WCAG 1.4.10 allows data tables) and no
axe-core violations; the menu marks the current page and keeps sign-out on the screen
(issue 20)."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlalchemy import select

from app.demo import seed_demo
from customers.models import Customer
from feedback.models import Case
from kundenpuls.timeutil import utcnow
from surveys.models import Survey
from tests.conftest import ARTIFACTS
from tests.feedback_helpers import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.one_database]

PAGES = [
    "/", "/queue", "/queue/health", "/suggestions", "/reports/nps", "/reports/drivers", "/reports/importance",
    "/reports/basket", "/reports/contacts", "/reports/churn", "/reports/leaving", "/reports/model-check",
    "/cockpit", "/cockpit/customers", "/cockpit/rules", "/cockpit/rules/new", "/cockpit/strategies",
    "/cockpit/movements", "/surveys", "/surveys/attributes", "/surveys/reasons", "/cases/contact-reasons",
    "/settings/lifecycle", "/settings/values", "/settings/webhooks", "/outbox", "/mailbox", "/surveys/held",
]  # fmt: skip
# A phone and a desktop. 1024 px (a tablet) found nothing the two did not, at a fifth of make test's minute here.
WIDTHS = (360, 1440)


def test_every_staff_page_fits_the_screen_without_violations(session, live_server, chromium):
    seed_demo(session, utcnow(), customers=400)
    make_user(session, "admin@example.com", "admin", "Ada Admin")
    case = session.scalars(select(Case).order_by(Case.id)).first()
    customer = session.scalars(select(Customer).order_by(Customer.id)).first()
    survey = session.scalars(select(Survey).order_by(Survey.id)).first()
    pages = [*PAGES, f"/cases/{case.id}", f"/customers/{customer.id}", f"/surveys/{survey.id}"]
    pages += [f"/surveys/{survey.id}/links", f"/surveys/{survey.id}/widgets", "/widget/demo"]
    problems = []
    for width in WIDTHS:
        context = chromium.new_context(viewport={"width": width, "height": 900}, locale="en-US")
        page = context.new_page()
        page.goto(f"{live_server}/login")
        page.get_by_label("Email").fill("admin@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        for path in pages:
            response = page.goto(f"{live_server}{path}")
            if response.status != 200:
                problems.append(f"{path}: HTTP {response.status}")
                continue
            wide = page.evaluate("document.documentElement.scrollWidth")
            if wide > width:
                problems.append(f"{path} at {width} px: {wide} px wide")
            if path == "/" and width == WIDTHS[-1]:
                page.screenshot(path=str(ARTIFACTS / "home-admin.png"), full_page=True)
            if path == "/queue":  # the current page is marked, sign-out is on the screen
                assert page.get_by_role("link", name="Queue", exact=True).get_attribute("aria-current") == "page"
                box = page.get_by_role("button", name="Sign out").bounding_box()
                assert box["x"] + box["width"] <= width
            results = Axe().run(page)
            if results.violations_count:
                problems.append(f"{path} at {width} px: " + ", ".join(v["id"] for v in results.response["violations"]))
        context.close()
    assert not problems, "\n".join(problems)
