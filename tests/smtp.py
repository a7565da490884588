"""A real SMTP server on loopback (aiosmtpd) that keeps what arrives, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.sink.reject:
            return self.sink.reject[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        with self.sink.lock:
            if self.sink.stop_after is not None and len(self.sink.messages) >= self.sink.stop_after:
                self.sink.stop_after = None
                threading.Thread(target=self.sink.stop, daemon=True).start()
                return "421 4.3.2 shutting down"
            if self.sink.tempfail:
                return "451 4.3.0 try again later"
            if self.sink.throttle:
                self.sink.throttle -= 1
                return self.sink.throttle_answer
            message = message_from_bytes(envelope.content, policy=policy.default)
            self.sink.messages.append(message)
            self.sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        if self.sink.on_message is not None:
            self.sink.on_message(message)
        return "250 2.0.0 accepted"


class SmtpSink:
    """Start, stop (mid-batch if asked) and restart on the same port; messages survive restarts."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.reject: dict[str, str] = {}
        self.tempfail = False
        self.throttle = 0  # this many next messages are answered with `throttle_answer` (a server's rate limit)
        self.throttle_answer = "451 4.7.1 slow down"
        self.stop_after: int | None = None
        self.delay = 0.0  # seconds per message: a slow server, so a batch lasts long enough to break it
        self.on_message = None  # called with each accepted message before the server answers 250
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def by_recipient(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]
