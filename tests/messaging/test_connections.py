"""Several SMTP connections per sender, and a server that asks to slow down (421, 451): the connection pauses, the
mail waits and nothing fails; /metrics shows what each connection sent and how often it was throttled."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from messaging import connections
from messaging.models import MailConnection, OutboxMessage
from messaging.outbox import dispatch_due
from tests.messaging.test_mail_delivery import SEND, invite_all


@pytest.fixture
def short_pauses(monkeypatch):
    monkeypatch.setattr(connections, "PAUSE_FIRST", 0.02)
    monkeypatch.setattr(connections, "PAUSE_CAP", 0.16)
    monkeypatch.setattr(connections, "_pauses", {})


def _outbox(session):
    session.expire_all()
    return session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


@pytest.mark.parametrize("answer", ["451 4.7.1 slow down", "421 4.7.0 too many messages, closing connection"])
def test_a_throttling_server_slows_the_connection_and_fails_nothing(session, buy, smtp, short_pauses, answer):
    invite_all(session, buy, 6)
    smtp.throttle, smtp.throttle_answer = 2, answer
    counts = dispatch_due(session, SEND)
    assert (counts.sent, counts.throttled, counts.retried, counts.failed) == (6, 2, 0, 0)
    assert len(smtp.messages) == 6 and len({m["Message-ID"] for m in smtp.messages}) == 6
    assert {(m.status, m.attempts) for m in _outbox(session)} == {("sent", 1)}  # one attempt each: the one that went
    [connection] = session.scalars(select(MailConnection)).all()
    assert (connection.sent, connection.throttled) == (6, 2)
    assert connection.last_answer.startswith(answer[:3])


def test_a_server_that_keeps_throttling_stops_the_connection_until_the_next_tick(session, buy, smtp, short_pauses):
    invite_all(session, buy, 4)
    smtp.throttle = 1000
    started = time.monotonic()
    counts = dispatch_due(session, SEND)
    # Pauses of 0.02, 0.04, 0.08, 0.16 s, then the cap again: the connection gives up for this tick.
    assert counts.sent == 0 and counts.throttled >= 4
    assert 0.3 <= time.monotonic() - started < 5
    assert {(m.status, m.attempts, m.next_attempt_at) for m in _outbox(session)} == {("pending", 0, SEND)}
    smtp.throttle = 0
    assert dispatch_due(session, SEND + timedelta(minutes=1)).sent == 4  # the next tick sends them all


def test_metrics_show_each_connections_mail_and_throttling(app, session, buy, smtp, client, short_pauses):
    invite_all(session, buy, 3)
    smtp.throttle = 1
    dispatch_due(session, SEND)
    app.config["METRICS_TOKEN"] = None
    text = client.get("/metrics").text
    sent = re.search(r'kundenpuls_mail_connection_sent_total\{connection="([^"]+):1"\} (\S+)', text)
    throttled = re.search(r'kundenpuls_mail_connection_throttled_total\{connection="[^"]+:1"\} (\S+)', text)
    assert sent and float(sent.group(2)) == 3.0
    assert throttled and float(throttled.group(1)) == 1.0


def test_four_connections_send_every_mail_exactly_once(app, session, buy, smtp, postgresql_only):
    invite_all(session, buy, 80)
    app.config.update(SMTP_CONNECTIONS=4, OUTBOX_BATCH_SIZE=5)
    smtp.delay = 0.01  # a server that takes its time per message, as real ones do: the connections overlap
    counts = dispatch_due(session, SEND)
    assert counts.sent == 80
    assert len(smtp.messages) == 80 and len({m["Message-ID"] for m in smtp.messages}) == 80
    assert {m.status for m in _outbox(session)} == {"sent"}
    per_connection = session.execute(select(MailConnection.name, MailConnection.sent)).all()
    assert len(per_connection) == 4 and sum(n for _, n in per_connection) == 80
    assert sum(1 for _, n in per_connection if n > 0) >= 3  # they sent side by side, not one after the other
    assert session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.attempts != 1)) == 0
