"""A mail template filled in per recipient writes the message `compose` writes, byte for byte."""

from __future__ import annotations

import email
import random
import re

import pytest

from messaging.mail import compose
from messaging.mail_template import MailTemplate

HEADERS = ("List-Unsubscribe", "List-Unsubscribe-Post")
TOKEN, FREE = "tok0123456789abcdefTOK", "kpfree-marker-7f3a"
BOUNDARY = re.compile(r"={15}\d{19}==")


def _same(template: MailTemplate, recipient, message_id, headers, token, free_text, free_html) -> str:
    filled = template.fill(recipient, message_id, headers, token, free_text, free_html)
    text = template._bodies[0].body.replace(TOKEN, token).replace(FREE, free_text)
    html = template._bodies[1].body.replace(TOKEN, token).replace(FREE, free_html)
    expected = compose(recipient, template.subject, text, html, message_id, dict(zip(HEADERS, headers, strict=True)))
    assert BOUNDARY.sub("B", filled) == BOUNDARY.sub("B", expected)
    return filled


def _template(text: str, html: str, subject: str = "Wie zufrieden sind Sie?") -> MailTemplate:
    return MailTemplate(subject, HEADERS, text, html, TOKEN, FREE)


def _token(rng: random.Random) -> str:
    return "".join(rng.choices("ABCxyz019_-.", k=len(TOKEN)))


def test_survey_like_mail_with_tokens_across_soft_line_breaks(app):
    text = f"Guten Tag {FREE},\n\nBitte klicken:\n" + "".join(
        f"{n}: https://kundenpuls.test/s/{TOKEN}?score={n}\n" for n in range(11)
    )
    # HTML lines far longer than 76 characters, with "=" everywhere: the token lands on every wrapping position.
    html = "\n".join(
        f'<td>{"x" * pad}<a href="https://kundenpuls.test/s/{TOKEN}?score={pad}" style="a=b">{pad}</a></td>'
        for pad in range(0, 90)
    )
    html = f"<p>Hallo {FREE},</p>\n{html}\n<p>Grüße – Ihr Team</p>"
    template = _template(text, html)
    rng = random.Random(7)
    with app.app_context():
        for name in ("Anna Becker", "Jürgen Groß", "A=B & <C>", "Zoë 🌷 " * 20, "", "x" * 75, "Tab\there "):
            filled = _same(
                template,
                f"kunde{len(name)}@example.com",
                f"<kp.invitation.{len(name)}.0.abc@kundenpuls.test>",
                (f"<https://kundenpuls.test/u/{TOKEN}>", "List-Unsubscribe=One-Click"),
                _token(rng),
                name,
                name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
            )
        message = email.message_from_string(filled)
        assert message.get_payload()[1].get_payload(decode=True).decode().startswith("<p>Hallo Tab\there ,</p>")


def test_random_bodies_match_the_stdlib(app):
    """Lines of characters the encoder treats specially (space and tab at line ends, "=", non-ASCII, long runs)."""
    rng = random.Random(2026)
    alphabet = ["a", "Z", " ", "\t", "=", "ä", "€", ".", "-", "x" * 30, TOKEN, TOKEN, FREE]
    with app.app_context():
        for _ in range(60):
            lines = ["".join(rng.choices(alphabet, k=rng.randint(0, 25))) for _ in range(rng.randint(1, 8))]
            text, html = "\n".join(lines), "\n".join(reversed(lines)) + rng.choice(["", "\n", "\n\n"])
            template = _template(text, html, subject=rng.choice(["Hallo", "Grüße aus Köln"]))
            for _ in range(5):
                free = "".join(rng.choices(["b", " ", "=", "ö", "\n", "y" * 40], k=rng.randint(0, 6)))
                _same(template, "a@example.com", "<m@x>", ("<u>", "One"), _token(rng), free, free)


@pytest.mark.parametrize(
    "why, recipient, token, free",
    [
        ("a non-ASCII address", "jürgen@bücher.de", "A" * len(TOKEN), "Jürgen"),
        ("a token of another length", "a@example.com", "short", "Anna"),
        ("a token with '='", "a@example.com", "=" + "A" * (len(TOKEN) - 1), "Anna"),
        ("a CR ending the free part", "a@example.com", "A" * len(TOKEN), "Anna\r"),
    ],
)
def test_what_the_template_cannot_fill_is_composed_as_before(app, why, recipient, token, free):
    template = _template(f"Hallo {FREE}\nhttps://x/s/{TOKEN}\n", f"<p>{FREE}</p>\n<a href='https://x/s/{TOKEN}'>")
    with app.app_context():
        _same(template, recipient, "<m@x>", (f"<https://x/u/{token}>", "One"), token, free, free)


def test_each_message_draws_its_own_boundary(app):
    template = _template(f"Hallo {FREE}\n{TOKEN}", f"<p>{FREE}</p><p>{TOKEN}</p>")
    with app.app_context():
        one, two = (template.fill("a@example.com", "<m@x>", ("<u>", "One"), TOKEN, "A", "A") for _ in range(2))
    assert BOUNDARY.findall(one)[0] != BOUNDARY.findall(two)[0]
    assert BOUNDARY.sub("B", one) == BOUNDARY.sub("B", two)
    assert [part.get_content_type() for part in email.message_from_string(one).walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]


def test_a_token_marker_the_encoder_would_change_is_refused(app):
    with app.app_context(), pytest.raises(ValueError):
        MailTemplate("S", HEADERS, "a", "b", "tok=en", FREE)
