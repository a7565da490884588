"""Anonymous survey links: answered without login or cookie, counted in reports but in nobody's segment, one answer
per browser, a honeypot, a rate limit per network, answers over a network's threshold held for a manager, and the
double opt-in that ties an answer to a customer."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import flask_babel
import pytest
from sqlalchemy import func, select

from analytics.channel_report import by_channel
from analytics.models import NpsDaily, PendingAnswer
from analytics.queries import ReportFilter
from feedback.models import Case
from kundenpuls.timeutil import utcnow
from messaging.models import OutboxMessage
from surveys.models import Invitation, Response, Survey
from surveys.public_links import create_link, network_of
from surveys.public_models import HeldAnswer, PublicLink
from tests.conftest import csrf_token
from tests.feedback_helpers import make_user, sign_in


@pytest.fixture
def link(session):
    survey = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    made = create_link(session, survey, "Ladentheke Filiale Mitte", None, utcnow(), ask_email=True)
    session.commit()
    return made


def answer(client, link, score="9", ip="203.0.113.7", **extra):
    """The page and the answer from a browser that names no language (German, then)."""
    page = client.get(f"/l/{link.slug}", environ_base={"REMOTE_ADDR": ip})
    data = {"csrf_token": csrf_token(page.text), "score": score, "comment": "", **extra}
    return client.post(f"/l/{link.slug}", data=data, environ_base={"REMOTE_ADDR": ip})


def test_an_anonymous_answer_counts_in_reports_and_in_no_segment(client, session, link):
    page = client.get(f"/l/{link.slug}", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert page.status_code == 200 and "Set-Cookie" not in page.headers  # reading sets no cookie
    assert "Your answer is anonymous" in page.text and 'name="email"' in page.text
    assert "Unsubscribe" not in page.text
    flask_babel.refresh()  # the tests' requests share one app context, and Flask-Babel keeps the locale there
    german = client.get(f"/l/{link.slug}", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert "Ihre Antwort ist anonym" in german.text
    done = answer(client, link, "3", comment="Lange gewartet")
    assert done.status_code == 200 and "kp_answered=" in done.headers["Set-Cookie"]
    assert "Path=/l/" in done.headers["Set-Cookie"] and "HttpOnly" in done.headers["Set-Cookie"]
    stored = session.scalars(select(Response)).one()
    assert (stored.score, stored.customer_id, stored.channel, stored.comment) == (
        3,
        None,
        "anonymous",
        "Lange gewartet",
    )
    invitation = session.get(Invitation, stored.invitation_id)
    assert (invitation.public_link_id, invitation.customer_id, invitation.sent_at) == (link.id, None, None)
    assert session.scalar(select(func.count()).select_from(PendingAnswer)) == 0  # never in a customer's segment
    assert session.scalars(select(Case)).one().customer_id is None  # the service team still reads it
    assert client.get(f"/u/{invitation.token}").status_code == 404  # nobody to unsubscribe
    assert client.post(f"/u/{invitation.token}").status_code == 404
    case = session.scalars(select(Case)).one()
    sign_in(client, make_user(session, "agent@example.com", "agent"))
    flask_babel.refresh()
    assert "Lange gewartet" in client.get(f"/cases/{case.id}").text and client.get("/queue").status_code == 200
    today = utcnow().date()
    [row] = by_channel(session, today, today, ReportFilter())
    assert (row.channel, row.figure.detractors, row.sent, row.response_rate) == ("anonymous", 1, 0, None)
    assert session.scalar(select(func.sum(NpsDaily.detractors)).where(NpsDaily.channel == "anonymous")) == 1


def test_one_answer_per_browser_and_survey_within_the_period(client, session, link):
    assert answer(client, link).status_code == 200
    again = client.get(f"/l/{link.slug}")
    assert again.status_code == 200 and "bereits beantwortet" in again.text and "30 Tagen" in again.text
    second = client.post(f"/l/{link.slug}", data={"csrf_token": "x", "score": "5"})
    assert second.status_code == 400  # a form not from our page
    from surveys.forms import answer_form_token

    posted_again = client.post(
        f"/l/{link.slug}", data={"csrf_token": answer_form_token(f"public:{link.slug}"), "score": "5"}
    )
    assert posted_again.status_code == 409 and "bereits beantwortet" in posted_again.text
    client.set_cookie("kp_answered", "tampered", path="/l/")
    assert answer(client, link, "6").status_code == 200  # a forged cookie counts as none
    assert session.scalar(select(func.count()).select_from(Response)) == 2


def test_a_bot_filling_the_honeypot_gets_thanks_and_stores_nothing(client, session, link):
    trapped = answer(client, link, "0", website="http://spam.example")
    assert trapped.status_code == 200 and "Ihre Antwort wurde gespeichert" in trapped.text
    assert session.scalar(select(func.count()).select_from(Response)) == 0


def test_bad_input_is_refused_with_the_form_and_nothing_stored(client, session, link):
    off_scale = answer(client, link, "11")
    assert off_scale.status_code == 422 and 'class="error"' in off_scale.text
    bad_email = answer(client, link, "8", email="not an address")
    assert bad_email.status_code == 422 and "gültige E-Mail-Adresse" in bad_email.text
    assert 'value="not an address"' in bad_email.text  # what they typed stays
    assert session.scalar(select(func.count()).select_from(Response)) == 0
    assert client.get("/l/nope").status_code == 404
    link.active = False
    session.commit()
    assert client.get(f"/l/{link.slug}").status_code == 410
    link.active, link.expires_at = True, utcnow() - timedelta(minutes=1)
    session.commit()
    assert client.get(f"/l/{link.slug}").status_code == 410


def test_answers_over_a_networks_threshold_are_held_until_a_manager_accepts(client, session, link, app):
    app.config["ANONYMOUS_HOLD_AFTER"] = 3
    for n in range(5):  # five browsers behind one network (a cookie-less client each time)
        client.delete_cookie("kp_answered", path="/l/")
        assert answer(client, link, str(5 + n), ip=f"198.51.100.{n + 1}").status_code == 200
    client.delete_cookie("kp_answered", path="/l/")
    assert answer(client, link, "10", ip="192.0.2.9").status_code == 200  # another network is not held
    assert session.scalar(select(func.count()).select_from(Response)) == 4
    held = session.scalars(select(HeldAnswer).order_by(HeldAnswer.id)).all()
    assert [h.score for h in held] == [8, 9] and held[0].network == network_of("198.51.100.200")
    today = utcnow().date()
    assert sum(r.figure.n for r in by_channel(session, today, today, ReportFilter())) == 4

    sign_in(client, make_user(session, "chefin@example.com", "manager"))
    page = client.get("/surveys/held")
    assert page.status_code == 200 and "Ladentheke Filiale Mitte" in page.text
    assert (
        client.post(f"/surveys/held/{held[0].id}/accept", data={"csrf_token": csrf_token(page.text)}).status_code == 302
    )
    assert (
        client.post(f"/surveys/held/{held[1].id}/reject", data={"csrf_token": csrf_token(page.text)}).status_code == 302
    )
    assert (
        client.post(f"/surveys/held/{held[1].id}/accept", data={"csrf_token": csrf_token(page.text)}).status_code == 302
    )
    session.expire_all()
    assert [(h.accepted, h.response_id is not None) for h in held] == [(True, True), (False, False)]
    accepted = session.get(Response, held[0].response_id)
    assert (accepted.score, accepted.created_at) == (8, held[0].created_at)  # counted on the day it came
    assert sum(r.figure.n for r in by_channel(session, today, today, ReportFilter())) == 5
    agent = make_user(session, "agent@example.com", "agent")
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/queue").text)})
    sign_in(client, agent)
    assert client.get("/surveys/held").status_code == 403


def test_the_rate_limit_per_network_answers_429(client, session, link, app):
    app.config["ANONYMOUS_RATE_LIMIT"] = "2 per minute"
    codes = []
    for n in range(3):
        client.delete_cookie("kp_answered", path="/l/")
        codes.append(answer(client, link, "7", ip=f"203.0.113.{n + 10}").status_code)
    assert codes == [200, 200, 429]
    assert session.scalar(select(func.count()).select_from(Response)) == 2


def test_a_confirmed_address_ties_the_answer_to_its_customer(client, session, link, buy):
    buy(email="anna@example.com")
    done = answer(client, link, "10", email="Anna@Example.com")
    assert done.status_code == 200
    mail = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "confirm")).one()
    assert mail.recipient == "Anna@example.com"
    url = re.search(r"http\S+/l/confirm/\S+", mail.raw.replace("=\n", "")).group(0)
    path = url.split("127.0.0.1:5000", 1)[-1] if "127.0.0.1:5000" in url else url[url.index("/l/confirm/") :]
    stored = session.scalars(select(Response)).one()
    assert stored.customer_id is None
    ask = client.get(path)
    assert ask.status_code == 200 and stored.customer_id is None  # opening the link changes nothing
    confirmed = client.post(path)
    assert confirmed.status_code == 200 and "Ihrem Kundenkonto zugeordnet" in confirmed.text
    session.expire_all()
    customer_id = session.scalars(select(Response.customer_id)).one()
    assert customer_id is not None and session.scalar(select(func.count()).select_from(PendingAnswer)) == 1
    assert client.post(path[:-3] + "xyz").status_code == 400  # a broken link


def test_an_address_no_customer_has_keeps_the_answer_anonymous(client, session, link):
    answer(client, link, "9", email="stranger@example.com")
    mail = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "confirm")).one()
    path = re.search(r"/l/confirm/\S+", mail.raw.replace("=\n", "")).group(0)
    unknown = client.post(path)
    assert unknown.status_code == 200 and "bleibt Ihre Antwort anonym" in unknown.text
    assert session.scalars(select(Response.customer_id)).one() is None


def test_admins_create_and_close_links_with_a_poster_qr_code(client, session):
    import io

    import zxingcpp
    from PIL import Image

    survey = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    sign_in(client, make_user(session, "admin@example.com", "admin"))
    page = client.get(f"/surveys/{survey.id}/links")
    assert page.status_code == 200 and "No anonymous links yet" in page.text
    token = csrf_token(page.text)
    refused = client.post(f"/surveys/{survey.id}/links", data={"csrf_token": token, "label": "", "once_per_days": "0"})
    assert refused.status_code == 422
    created = client.post(
        f"/surveys/{survey.id}/links",
        data={"csrf_token": token, "label": "Plakat Eingang", "once_per_days": "7", "expires": "2099-12-31"},
    )
    assert created.status_code == 302
    link = session.scalars(select(PublicLink)).one()
    assert (link.label, link.once_per_days, link.ask_email) == ("Plakat Eingang", 7, False)
    assert link.expires_at == datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)
    png = client.get(f"/l/{link.slug}/qr.png?size=300")
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))
    assert code.text.endswith(f"/l/{link.slug}")
    assert client.post(f"/surveys/links/{link.id}/active", data={"csrf_token": token}).status_code == 302
    session.expire_all()
    assert session.get(PublicLink, link.id).active is False
    assert client.get(f"/l/{link.slug}").status_code == 410
