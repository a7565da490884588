"""The web widget end to end in Chromium: a host page on another origin (localhost, while Kundenpuls runs on
127.0.0.1) with a strict Content-Security-Policy embeds the one script tag; a signed-in customer on a phone answers
by keyboard, an anonymous visitor closes it and is not asked again. No CSP violation, no cookie, 0 axe violations
in the widget."""

from __future__ import annotations

import html
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlalchemy import select

from kundenpuls.timeutil import utcnow
from surveys.models import Invitation, Response, Survey
from surveys.widget_views import script_url
from surveys.widgets import create_widget, signature
from tests.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.one_database]


def host_page(script: str, key: str, customer: str | None, secret: str, lang: str = "de") -> bytes:
    """The company's page: its server signs the signed-in customer's id, as the README shows."""
    who = f' data-customer="{html.escape(customer)}" data-signature="{signature(secret, customer)}"' if customer else ""
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Konto</title></head>'
        "<body><main><h1>Konto</h1><p>…</p></main>"
        f'<script async src="{script}" data-key="{key}"{who}></script></body></html>'
    ).encode()


@pytest.fixture
def host(live_server):
    """A second origin on loopback serving the host page under a strict CSP; `pages` maps path to body."""
    pages: dict[str, bytes] = {}
    policy = (
        f"default-src 'none'; script-src {live_server}; connect-src {live_server}; style-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'"
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the standard library's name)
            body = pages.get(self.path.split("?")[0])
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Security-Policy", policy)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{server.server_port}", pages
    server.shutdown()
    server.server_close()


def csp_errors(page) -> list[str]:
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if "Content Security Policy" in m.text else None)
    return found


def test_a_signed_in_customer_answers_the_widget_by_keyboard_on_a_phone(session, buy, app, live_server, host, chromium):
    origin, pages = host
    buy("O-1", "C-1")
    survey = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    values = {"label": "Konto", "origins": origin, "after_page_views": 2}
    widget = create_widget(session, survey, values, None, utcnow())
    session.commit()
    with app.test_request_context():
        script = script_url()
    pages["/konto"] = host_page(script, widget.public_key, "C-1", widget.secret)

    context = chromium.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="de-DE"
    )
    page = context.new_page()
    errors = csp_errors(page)
    page.goto(f"{origin}/konto")
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-kundenpuls]").count() == 0  # the first page view: not yet
    page.goto(f"{origin}/konto")
    box = page.locator("[data-kundenpuls] section.box")
    box.wait_for()
    shape = box.bounding_box()
    assert shape["x"] >= 0 and shape["x"] + shape["width"] <= 360
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-phone.png"))

    page.locator("[data-kundenpuls] input[value='9']").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.type("Schnell und freundlich")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.get_by_role("status").wait_for()
    assert page.get_by_role("status").inner_text() == survey.text("de", "thanks")
    assert errors == [] and context.cookies() == []
    context.close()

    stored = session.scalars(select(Response)).one()
    assert (stored.score, stored.comment, stored.channel) == (9, "Schnell und freundlich", "widget")
    assert session.scalars(select(Invitation)).one().channel == "widget"


def test_an_anonymous_visitor_who_closes_it_is_not_asked_again(session, app, live_server, host, chromium):
    origin, pages = host
    survey = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    widget = create_widget(session, survey, {"label": "Shop", "allow_anonymous": True}, None, utcnow())
    session.commit()
    with app.test_request_context():
        script = script_url()
    pages["/"] = host_page(script, widget.public_key, None, widget.secret, "en")

    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    page = context.new_page()
    errors = csp_errors(page)
    page.goto(f"{origin}/")
    page.get_by_text("Your answer is anonymous").wait_for()
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    page.get_by_role("button", name="Close the survey").click()
    assert page.locator("[data-kundenpuls]").count() == 0
    page.reload()
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-kundenpuls]").count() == 0  # remembered in this browser, nothing sent
    assert errors == [] and context.cookies() == []
    context.close()
    assert session.scalars(select(Invitation)).all() == []
