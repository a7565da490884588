"""A finished MIME message with holes, filled in per recipient: campaign mail without a MIME tree per message.

`compose` builds each message from scratch with the stdlib's email classes: about 0.7 ms a message, and
Jinja and the MIME tree were two thirds of creating an invitation (240 a second, bench/dispatch before this
module). A `MailTemplate` runs `compose` once with markers where messages differ (the address, the Message-ID,
headers such as List-Unsubscribe, the bodies) and fills each message in by joining strings.

The bodies are quoted-printable (QP) encoded by the stdlib function `compose` uses, line by line: the encoding
of a line depends on that line alone (`email.quoprimime.body_encode` translates, then wraps each line), so the
lines without per-recipient parts are encoded once. Two kinds of per-recipient parts: a *token* (as long as its
marker, printable ASCII without "=") leaves the line's wrapping where the marker had it and is copied into the
encoded line, soft line breaks and all; a *free* part (a name: any text, any length) has its line encoded anew.
The result is the message `compose` writes, byte for byte (tests/messaging/test_mail_template.py); a value that
`compose` would treat differently (a non-ASCII address, a token of another length) gets `compose` itself.
"""

from __future__ import annotations

import random
import re
import sys
import uuid
from email import quoprimime

from messaging.mail import compose, header_value

# The stdlib's boundary: 15 "=", a random number as wide as sys.maxsize, "==" (email.generator._make_boundary).
_BOUNDARY_WIDTH = len(repr(sys.maxsize - 1))
_BOUNDARY_IN_SKELETON = re.compile(r'boundary="(=+\d+==)"')
# Characters quoted-printable copies as they are and never wraps around: printable ASCII but "=" and space.
_QP_LITERAL = re.compile(r"[!-<>-~]+")
_SOFT_BREAK = "=\n"


def _boundary(text: str, html: str) -> str:
    while True:
        boundary = "=" * 15 + f"{random.randrange(sys.maxsize):0{_BOUNDARY_WIDTH}d}" + "=="
        if f"--{boundary}" not in text and f"--{boundary}" not in html:
            return boundary


def _latin1(body: str) -> str:
    """The body's UTF-8 bytes as one character each, the form the stdlib's QP encoder works on."""
    return body.encode("utf-8").decode("latin1")


class _FreeLine(str):
    """A source line with the free part in it."""


_TOKEN = object()


def _encode_line(line: str) -> str:
    return quoprimime.body_encode(line) if line else ""


class _Body:
    """One text part as encoded pieces: literal strings, the token (`_TOKEN`, or the lengths between the soft line
    breaks the encoder put in it) and lines with the free part (encoded anew each time)."""

    def __init__(self, body: str, token: str, free: str) -> None:
        self.body, self._token, self._free_text, self._free = body, token, free, _latin1(free)
        source = _latin1(body)
        # Line by line is the stdlib's own order; a CR would end lines the "\n" split does not see.
        self._whole = "\r" in source
        pieces: list = []
        in_line = re.compile("(" + "(?:=\n)?".join(map(re.escape, token)) + ")")
        for number, line in enumerate([] if self._whole else source.split("\n")):
            if number:
                pieces.append("\n")
            if self._free in line:
                pieces.append(_FreeLine(line))
                continue
            for index, part in enumerate(in_line.split(_encode_line(line))):
                if index % 2 == 0:
                    pieces.append(part)
                elif _SOFT_BREAK in part:
                    pieces.append(tuple(len(text) for text in part.split(_SOFT_BREAK))[:-1])
                else:
                    pieces.append(_TOKEN)
        # Neighbouring literal strings joined: a message is then a few dozen pieces.
        self.pieces: list = []
        for piece in pieces:
            if piece.__class__ is str and self.pieces and self.pieces[-1].__class__ is str:
                self.pieces[-1] += piece
            elif piece != "":
                self.pieces.append(piece)

    def filled(self, token: str, free: str) -> str:
        return self.body.replace(self._token, token).replace(self._free_text, free)

    def encode(self, token: str, free: str) -> str:
        """This body with the values put in, as the stdlib encodes it."""
        if self._whole:
            return quoprimime.body_encode(_latin1(self.filled(token, free)))
        free = _latin1(free)
        out = []
        for piece in self.pieces:
            if piece.__class__ is str:
                out.append(piece)
            elif piece is _TOKEN:
                out.append(token)
            elif piece.__class__ is tuple:
                start = 0
                for length in piece:
                    out += (token[start : start + length], _SOFT_BREAK)
                    start += length
                out.append(token[start:])
            else:
                out.append(_encode_line(piece.replace(self._token, token).replace(self._free, free)))
        return "".join(out)


class MailTemplate:
    """The messages of one subject and one text and HTML body with markers: `token` for a value of its length in
    printable ASCII without "=" that HTML leaves alone, `free` for any text (given per part: HTML escapes it)."""

    def __init__(self, subject: str, header_names: tuple[str, ...], text: str, html: str, token: str, free: str):
        if not _QP_LITERAL.fullmatch(token):
            raise ValueError(f"a token marker must be printable ASCII without '=': {token!r}")
        self.subject, self.header_names, self._token = subject, header_names, token
        self._bodies = (_Body(text, token, free), _Body(html, token, free))
        headers = [f"h{index}" for index in range(len(header_names))]
        marker = f"kpslot{uuid.uuid4().hex}"
        slot = {name: f"{marker}{name}" for name in ("to", "message_id", "text", "html", *headers)}
        skeleton = compose(
            slot["to"],
            subject,
            slot["text"],
            slot["html"],
            slot["message_id"],
            {name: slot[h] for name, h in zip(header_names, headers, strict=True)},
        )
        slot["boundary"] = _BOUNDARY_IN_SKELETON.search(skeleton).group(1)
        name_of = {value: name for name, value in slot.items()}
        self._pieces = re.split(f"({'|'.join(map(re.escape, name_of))})", skeleton)
        # Every odd piece is a slot: (position, slot name).
        self._slots = [(index, name_of[self._pieces[index]]) for index in range(1, len(self._pieces), 2)]
        found = sorted(name for _, name in self._slots if name != "boundary")
        if found != sorted(set(slot) - {"boundary"}):
            raise AssertionError(f"mail template slots {found} are not {sorted(slot)}")

    def fill(
        self, recipient: str, message_id: str, headers: tuple[str, ...], token: str, free_text: str, free_html: str
    ) -> str:
        """The message `compose` writes for this recipient, Message-ID, header values and the bodies with the
        token and the free part put in."""
        text, html = self._bodies
        values = {"to": header_value(recipient), "message_id": header_value(message_id)}
        values.update((f"h{index}", header_value(value)) for index, value in enumerate(headers))
        if (
            len(token) != len(self._token)
            or not _QP_LITERAL.fullmatch(token)
            or "\r" in free_text + free_html  # a CR ends a line where the template's lines do not
            or not all(value.isascii() for value in values.values())
        ):
            headers_by_name = dict(zip(self.header_names, headers, strict=True))
            filled = (text.filled(token, free_text), html.filled(token, free_html))
            return compose(recipient, self.subject, *filled, message_id, headers_by_name)
        values["text"], values["html"] = text.encode(token, free_text), html.encode(token, free_html)
        values["boundary"] = _boundary(values["text"], values["html"])
        pieces = self._pieces.copy()
        for index, name in self._slots:
            pieces[index] = values[name]
        return "".join(pieces)
