"""What an attacker tries from outside: redirects to another site, the product as a port scanner, formulas in CSV
files, and inputs that used to end in a 500."""

from __future__ import annotations

import pytest

from kundenpuls.redirects import local_path
from tests.conftest import csrf_token
from tests.feedback_helpers import PASSWORD, make_user

OFFSITE = [
    "////evil.com",
    "//evil.com",
    "///evil.com/x",
    "/\\evil.com",
    "\\\\evil.com",
    "/\t/evil.com",
    "/%0a/evil.com".replace("%0a", "\n"),
    "https://evil.com/",
    "javascript:alert(1)",
    "evil.com",
]


@pytest.mark.parametrize("target", OFFSITE)
def test_no_next_or_back_parameter_leads_off_the_site(target):
    assert local_path(target) is None


@pytest.mark.parametrize("target", ["/queue", "/cases/7?tab=notes", "/customers/3#suggestions"])
def test_a_path_on_the_site_is_kept(target):
    assert local_path(target) == target


@pytest.mark.parametrize("target", OFFSITE[:6])
def test_sign_in_with_an_offsite_next_lands_on_the_home_page(session, client, target):
    user = make_user(session, "agentin@example.com", "agent")
    token = csrf_token(client.get("/login").text)
    answer = client.post("/login", query_string={"next": target}, data={"email": user.email, "password": PASSWORD,
                                                                         "csrf_token": token})  # fmt: skip
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/", answer.headers["Location"]


def test_sign_in_keeps_a_next_on_the_site(session, client):
    user = make_user(session, "agentin@example.com", "agent")
    token = csrf_token(client.get("/login").text)
    data = {"email": user.email, "password": PASSWORD, "csrf_token": token}
    answer = client.post("/login", query_string={"next": "/queue?owner=me"}, data=data)
    assert answer.headers["Location"] == "/queue?owner=me"
