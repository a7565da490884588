"""CSAT and effort (CES) surveys after a resolved case: set up on /surveys, mailed with a labelled one-click link per
point, answered on the real page, dissatisfied answers open cases, counted by their own classes (issue 21)."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import refresh
from sqlalchemy import select

from analytics.models import NpsDaily
from analytics.rollup import disagreements, rebuild
from feedback import services as cases
from feedback.models import Case
from messaging.models import OutboxMessage
from retention.answers import apply_answers
from retention.models import CustomerSegment
from surveys.forms import answer_form_token
from surveys.jobs import create_due_invitations
from surveys.models import Invitation, Response, Survey
from tests.conftest import csrf_token
from tests.feedback_helpers import answered, make_user, sign_in


def _resolved_case(session, agent, n: int, now: datetime) -> Case:
    """Customer n answers NPS 2 ten days ago; an agent resolves the case three days ago."""
    case = answered(session, n, 2, "kaputt", now=now - timedelta(days=10))
    cases.set_root_cause(session, case, "delivery", agent, now - timedelta(days=9), None)
    cases.change_status(session, case, "resolved", agent, now - timedelta(days=3), None)
    session.commit()
    return case


def _create(client, name: str, key: str, kind: str) -> Survey:
    page = client.get("/surveys")
    assert "CSAT: how satisfied, 1–5" in page.text
    made = client.post("/surveys", data={"csrf_token": csrf_token(page.text), "name": name, "key": key, "kind": kind})
    assert made.status_code == 302, made.text
    return int(made.headers["Location"].rsplit("/", 1)[1])


def _activate(client, session, survey_id: int, **changes) -> Survey:
    from tests.surveys.test_audience import _fields

    page = client.get(f"/surveys/{survey_id}")
    form = _fields(page.text)
    form.update({"csrf_token": csrf_token(page.text), "active": "y", "quiet_days": "0", **changes})
    saved = client.post(f"/surveys/{survey_id}", data=form)
    assert saved.status_code == 302, saved.text
    session.expire_all()
    return session.get(Survey, survey_id)


@pytest.fixture
def admin_client(client, session):
    return sign_in(client, make_user(session, "admin@example.com", "admin"))


def test_a_csat_survey_after_resolved_cases_is_set_up_mailed_answered_and_counted(admin_client, session):
    client, now = admin_client, datetime.now(UTC)
    agent = make_user(session, "agent@example.com", "agent")
    case = _resolved_case(session, agent, 1, now)
    survey = _activate(client, session, _create(client, "Zufriedenheit Service", "csat-service", "csat"))
    assert (survey.kind, survey.trigger, survey.delay_days) == ("csat", "case_resolved", 1)
    assert survey.texts["de"]["label_5"] == "sehr zufrieden"

    create_due_invitations(session, now)
    invitation = session.scalars(select(Invitation).where(Invitation.survey_id == survey.id)).one()
    assert invitation.case_id == case.id

    mail = session.scalars(select(OutboxMessage).where(OutboxMessage.invitation_id == invitation.id)).one()
    message = email.message_from_bytes(mail.raw if isinstance(mail.raw, bytes) else mail.raw.encode())
    text = next(part for part in message.walk() if part.get_content_type() == "text/plain")
    body = text.get_payload(decode=True).decode()
    links = re.findall(r"^(\d) \(([^)]+)\): (\S+)$", body, re.M)
    assert [(n, label) for n, label, _url in links] == [
        ("1", "sehr unzufrieden"), ("2", "unzufrieden"), ("3", "weder noch"), ("4", "zufrieden"),
        ("5", "sehr zufrieden"),
    ]  # fmt: skip
    assert all(url.endswith(f"/s/{invitation.token}?score={n}") for n, _label, url in links)

    page = client.get(f"/s/{invitation.token}?score=2")
    assert page.status_code == 200
    assert "Wie zufrieden waren Sie mit der Bearbeitung Ihres Anliegens?" in page.text
    assert re.findall(r'name="score" data-class="[a-z]+" value="(\d+)"', page.text) == ["1", "2", "3", "4", "5"]
    assert 'value="2" required checked' in page.text and "<b>2</b> unzufrieden" in page.text

    token = csrf_token(page.text)
    refresh()  # the test's one app context cached the signed-in admin's language; a customer has their own
    off = client.post(f"/s/{invitation.token}", data={"csrf_token": token, "score": "9", "comment": "x"})
    assert off.status_code == 422
    assert "Bitte wählen Sie einen Wert von 1 bis 5." in off.text
    session.expire_all()
    assert session.get(Invitation, invitation.id).status == "pending"

    done = client.post(f"/s/{invitation.token}", data={"csrf_token": token, "score": "2", "comment": "zu langsam"})
    assert done.status_code == 200
    response = session.scalars(select(Response).where(Response.survey_id == survey.id)).one()
    opened = session.scalars(select(Case).where(Case.response_id == response.id)).one()
    assert (opened.kind, opened.score) == ("dissatisfied", 2)
    assert opened.priority_reasons[0] == ["dissatisfied", 21, 2]  # 42 points at 1, half of them at 2

    # The rollup counts the answer in CSAT's classes (satisfied, neutral, dissatisfied) with its score sums.
    row = session.scalars(select(NpsDaily).where(NpsDaily.survey_id == survey.id)).one()
    assert (row.promoters, row.passives, row.detractors, row.score_sum, row.score_squares) == (0, 0, 1, 2, 4)
    assert disagreements(session) == 0
    rebuild(session)
    row = session.scalars(select(NpsDaily).where(NpsDaily.survey_id == survey.id)).one()
    assert (row.detractors, row.score_sum, row.score_squares) == (1, 2, 4)

    # The customer's satisfaction stays their latest NPS answer (a detractor's 2), not the CSAT answer.
    apply_answers(session, now)
    segment = session.get(CustomerSegment, response.customer_id)
    assert (segment.satisfaction, segment.score) == ("detractor", 2)


@pytest.mark.parametrize(("score", "case_kind"), [(1, "hard"), (3, "hard"), (4, None), (7, None)])
def test_an_effort_answer_opens_a_case_only_when_it_was_hard(admin_client, session, score, case_kind):
    client, now = admin_client, datetime.now(UTC)
    agent = make_user(session, "agent@example.com", "agent")
    _resolved_case(session, agent, 1, now)
    survey = _activate(client, session, _create(client, "Aufwand", "ces-service", "ces"))
    create_due_invitations(session, now)
    invitation = session.scalars(select(Invitation).where(Invitation.survey_id == survey.id)).one()

    page = client.get(f"/s/{invitation.token}")
    assert re.findall(r'name="score" data-class="[a-z]+" value="(\d+)"', page.text) == [str(n) for n in range(1, 8)]
    assert "<b>7</b> stimme voll und ganz zu" in page.text
    posted = client.post(f"/s/{invitation.token}", data={"csrf_token": csrf_token(page.text), "score": str(score)})
    assert posted.status_code == 200
    response = session.scalars(select(Response).where(Response.survey_id == survey.id)).one()
    opened = session.scalars(select(Case).where(Case.response_id == response.id)).one_or_none()
    assert (opened.kind if opened else None) == case_kind
    row = session.scalars(select(NpsDaily).where(NpsDaily.survey_id == survey.id)).one()
    assert (row.promoters, row.passives, row.detractors) == (score >= 5, score == 4, score <= 3)


def test_a_score_posted_to_a_churn_link_is_refused_and_nothing_is_stored(session, api, buy, client):
    """The answer form's token is derived from the invitation alone; a score forged onto a churn survey's link
    fails the scale check in the answer's SQL and gets the churn form back."""
    from tests.surveys.test_churn import answer_page

    invitation, _page, _token = answer_page(client, session, api, buy)
    forged = client.post(
        f"/s/{invitation.token}", data={"csrf_token": answer_form_token(invitation.token), "score": "3"}
    )
    assert forged.status_code == 422
    assert "Why" in forged.text or "Warum" in forged.text
    session.expire_all()
    assert session.get(Invitation, invitation.id).status != "answered"
    assert session.scalars(select(Response)).all() == []


def test_the_token_names_a_csat_or_effort_survey_so_a_satisfied_answer_needs_no_case_check():
    from feedback.services import may_need_case
    from surveys.models import kind_in_token, new_token

    assert kind_in_token(new_token("csat")) == "csat" and kind_in_token(new_token("ces")) == "ces"
    assert kind_in_token(new_token("nps")) is None and kind_in_token(new_token()) is None
    assert kind_in_token("csatX.abc") is None and kind_in_token("nps.abc") is None
    # CSAT 4 is satisfied, but as NPS a detractor: only a token that names the kind can tell.
    assert not may_need_case(4, None, "csat") and may_need_case(4, None, None)
    assert may_need_case(2, None, "csat") and may_need_case(3, "slow", "csat") and not may_need_case(3, None, "csat")
    assert not may_need_case(7, "great", "ces") and may_need_case(3, None, "ces")
    assert [may_need_case(s, None) for s in (0, 6, 7, 10)] == [True, True, False, False]  # NPS as before
