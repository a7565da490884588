"""Staff accounts in the browser's forms: invite by mail, set the password once, change a role, deactivate (signed
out at once), each audited; the last admin stays."""

from __future__ import annotations

import re
import time
from email import message_from_string, policy

from flask import g
from sqlalchemy import select

from kundenpuls.audit import trail
from kundenpuls.models import User
from messaging.models import OutboxMessage
from tests.conftest import csrf_token
from tests.feedback_helpers import PASSWORD, make_user, sign_in

GOOD = "linden harbour quietly copper"


def invited_link(session, email: str) -> str:
    mail = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == email)).one()
    assert mail.kind == "staff_invite"
    text = message_from_string(mail.raw, policy=policy.default).get_body(("plain",)).get_content()
    return re.search(r"https?://\S+/set-password/\S+", text).group(0)


def test_an_admin_invites_a_colleague_who_sets_a_password_once(session, client, app):
    admin = make_user(session, "leitung@example.com", "admin", "Lea Leitung")
    sign_in(client, admin)
    page = client.get("/settings/users", headers={"Accept-Language": "en"}).text
    form = {"csrf_token": csrf_token(page), "email": "neu@example.com", "name": "Nina Neu", "role": "manager"}
    assert client.post("/settings/users", data=form).status_code == 302
    assert client.post("/settings/users", data=form).status_code == 422  # the address has an account now
    bad = client.post("/settings/users", data={**form, "email": "not an address"})
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    user = session.scalars(select(User).where(User.email == "neu@example.com")).one()
    assert (user.role, user.name, user.active) == ("manager", "Nina Neu", True)
    link = invited_link(session, "neu@example.com")
    path = link.split(app.config["BASE_URL"], 1)[1]
    client.post("/logout", data={"csrf_token": csrf_token(page)})

    shown = client.get(path)
    assert shown.status_code == 200 and "neu@example.com" in shown.text
    token = csrf_token(shown.text)
    weak = client.post(path, data={"csrf_token": token, "password": "password1234", "repeat": "password1234"})
    assert weak.status_code == 422 and "too common" in weak.text
    differ = client.post(path, data={"csrf_token": token, "password": GOOD, "repeat": GOOD + "x"})
    assert differ.status_code == 422
    assert client.post(path, data={"csrf_token": token, "password": GOOD, "repeat": GOOD}).status_code == 302
    assert client.get(path).status_code == 410  # used: the link works once

    login = client.get("/login").text
    signed = client.post("/login", data={"email": "neu@example.com", "password": GOOD, "csrf_token": csrf_token(login)})
    assert signed.status_code == 302
    assert [e.action for e in trail(session, "user", user.id)] == ["invited", "password_set"]


def test_a_link_expires_and_a_forged_one_is_refused(session, client, app, monkeypatch):
    from kundenpuls.staff import INVITE_HOURS, set_password_token

    user = make_user(session, "neu@example.com", "agent")
    with app.test_request_context():
        token = set_password_token(user)
    assert client.get(f"/set-password/{token[:-2]}xx").status_code == 410
    later = time.time() + INVITE_HOURS * 3600 + 60
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    expired = client.get(f"/set-password/{token}", headers={"Accept-Language": "en"})
    assert expired.status_code == 410 and "valid for a few days only" in expired.text


def test_roles_change_deactivation_signs_out_at_once_and_the_last_admin_stays(session, client, app):
    admin = make_user(session, "leitung@example.com", "admin")
    agent = make_user(session, "agentin@example.com", "agent")
    other = app.test_client()

    def as_(browser):
        """The tests' requests share one app context, where Flask-Login keeps the last request's user and
        Flask-WTF its CSRF token: forget both when the other browser speaks."""
        g.pop("_login_user", None)
        g.pop("csrf_token", None)
        return browser

    sign_in(as_(other), agent)
    assert as_(other).get("/queue").status_code == 200

    sign_in(as_(client), admin)
    token = csrf_token(client.get("/settings/users").text)
    role = as_(client).post(f"/settings/users/{agent.id}/role", data={"csrf_token": token, "role": "manager"})
    assert role.status_code == 302
    assert as_(other).get("/reports/nps").status_code == 200  # the new role counts on the next request
    off = as_(client).post(f"/settings/users/{agent.id}/active", data={"csrf_token": token, "active": "0"})
    assert off.status_code == 302
    assert as_(other).get("/queue").status_code == 302  # signed out at once: back to the sign-in page
    login = as_(other).get("/login").text
    again = {"email": agent.email, "password": PASSWORD, "csrf_token": csrf_token(login)}
    assert as_(other).post("/login", data=again).status_code == 401

    self_off = as_(client).post(f"/settings/users/{admin.id}/active", data={"csrf_token": token, "active": "0"})
    assert self_off.status_code == 422 and "your own account" in self_off.text
    demote = as_(client).post(f"/settings/users/{admin.id}/role", data={"csrf_token": token, "role": "agent"})
    assert demote.status_code == 422 and "at least one active admin" in demote.text
    session.refresh(admin)
    assert admin.role == "admin" and admin.active
    assert [e.action for e in trail(session, "user", agent.id)] == ["role_changed", "deactivated"]

    sign_in(as_(other), make_user(session, "chefin@example.com", "manager"))
    assert as_(other).get("/settings/users").status_code == 403
