"""CSV imports in the browser: the CLI's rules, counts, the failed rows to download; a wrong file loses nothing."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from customers.models import Customer, ImportRun, Purchase
from tests.conftest import csrf_token
from tests.feedback_helpers import PASSWORD, make_user, sign_in

PURCHASES = (
    "order_id;customer_external_id;email;amount;purchased_at;category\n"
    "A-1;K-1;anna@example.com;59,90;2026-10-01T10:00:00Z;Garten\n"
    "A-2;K-2;ben@example.com;abc;2026-10-02T10:00:00Z;Garten\n"
    "A-3;K-1;anna@example.com;12.50;2026-10-03T10:00:00Z;Haushalt\n"
    "A-4;K-3;not-an-address;10;2026-10-04T10:00:00Z;\n"
)


def upload(client, page: str, kind: str, text: str, name: str = "orders.csv"):
    data = {"csrf_token": csrf_token(page), "kind": kind, "file": (io.BytesIO(text.encode()), name)}
    return client.post("/settings/imports", data=data, content_type="multipart/form-data")


def test_an_admin_imports_purchases_and_downloads_the_failed_rows(session, client):
    sign_in(client, make_user(session, "leitung@example.com", "admin"))
    page = client.get("/settings/imports", headers={"Accept-Language": "en"}).text
    done = upload(client, page, "purchases", PURCHASES)
    assert done.status_code == 303
    result = client.get(done.headers["Location"], headers={"Accept-Language": "en"}).text
    figures = {name: int(value) for name, value in re.findall(r'data-figure="(\w+)">(\d+)<', result)}
    assert figures == {"created": 2, "unchanged": 0, "failed": 2}
    assert session.scalar(select(func.count()).select_from(Purchase)) == 2
    run = session.scalars(select(ImportRun)).one()
    errors = list(csv.reader(io.StringIO(client.get(f"/settings/imports/{run.id}/errors.csv").text)))
    assert errors[0][:3] == ["line", "error", "order_id"]
    assert [row[0] for row in errors[1:]] == ["3", "5"]  # file lines: the header is line 1
    assert errors[1][2:4] == ["A-2", "K-2"]  # the row as it was, to fix and import again

    again = upload(client, page, "purchases", PURCHASES)  # a second import of the same file changes nothing
    assert again.status_code == 303
    second = session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
    assert (second.created, second.unchanged, second.failed) == (0, 2, 2)
    assert session.scalar(select(func.count()).select_from(Purchase)) == 2


def test_customers_and_wrong_files_lose_nothing(session, client):
    sign_in(client, make_user(session, "leitung@example.com", "admin"))
    page = client.get("/settings/imports").text
    good = upload(client, page, "customers", "external_id,email,name\nK-9,nina@example.com,Nina Neu\n", "c.csv")
    assert good.status_code == 303
    assert session.scalars(select(Customer.name).where(Customer.external_id == "K-9")).one() == "Nina Neu"

    header = upload(client, page, "purchases", "id,mail\n1,a@example.com\n")
    assert header.status_code == 422 and "Wrong header, nothing imported" in header.text
    binary = client.post(
        "/settings/imports",
        data={"csrf_token": csrf_token(page), "kind": "purchases", "file": (io.BytesIO(b"\xff\xfe\x00x"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert binary.status_code == 422 and "UTF-8" in binary.text
    nothing = client.post("/settings/imports", data={"csrf_token": csrf_token(page), "kind": "purchases"})
    assert nothing.status_code == 422
    assert session.scalar(select(func.count()).select_from(ImportRun)) == 1


def test_only_admins_import(session, client):
    sign_in(client, make_user(session, "chefin@example.com", "manager"))
    assert client.get("/settings/imports").status_code == 403


@pytest.mark.browser
@pytest.mark.one_database
def test_the_upload_shows_progress_and_works_without_javascript(session, live_server, chromium, tmp_path):
    make_user(session, "leitung@example.com", "admin")
    path = tmp_path / "orders.csv"
    path.write_text(PURCHASES)
    held: list = []  # with the script, the upload is held until the bar has been seen

    def hold(route) -> None:
        held.append(route) if route.request.method == "POST" else route.continue_()

    for javascript in (True, False):
        context = chromium.new_context(viewport={"width": 360, "height": 800}, java_script_enabled=javascript)
        page = context.new_page()
        page.goto(f"{live_server}/login")
        page.get_by_label("Email").fill("leitung@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{live_server}/settings/imports")
        page.get_by_label("CSV file").set_input_files(path)
        if javascript:
            page.route("**/settings/imports", hold)
        page.get_by_role("button", name="Import", exact=True).click()
        if javascript:
            expect(page.locator("#import-progress")).to_be_visible()
            held[0].continue_()
        page.wait_for_url(re.compile(r".*/settings/imports/[0-9]+$"))
        expect(page.locator('[data-figure="failed"]')).to_have_text("2")
        context.close()
    runs = session.scalars(select(ImportRun).order_by(ImportRun.id)).all()
    assert [(r.created, r.unchanged) for r in runs] == [(2, 0), (0, 2)]
