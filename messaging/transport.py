"""Ways a finished message leaves: a real SMTP server, or the local dev mailbox."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qs, unquote, urlparse

from sqlalchemy.orm import Session

from messaging.models import DevMail


class SmtpTransport:
    """One SMTP connection for a batch of messages."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP_URL must start with smtp:// or smtps://, not {parsed.scheme}://")
        query = parse_qs(parsed.query)
        self.host = parsed.hostname or "localhost"
        self.ssl = parsed.scheme == "smtps"
        self.port = parsed.port or (465 if self.ssl else 25)
        self.starttls = query.get("starttls", ["0"])[0] in ("1", "true", "yes")
        self.user = unquote(parsed.username) if parsed.username else None
        self.password = unquote(parsed.password) if parsed.password else None
        self.timeout = timeout
        self._conn: smtplib.SMTP | None = None

    def open(self) -> None:
        if self._conn is not None:
            return
        context = ssl.create_default_context() if self.ssl or self.starttls else None
        if self.ssl:
            conn: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            conn.ehlo()
            if self.starttls:
                conn.starttls(context=context)
                conn.ehlo()
            if self.user:
                conn.login(self.user, self.password or "")
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def send(self, sender: str, recipient: str, data: bytes, message_id: str, subject: str) -> None:
        if self._conn is None:
            self.open()
        assert self._conn is not None
        self._conn.sendmail(sender, [recipient], data)

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                self._conn.close()
            self._conn = None


class DevMailboxTransport:
    """Delivers into the dev_mailbox table, in the sender's transaction."""

    def __init__(self, session: Session, now: Callable[[], datetime]) -> None:
        self.session = session
        self.now = now

    def open(self) -> None:
        pass

    def send(self, sender: str, recipient: str, data: bytes, message_id: str, subject: str) -> None:
        self.session.add(
            DevMail(
                message_id=message_id,
                recipient=recipient,
                subject=subject,
                raw=data.decode("ascii"),
                received_at=self.now(),
            )
        )

    def close(self) -> None:
        pass
