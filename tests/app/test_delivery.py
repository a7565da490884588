"""Delivery: compressed text responses, static files under content-hashed names cached for a year, a favicon."""

from __future__ import annotations

import gzip
import os
import re

import brotli

from kundenpuls.static_files import hashed_name
from tests.feedback_helpers import make_user, sign_in


def test_pages_and_api_answers_are_compressed_for_browsers_that_ask(client):
    plain = client.get("/login")
    assert "Content-Encoding" not in plain.headers
    br = client.get("/login", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert br.headers["Content-Encoding"] == "br"
    assert "Accept-Encoding" in br.headers["Vary"]
    assert len(br.data) < len(plain.data) / 2
    # The same page apart from the per-response CSRF token.
    same = re.compile(rb'name="csrf_token" value="[^"]+"')
    assert same.sub(b"", brotli.decompress(br.data)) == same.sub(b"", plain.data)

    zipped = client.get("/login", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert b"<html" in gzip.decompress(zipped.data)

    spec = client.get("/api/v1/openapi.json", headers={"Accept-Encoding": "br"})
    assert spec.headers["Content-Encoding"] == "br"
    assert brotli.decompress(spec.data).startswith(b"{")
    problem = client.get("/api/v1/customers/C-1?" + "x" * 600, headers={"Accept-Encoding": "gzip"})
    assert problem.status_code == 401
    assert problem.headers["Content-Type"].startswith("application/problem+json")


def fetch(client, path: str):
    """A static file's response, read and closed (the test client leaves a file response open otherwise)."""
    with client.get(path) as response:
        response.get_data()
        return response


def test_the_stylesheet_has_a_hashed_name_and_a_year_of_caching(client, app, session):
    page = client.get("/login").text
    href = re.search(r'<link rel="stylesheet" href="([^"]+)"', page).group(1)
    assert re.fullmatch(r"/static/app\.[0-9a-f]{12}\.css", href)
    css = fetch(client, href)
    assert css.status_code == 200
    assert css.cache_control.max_age == 31536000
    assert css.cache_control.immutable and css.cache_control.public
    with open(f"{app.static_folder}/app.css", "rb") as source:
        assert css.data == source.read()
    squeezed = client.get(href, headers={"Accept-Encoding": "gzip, br"})
    assert squeezed.headers["Content-Encoding"] == "br" and "Accept-Encoding" in squeezed.headers["Vary"]
    assert brotli.decompress(squeezed.data) == css.data and len(squeezed.data) < len(css.data) / 3
    again = client.get(href, headers={"Accept-Encoding": "gzip", "If-None-Match": css.headers["ETag"]})
    assert again.status_code == 200 and gzip.decompress(again.data) == css.data  # another encoding, another ETag
    unchanged = client.get(href, headers={"Accept-Encoding": "gzip", "If-None-Match": again.headers["ETag"]})
    assert unchanged.status_code == 304

    # A page cached before a deploy names an old hash: it gets today's file, revalidated, not kept a year.
    stale = fetch(client, "/static/app.000000000000.css")
    assert stale.status_code == 200 and stale.data == css.data
    assert not stale.cache_control.immutable and not stale.cache_control.max_age
    plain = fetch(client, "/static/app.css")
    assert plain.status_code == 200 and not plain.cache_control.immutable
    assert fetch(client, "/static/nothing.0123456789ab.css").status_code == 404
    assert fetch(client, "/static/../kundenpuls/config.py").status_code == 404

    # Staff pages name it the same way; the icon is linked on every page.
    sign_in(client, make_user(session, "delivery@example.com", "admin"))
    home = client.get("/").text
    assert href in home
    assert re.search(r'<link rel="icon" href="/static/favicon\.[0-9a-f]{12}\.svg"', home)


def test_a_changed_file_gets_a_new_name(tmp_path):
    (tmp_path / "site.css").write_text("body { color: red }")
    first = hashed_name(str(tmp_path), "site.css")
    (tmp_path / "site.css").write_text("body { color: blue }")
    os.utime(tmp_path / "site.css", (1, 1))
    second = hashed_name(str(tmp_path), "site.css")
    assert first != second
    assert re.fullmatch(r"site\.[0-9a-f]{12}\.css", second)
    assert hashed_name(str(tmp_path), "missing.css") == "missing.css"
    assert hashed_name(str(tmp_path), "../etc/passwd") == "../etc/passwd"


def test_favicon(client):
    icon = fetch(client, "/favicon.ico")
    assert icon.status_code == 200
    assert icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert icon.cache_control.max_age == 86400
