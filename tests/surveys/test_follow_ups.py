"""Follow-up questions: asked per class after the score, as one more step without JavaScript or inline with it;
the score is stored first; choices are retired, never deleted (issue 21)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from kundenpuls.audit import AuditEvent
from surveys.follow_up_settings import QuestionInvalid, QuestionSpec, add_question, retire_choice, retire_question
from surveys.follow_ups import FollowUpAnswer, FollowUpQuestion, answers_of
from surveys.jobs import create_due_invitations
from surveys.models import Invitation, Response, Survey
from surveys.settings import create_survey
from tests.conftest import csrf_token


@pytest.fixture
def csat(session):
    """An active CSAT survey after purchases, with a reason question for the dissatisfied and a rating for all."""
    now = datetime.now(UTC)
    survey = create_survey(session, "Zufriedenheit", "csat", None, now, kind="csat")
    survey.active, survey.trigger, survey.delay_days = True, "purchase", 3
    for other in session.scalars(select(Survey).where(Survey.id != survey.id)):
        other.active = False
    reasons = add_question(
        session, survey,
        QuestionSpec("multiple", "Was lief nicht gut?", "What went wrong?", ["dissatisfied", "neutral"], True,
                     [("Lieferzeit", "Delivery time"), ("Preis", "Price"), ("Beratung", "Advice")]),
        None, now,
    )  # fmt: skip
    rating = add_question(session, survey, QuestionSpec("rating", "Wie schnell?", "How fast?"), None, now)
    session.commit()
    return survey, reasons, rating


@pytest.fixture
def invitation(session, buy, csat):
    now = datetime.now(UTC)
    buy(purchased_at=now - timedelta(days=3, hours=1))
    create_due_invitations(session, now)
    return session.scalars(select(Invitation).where(Invitation.survey_id == csat[0].id)).one()


def choice_ids(question) -> dict[str, int]:
    return {choice.key: choice.id for choice in question.choices}


def test_without_javascript_the_questions_for_the_class_follow_the_stored_score(client, session, csat, invitation):
    _survey, reasons, rating = csat
    page = client.get(f"/s/{invitation.token}")
    # All questions are on the page for JavaScript to show; hidden until a score is chosen.
    assert page.text.count("data-show-to=") == 2 and 'data-show-to="neutral dissatisfied" hidden' in page.text
    posted = client.post(f"/s/{invitation.token}", data={"csrf_token": csrf_token(page.text), "score": "2"})
    assert posted.status_code == 200
    assert "Was lief nicht gut?" in posted.text and "Wie schnell?" in posted.text
    stored = session.scalars(select(Response)).one()  # the score is in before any follow-up answer
    assert stored.score == 2

    ids = choice_ids(reasons)
    more = client.post(
        f"/s/{invitation.token}/more",
        data={"csrf_token": csrf_token(posted.text), f"q{reasons.id}": [str(ids["delivery_time"]), str(ids["price"])],
              f"q{reasons.id}_other": "Verpackung kaputt", f"q{rating.id}": "2"},
    )  # fmt: skip
    assert more.status_code == 200 and "Vielen Dank" in more.text
    [given] = answers_of(session, [stored.id]).values()
    assert given[0]["choices"] == [
        {"key": "delivery_time", "de": "Lieferzeit", "en": "Delivery time"},
        {"key": "price", "de": "Preis", "en": "Price"},
    ]
    assert given[0]["text"] == "Verpackung kaputt" and given[1]["rating"] == 2
    again = client.post(f"/s/{invitation.token}/more", data={"csrf_token": csrf_token(posted.text),
                                                             f"q{rating.id}": "5"})  # fmt: skip
    assert again.status_code == 200
    assert len(session.scalars(select(FollowUpAnswer)).all()) == 4  # once only


def test_a_satisfied_answer_sees_only_the_question_for_everyone(client, session, csat, invitation):
    _survey, reasons, rating = csat
    page = client.get(f"/s/{invitation.token}")
    posted = client.post(f"/s/{invitation.token}", data={"csrf_token": csrf_token(page.text), "score": "5"})
    assert "Wie schnell?" in posted.text and "Was lief nicht gut?" not in posted.text
    # A choice of a question this answer was not shown is not stored.
    ids = choice_ids(reasons)
    client.post(f"/s/{invitation.token}/more", data={"csrf_token": csrf_token(posted.text),
                                                     f"q{reasons.id}": str(ids["price"])})  # fmt: skip
    assert session.scalars(select(FollowUpAnswer)).all() == []


def test_with_javascript_the_answers_come_with_the_score(client, session, csat, invitation):
    _survey, reasons, rating = csat
    page = client.get(f"/s/{invitation.token}")
    ids = choice_ids(reasons)
    posted = client.post(
        f"/s/{invitation.token}",
        data={"csrf_token": csrf_token(page.text), "score": "1", "follow_ups_inline": "1",
              f"q{reasons.id}": str(ids["advice"]), f"q{rating.id}": "4"},
    )  # fmt: skip
    assert posted.status_code == 200 and "Vielen Dank" in posted.text
    response = session.scalars(select(Response)).one()
    assert [a["question_id"] for a in answers_of(session, [response.id])[response.id]] == [reasons.id, rating.id]


def test_bad_follow_up_answers_get_the_step_again_and_the_score_stays(client, session, csat, invitation):
    _survey, reasons, rating = csat
    page = client.get(f"/s/{invitation.token}")
    posted = client.post(
        f"/s/{invitation.token}",
        data={"csrf_token": csrf_token(page.text), "score": "2", "follow_ups_inline": "1",
              f"q{reasons.id}": "999999", f"q{rating.id}": "9"},
    )  # fmt: skip
    assert posted.status_code == 422
    assert "Bitte wählen Sie eine der angebotenen Antworten." in posted.text
    assert "Bitte wählen Sie von 1 bis 5." in posted.text
    assert session.scalars(select(Response.score)).one() == 2
    assert session.scalars(select(FollowUpAnswer)).all() == []
    forged = client.post(f"/s/{invitation.token}/more", data={"csrf_token": "x", f"q{rating.id}": "3"})
    assert forged.status_code == 400
    assert client.post("/s/unknown-token/more", data={"csrf_token": "x"}).status_code in (400, 404)


def test_retired_choices_and_questions_are_no_longer_offered_but_answers_keep_them(client, session, csat, invitation):
    survey, reasons, rating = csat
    now = datetime.now(UTC)
    page = client.get(f"/s/{invitation.token}")
    ids = choice_ids(reasons)
    client.post(
        f"/s/{invitation.token}",
        data={"csrf_token": csrf_token(page.text), "score": "1", "follow_ups_inline": "1",
              f"q{reasons.id}": str(ids["price"])},
    )  # fmt: skip
    price = next(c for c in reasons.choices if c.key == "price")
    retire_choice(session, price, None, now)
    retire_question(session, rating, None, now)
    session.commit()
    assert [c.key for c in reasons.offered] == ["delivery_time", "advice"]
    with pytest.raises(QuestionInvalid):
        retire_choice(session, reasons.offered[0], None, now)  # two must stay on offer
    response = session.scalars(select(Response)).one()
    assert answers_of(session, [response.id])[response.id][0]["choices"][0]["key"] == "price"
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.entity == "survey")).all()
    assert {"question added", "choice retired", "question retired"} <= set(actions)


def test_the_rules_for_questions(session, csat):
    survey, _, _ = csat
    now = datetime.now(UTC)
    add_question(session, survey, QuestionSpec("text", "Noch etwas?", "Anything else?"), None, now)
    with pytest.raises(QuestionInvalid, match="at most 3"):
        add_question(session, survey, QuestionSpec("text", "Vier?", "Four?"), None, now)
    nps = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    for spec, field in (
        (QuestionSpec("single", "Eins", "One", choices=[("a", "a")]), "choices"),
        (QuestionSpec("single", "Eins", "One", ["dissatisfied"], choices=[("a", "a"), ("b", "b")]), "show_to"),
        (QuestionSpec("text", "", "One"), "label_de"),
        (QuestionSpec("rating", "Eins", "One", other_option=True), "other_option"),
        (QuestionSpec("poll", "Eins", "One"), "type"),
    ):
        with pytest.raises(QuestionInvalid) as failed:
            add_question(session, nps, spec, None, now)
        assert field in failed.value.errors
    sizes = QuestionSpec("single", "A", "Größe?", choices=[("x", "Zu groß!"), ("y", "Zu groß")])
    keys = add_question(session, nps, sizes, None, now)
    assert [c.key for c in keys.choices] == ["zu_gro", "zu_gro_2"]
    assert re.fullmatch(r"[a-z0-9_]+", keys.choices[0].key)


def test_an_admin_adds_a_question_on_surveys_sees_it_in_the_preview_and_retires_it(client, session, csat):
    from tests.feedback_helpers import make_user, sign_in

    survey, reasons, rating = csat
    retire_question(session, rating, None, datetime.now(UTC))
    session.commit()
    sign_in(client, make_user(session, "admin@example.com", "admin"))
    assert "Follow-up questions" in client.get(f"/surveys/{survey.id}").text
    page = client.get(f"/surveys/{survey.id}/questions")
    assert page.status_code == 200 and "What went wrong?" in page.text
    bad = client.post(
        f"/surveys/{survey.id}/questions",
        data={"csrf_token": csrf_token(page.text), "type": "single", "label_de": "Kanal?", "label_en": "Channel?",
              "choices": "Telefon | Phone"},
    )  # fmt: skip
    assert bad.status_code == 422 and "2 to 12 choices" in bad.text
    added = client.post(
        f"/surveys/{survey.id}/questions",
        data={"csrf_token": csrf_token(page.text), "type": "single", "label_de": "Wie hatten Sie Kontakt?",
              "label_en": "How did you contact us?", "show_to": ["dissatisfied"],
              "choices": "Telefon | Phone\nE-Mail | Email\nChat | Chat"},
    )  # fmt: skip
    assert added.status_code == 302, added.text
    question = session.scalars(select(FollowUpQuestion).where(FollowUpQuestion.label_en.like("How did%"))).one()
    assert question.show_to == ["dissatisfied"] and [c.key for c in question.choices] == ["phone", "email", "chat"]
    preview = client.get(f"/surveys/{survey.id}/preview/page?locale=de")
    assert "Wie hatten Sie Kontakt?" in preview.text and "Telefon" in preview.text
    assert "Wie schnell?" not in preview.text  # retired

    more = client.post(
        f"/surveys/{survey.id}/questions/{question.id}/choices",
        data={"csrf_token": csrf_token(page.text), "label_de": "Filiale", "label_en": "In the shop"},
    )
    assert more.status_code == 302
    session.expire_all()
    assert [c.key for c in session.get(FollowUpQuestion, question.id).offered][-1] == "in_the_shop"
    gone = client.post(
        f"/surveys/{survey.id}/questions/{question.id}/retire", data={"csrf_token": csrf_token(page.text)}
    )
    assert gone.status_code == 302
    session.expire_all()
    assert session.get(FollowUpQuestion, question.id).retired_at is not None
    assert "Wie hatten Sie Kontakt?" not in client.get(f"/surveys/{survey.id}/preview/page?locale=de").text


def test_follow_ups_reach_the_api_webhooks_the_case_the_export_and_erasure(client, session, api, csat, invitation):
    import json

    from customers.models import Customer
    from customers.privacy import erase_customer, export_customer
    from feedback.models import Case
    from integrations.events import forget_endpoints
    from integrations.models import WebhookDelivery, WebhookEndpoint
    from tests.feedback_helpers import make_user, sign_in

    _survey, reasons, rating = csat
    session.add(WebhookEndpoint(url="http://127.0.0.1:9/hook", secret="s" * 32, events=",response.follow_ups,",
                                active=True, created_at=datetime.now(UTC)))  # fmt: skip
    session.commit()
    forget_endpoints()
    page = client.get(f"/s/{invitation.token}")
    ids = choice_ids(reasons)
    client.post(
        f"/s/{invitation.token}",
        data={"csrf_token": csrf_token(page.text), "score": "1", "follow_ups_inline": "1",
              f"q{reasons.id}": str(ids["price"]), f"q{reasons.id}_other": "Anruf bei Frau Meier",
              f"q{rating.id}": "1"},
    )  # fmt: skip
    forget_endpoints()
    response = session.scalars(select(Response)).one()

    exported = api.get("/api/v1/responses").get_json()["responses"][0]
    assert (exported["class"], exported["nps_class"]) == ("dissatisfied", None)
    given = [(f["type"], f["choices"] and f["choices"][0]["key"], f["text"], f["rating"])
             for f in exported["follow_ups"]]  # fmt: skip
    assert given == [
        ("multiple", "price", "Anruf bei Frau Meier", None), ("rating", [], None, 1),
    ]  # fmt: skip
    delivery = session.scalars(select(WebhookDelivery)).one()
    payload = json.loads(delivery.payload) if isinstance(delivery.payload, str) else delivery.payload
    assert payload["type"] == "response.follow_ups"
    assert payload["data"]["follow_ups"][0]["text"] == "Anruf bei Frau Meier"

    case = session.scalars(select(Case).where(Case.response_id == response.id)).one()
    sign_in(client, make_user(session, "agent@example.com", "agent"))
    shown = client.get(f"/cases/{case.id}").text
    assert "data-follow-ups" in shown and "Anruf bei Frau Meier" in shown

    customer = session.get(Customer, response.customer_id)
    assert export_customer(session, customer, datetime.now(UTC))["responses"][0]["follow_ups"][1]["rating"] == 1
    erased = erase_customer(session, customer, None, datetime.now(UTC))
    session.commit()
    assert erased["follow_up_texts"] == 1
    kept = answers_of(session, [response.id])[response.id]
    assert kept[0]["text"] is None and kept[0]["choices"][0]["key"] == "price" and kept[1]["rating"] == 1
