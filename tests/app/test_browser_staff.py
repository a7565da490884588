"""In headless Chromium, signed in as each role on the demo data: every staff page the role can open, at 360,
1024 and 1440 px wide, has no sideways scrolling (tables scroll in their own focusable region, as WCAG 1.4.10
allows data tables) and no axe-core violations (the rules as shipped plus target-size, WCAG 2.5.8); the menu marks
the current page and keeps sign-out on the screen. Every role visits every page; pages a role may not open answer
403, and none of them is in its menu; no link on a role's pages leads to a 403 or a server error (each kind of link
followed once). Screenshots of each role's home page and of the cockpit go to tests/artifacts/."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlalchemy import select

from app.demo import DEMO_STAFF_PASSWORD, seed_demo
from customers.models import Customer
from feedback.models import Case
from kundenpuls.timeutil import utcnow
from surveys.models import Survey
from tests.conftest import ARTIFACTS
from tests.feedback_helpers import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.one_database]

ADMIN_PAGES = [
    "/", "/queue", "/queue/health", "/suggestions", "/reports/nps", "/reports/drivers", "/reports/importance",
    "/reports/basket", "/reports/contacts", "/reports/churn", "/reports/leaving", "/reports/model-check",
    "/cockpit", "/cockpit/customers", "/cockpit/rules", "/cockpit/rules/new", "/cockpit/strategies",
    "/cockpit/movements", "/surveys", "/surveys/attributes", "/surveys/reasons", "/cases/contact-reasons",
    "/settings/lifecycle", "/settings/values", "/settings/webhooks", "/settings/users", "/settings/imports",
    "/outbox", "/mailbox",
    "/surveys/held",
]  # fmt: skip
WIDTHS = (360, 1024, 1440)
# axe at the phone and the desktop width; at 1024 px the reflow check only (axe there found nothing the other two
# did not, and each axe run costs about a second of make test).
AXE_WIDTHS = (360, 1440)
HREFS = "links => links.map(a => a.getAttribute('href'))"
AXE_OPTIONS = {"rules": {"target-size": {"enabled": True}}}


def visit(chromium, live_server, email: str, role: str, pages: list[str], password: str = PASSWORD) -> list[str]:
    """Each page is loaded once and checked at each width by resizing the window (the layout's media queries
    apply as on a phone): a third of the page loads of a visit per width."""
    problems = []
    context = chromium.new_context(viewport={"width": WIDTHS[-1], "height": 900}, locale="en-US")
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    menu = set(page.locator("nav.groups a[href^='/']").evaluate_all(HREFS))
    if "/queue" not in menu:
        problems.append(f"{role}: no queue in the menu {sorted(menu)}")
    links: dict[str, tuple[str, str]] = {}  # each kind of link (its numbers as N): one such link, the page it is on
    for path in pages:
        response = page.goto(f"{live_server}{path}")
        if response.status == 403 and role != "admin" and path not in menu:
            continue  # not this role's page, and its menu does not offer it
        if response.status != 200:
            problems.append(f"{role} {path}: HTTP {response.status}")
            continue
        for href in page.locator("a[href^='/']").evaluate_all(HREFS):
            links.setdefault(re.sub(r"\d+", "N", href.partition("#")[0]), (href, path))
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            wide = page.evaluate("document.documentElement.scrollWidth")
            if wide > width:
                problems.append(f"{role} {path} at {width} px: {wide} px wide")
            if width == WIDTHS[-1] and path in ("/", "/cockpit"):
                name = "home" if path == "/" else "cockpit"
                page.screenshot(path=str(ARTIFACTS / f"{name}-{role}.png"), full_page=True)
            if path == "/queue":  # the current page is marked, sign-out is on the screen
                assert page.get_by_role("link", name="Queue", exact=True).get_attribute("aria-current") == "page"
                box = page.get_by_role("button", name="Sign out").bounding_box()
                assert box["x"] + box["width"] <= width
            if width in AXE_WIDTHS:
                results = Axe().run(page, options=AXE_OPTIONS)
                if results.violations_count:
                    found = ", ".join(v["id"] for v in results.response["violations"])
                    problems.append(f"{role} {path} at {width} px: {found}")
    for href, found_on in links.values():
        status = context.request.get(f"{live_server}{href}", max_redirects=0).status
        if status == 403 or status >= 500:
            problems.append(f"{role} {found_on} links to {href}: HTTP {status}")
    context.close()
    return problems


def test_every_staff_page_fits_the_screen_without_violations_for_every_role(session, live_server, chromium):
    seed_demo(session, utcnow(), customers=400)
    make_user(session, "admin@example.com", "admin", "Ada Admin")
    case = session.scalars(select(Case).order_by(Case.id)).first()
    customer = session.scalars(select(Customer).order_by(Customer.id)).first()
    survey = session.scalars(select(Survey).order_by(Survey.id)).first()
    mine = [f"/cases/{case.id}", f"/customers/{customer.id}"]
    pages = [*ADMIN_PAGES, *mine, f"/surveys/{survey.id}"]
    pages += [f"/surveys/{survey.id}/links", f"/surveys/{survey.id}/widgets", "/widget/demo"]
    problems = visit(chromium, live_server, "admin@example.com", "admin", pages)
    # The demo's staff (app.demo.DEMO_STAFF): an agent and a manager, with the demo password.
    for email, role in (("jana.schulz@example.com", "agent"), ("lea.wagner@example.com", "manager")):
        problems += visit(chromium, live_server, email, role, pages, DEMO_STAFF_PASSWORD)
    assert not problems, "\n".join(problems)
