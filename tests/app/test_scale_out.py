"""Several machines' worth of processes against one PostgreSQL: two schedulers and four gunicorn workers, 2,000
due invitations (four chunks the two schedulers contend for, ten outbox batches) and 500 webhook events. Every
mail arrives once at a real SMTP server and every delivery once at a real HTTP receiver, both on loopback."""

from __future__ import annotations

import time
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from integrations.models import WebhookDelivery, WebhookEndpoint
from integrations.views import new_secret
from surveys.forms import answer_form_token
from surveys.models import Invitation
from tests.processes import gunicorn, last_weekday_morning, seed_due_purchases, stop, tick
from tests.webhook_receiver import Receiver, signature_ok

CUSTOMERS, ANSWERS = 2_000, 500  # 5,000 and 1,000 took 84 s of make test; 2,000 still spans four chunks


def schedulers(env: dict, now: datetime) -> None:
    """Two scheduler processes at once, as two hosts would run them (one tick works until nothing is due: the
    process that holds the creation lock sends what it created)."""
    procs = [tick(env, now), tick(env, now)]
    outputs = [proc.communicate(timeout=300)[0].decode() for proc in procs]
    for proc, out in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out


def test_two_schedulers_and_four_workers_deliver_everything_exactly_once(postgresql_only, session, smtp, process_env):
    receiver = Receiver().start()
    secret = new_secret()
    session.add(
        WebhookEndpoint(url=receiver.url, secret=secret, events=",response.created,", active=True,
                        created_at=datetime.now(UTC))
    )  # fmt: skip
    when = last_weekday_morning(datetime.now(UTC) - timedelta(minutes=5))
    seed_due_purchases(session, when, CUSTOMERS)

    schedulers(process_env, when)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Invitation)) == CUSTOMERS
    deadline = time.monotonic() + 30
    while len(smtp.messages) < CUSTOMERS and time.monotonic() < deadline:
        time.sleep(0.2)
    recipients = Counter(str(message["To"]) for message in smtp.messages)
    assert len(smtp.messages) == CUSTOMERS and set(recipients.values()) == {1}
    assert len({message["Message-ID"] for message in smtp.messages}) == CUSTOMERS

    web, base = gunicorn(process_env, 4)
    try:
        tokens = session.scalars(select(Invitation.token).order_by(Invitation.id).limit(ANSWERS)).all()
        forms = {token: answer_form_token(token) for token in tokens}  # needs the app, which threads lack

        def answer(token: str) -> int:
            body = urllib.parse.urlencode({"score": "9", "csrf_token": forms[token]}).encode()
            with urllib.request.urlopen(f"{base}/s/{token}", data=body, timeout=30) as reply:
                return reply.status

        with ThreadPoolExecutor(16) as pool:
            assert Counter(pool.map(answer, tokens)) == {200: ANSWERS}
        metrics = urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
        assert f'kundenpuls_http_requests_total{{endpoint="/s/<token>",method="POST",status="200"}} {ANSWERS}.0' in (
            metrics
        )  # summed over the four workers
    finally:
        stop(web)

    schedulers(process_env, datetime.now(UTC) + timedelta(minutes=1))
    try:
        ids = Counter(request["headers"]["webhook-id"] for request in receiver.requests)
        assert len(ids) == ANSWERS and set(ids.values()) == {1}
        assert all(signature_ok(secret, request) for request in receiver.requests)
        session.expire_all()
        statuses = dict(
            session.execute(select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)).all()
        )
        assert statuses == {"delivered": ANSWERS}
        assert len(smtp.messages) == CUSTOMERS  # answering sent no second mail
    finally:
        receiver.stop()
