"""GET, POST and PATCH /api/v1/surveys: the admin form's rules, problem+json on every error, audited (issue 21)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from feedback import services as cases
from feedback.models import Case
from kundenpuls.audit import AuditEvent
from surveys.jobs import create_due_invitations
from surveys.models import Invitation, Survey
from surveys.services import submit_answer
from tests.feedback_helpers import answered, make_user


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    return response.get_json()


def fields(body: dict) -> set[str]:
    return {error["field"] for error in body["errors"]}


def test_a_ces_survey_after_resolved_cases_is_set_up_by_api_and_goes_out(session, api):
    made = api.post(
        "/api/v1/surveys",
        {"kind": "ces", "key": "ces-service", "name": "Aufwand nach dem Fall", "active": True, "quiet_days": 0,
         "texts": {"en": {"question": "How much do you agree: it was easy to get my issue sorted."}}},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    body = made.get_json()
    assert made.headers["Location"].endswith(f"/api/v1/surveys/{body['id']}")
    assert (body["kind"], body["trigger"], body["delay_days"], body["active"]) == ("ces", "case_resolved", 1, True)
    assert body["texts"]["en"]["question"] == "How much do you agree: it was easy to get my issue sorted."
    assert body["texts"]["de"]["label_7"] == "stimme voll und ganz zu"  # defaults kept where the body says nothing
    assert body["results"] == f"/api/v1/surveys/{body['id']}/results"
    created = session.scalars(select(AuditEvent).where(AuditEvent.entity == "survey", AuditEvent.action == "created"))
    [event] = created.all()
    assert event.actor_id is None and event.note.startswith("API key ")

    now = datetime.now(UTC)
    agent = make_user(session, "agent@example.com", "agent")
    case = answered(session, 1, 1, "nie wieder", now=now - timedelta(days=5))
    cases.set_root_cause(session, case, "delivery", agent, now - timedelta(days=4), None)
    cases.change_status(session, case, "resolved", agent, now - timedelta(days=2), None)
    session.commit()
    create_due_invitations(session, now)
    invitation = session.scalars(select(Invitation).where(Invitation.survey_id == body["id"])).one()
    response = submit_answer(session, invitation.token, 2, "drei Anrufe", now).response
    session.commit()
    assert session.scalars(select(Case.kind).where(Case.response_id == response.id)).one() == "hard"

    assert api.get(f"/api/v1/surveys/{body['id']}").get_json() == {**body}
    listed = api.get("/api/v1/surveys").get_json()["surveys"]
    assert [s["kind"] for s in listed] == ["nps", "churn", "ces"]


def test_patch_changes_only_what_it_names_and_is_audited(session, api):
    nps = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    before = api.get(f"/api/v1/surveys/{nps.id}").get_json()
    patched = api.patch(
        f"/api/v1/surveys/{nps.id}",
        {"delay_days": 5, "texts": {"de": {"thanks": "Danke!"}}, "audience": {"value_classes": ["A", "B"]}},
    )
    assert patched.status_code == 200, patched.text
    after = patched.get_json()
    assert (after["delay_days"], after["texts"]["de"]["thanks"]) == (5, "Danke!")
    assert after["audience"] == {"value_classes": ["A", "B"]}
    assert after["texts"]["en"] == before["texts"]["en"] and after["send_weekdays"] == before["send_weekdays"]
    event = session.scalars(select(AuditEvent).where(AuditEvent.entity == "survey", AuditEvent.entity_id == nps.id))
    [change] = event.all()
    assert change.before["delay_days"] == before["delay_days"] and change.after["de.thanks"] == "Danke!"
    everyone = api.patch(f"/api/v1/surveys/{nps.id}", {"audience": None})
    assert everyone.get_json()["audience"] is None


def test_every_bad_body_is_refused_with_the_forms_rules_and_nothing_changes(session, api):
    nps = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    churn = session.scalars(select(Survey).where(Survey.kind == "churn")).one()
    url = f"/api/v1/surveys/{nps.id}"
    assert fields(problem(api.patch(url, {"delay_days": "3"}), 422)) == {"delay_days"}  # strict types
    assert fields(problem(api.patch(url, {"delay_days": 400}), 422)) == {"delay_days"}  # the form's range
    assert fields(problem(api.patch(url, {"send_start": "18:00", "send_end": "08:00"}), 422)) == {"send_end"}
    assert fields(problem(api.patch(url, {"reminder_after_days": 40, "expiry_days": 30}), 422)) == {
        "reminder_after_days"
    }
    assert fields(problem(api.patch(url, {"texts": {"de": {"question": ""}}}), 422)) == {"texts.de.question"}
    assert fields(problem(api.patch(url, {"texts": {"de": {"label_3": "x"}}}), 422)) == {"texts.de.label_3"}
    assert fields(problem(api.patch(url, {"colour": "red"}), 422)) == {"colour"}
    assert fields(problem(api.patch(url, {"name": None}), 422)) == {"name"}
    assert fields(problem(api.patch(url, {"send_weekdays": []}), 422)) == {"send_weekdays"}
    assert fields(problem(api.patch(url, {"audience": {"phases": ["gone"]}}), 422)) == {"audience.phases.0"}
    churned = problem(api.patch(f"/api/v1/surveys/{churn.id}", {"trigger": "purchase"}), 422)
    assert fields(churned) == {"trigger"}
    assert problem(api.patch("/api/v1/surveys/999999", {"name": "x"}), 404)
    assert problem(api.post("/api/v1/surveys", {"kind": "churn", "key": "c2", "name": "x"}), 422)
    assert fields(problem(api.post("/api/v1/surveys", {"kind": "csat", "key": "Nope!", "name": "x"}), 422)) == {"key"}
    taken = api.post("/api/v1/surveys", {"kind": "csat", "key": nps.key, "name": "x"})
    assert fields(problem(taken, 409)) == {"key"}
    assert problem(api.post("/api/v1/surveys", data="{", content_type="application/json"), 400)
    session.expire_all()
    assert session.scalars(select(AuditEvent).where(AuditEvent.entity == "survey")).all() == []
    assert session.scalars(select(Survey.kind).order_by(Survey.id)).all() == ["nps", "churn"]


def test_follow_up_questions_by_api(session, api):
    made = api.post(
        "/api/v1/surveys",
        {"kind": "csat", "key": "csat-api", "name": "CSAT", "follow_up_questions": [
            {"type": "multiple", "label_de": "Was war das Problem?", "label_en": "What was the problem?",
             "show_to": ["dissatisfied"], "other_option": True,
             "choices": [{"de": "Wartezeit", "en": "Waiting time"}, {"de": "Freundlichkeit", "en": "Friendliness"}]},
            {"type": "text", "label_de": "Noch etwas?", "label_en": "Anything else?"},
        ]},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    survey = made.get_json()
    reasons, text = survey["follow_up_questions"]
    assert [c["key"] for c in reasons["choices"]] == ["waiting_time", "friendliness"]
    assert (reasons["show_to"], text["show_to"], text["type"]) == (["dissatisfied"], None, "text")

    changed = api.patch(
        f"/api/v1/surveys/{survey['id']}",
        {"follow_up_questions": [
            {"id": reasons["id"], "choices": [{"de": "Kompetenz", "en": "Expertise"}],
             "retire_choices": ["friendliness"]},
            {"id": text["id"], "retired": True},
        ]},
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    reasons, text = changed.get_json()["follow_up_questions"]
    assert [(c["key"], c["retired"]) for c in reasons["choices"]] == [
        ("waiting_time", False), ("friendliness", True), ("expertise", False),
    ]  # fmt: skip
    assert text["retired"] is True

    url = f"/api/v1/surveys/{survey['id']}"
    for body, field in (
        ({"follow_up_questions": [{"type": "rating", "label_de": "A", "label_en": "A", "show_to": ["promoter"]}]},
         "follow_up_questions.0.show_to"),
        ({"follow_up_questions": [{"id": 999999, "retired": True}]}, "follow_up_questions.0.id"),
        ({"follow_up_questions": [{"id": reasons["id"], "retire_choices": ["nope"]}]},
         "follow_up_questions.0.retire_choices"),
        ({"follow_up_questions": [{"id": reasons["id"], "label_en": "New wording"}]}, "follow_up_questions.0.id"),
    ):  # fmt: skip
        assert fields(problem(api.patch(url, body), 422)) == {field}
    four = [{"type": "text", "label_de": f"F{n}", "label_en": f"Q{n}"} for n in range(3)]
    assert fields(problem(api.patch(url, {"follow_up_questions": four}), 422)) == {"follow_up_questions.2.survey"}
    assert len(api.get(url).get_json()["follow_up_questions"]) == 2  # nothing of the refused bodies stayed
