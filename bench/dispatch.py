"""Invitations mailed per second to a local SMTP server, next to plain smtplib over one connection.

Seeds N customers with a purchase due for the survey into PostgreSQL (COPY), lets the scheduler job
create the invitations (outbox rows), then times `dispatch_due` against an SMTP server in another
process. The floor sends the same finished messages with plain smtplib over one connection.
Floor and sender alternate in rounds (the outbox is split into as many groups, each due a second later); the
figure is the median of each round's ratio to the floor round before it, so the machine's drift cancels out.
Target: at least 70% of the floor (set with runs of 100 recorded at once; see README for runs of 10); peak memory
of this process under 300 MB for 100,000 invitations.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import smtplib
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg
from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from bench.common import ROOT, peak_rss_mb, psycopg_url, throwaway_database
from kundenpuls.extensions import db
from messaging.mail import with_date
from messaging.outbox import dispatch_due
from surveys.jobs import create_due_invitations
from tests.smtp import free_port

NOW = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Berlin


def seed(url: str, n: int) -> None:
    customers, purchases = io.StringIO(), io.StringIO()
    bought = (NOW - timedelta(days=3, hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    for i in range(n):
        locale = "de" if i % 5 else "en"
        customers.write(f"b{i}\tkunde{i}@example.com\tKunde {i}\t{locale}\t{bought}\n")
        purchases.write(f"o{i}\t{i + 1}\t49.90\tEUR\t{bought}\t{bought}\n")
    with psycopg.connect(psycopg_url(url)) as conn, conn.cursor() as cur:
        with cur.copy("COPY customers (external_id, email, name, locale, created_at) FROM STDIN") as copy:
            copy.write(customers.getvalue())
        with cur.copy(
            "COPY purchases (order_id, customer_id, amount, currency, purchased_at, created_at) FROM STDIN"
        ) as copy:
            copy.write(purchases.getvalue())
        cur.execute("ANALYZE")


class SmtpProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "smtp_counter.py"), str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "ready"

    def count(self) -> tuple[int, int]:
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        received, duplicates = self.proc.stdout.readline().split()
        return int(received), int(duplicates)

    def reset(self) -> None:
        self.proc.stdin.write("reset\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "ok"

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def _floor(url: str, port: int, n: int, queue: mp.Queue, offset: int = 0) -> None:
    with psycopg.connect(psycopg_url(url)) as conn:
        rows = conn.execute("SELECT recipient, raw FROM outbox ORDER BY id LIMIT %s OFFSET %s", (n, offset)).fetchall()
    # Their own Message-IDs, so the server's duplicate count sees only what the sender sent twice.
    messages = [
        (recipient, with_date(raw, NOW).replace(b"Message-ID: <", b"Message-ID: <floor.", 1)) for recipient, raw in rows
    ]
    del rows
    smtp = smtplib.SMTP("127.0.0.1", port)
    start = time.perf_counter()
    for recipient, data in messages:
        smtp.sendmail("umfrage@kundenpuls.test", [recipient], data)
    elapsed = time.perf_counter() - start
    smtp.quit()
    queue.put(len(messages) / elapsed)


def floor(url: str, port: int, n: int, offset: int = 0) -> float:
    """Plain smtplib, one connection, the same finished messages, prepared in memory beforehand.

    Runs in its own process, so its message list does not count towards the sender's peak memory.
    """
    queue: mp.Queue = mp.Queue()
    proc = mp.Process(target=_floor, args=(url, port, n, queue, offset))
    proc.start()
    rate = queue.get(timeout=600)  # the floor process failed if nothing came by then
    proc.join()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invitations", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    smtp = SmtpProcess()
    try:
        with throwaway_database("kp_bench_dispatch") as url:
            app = create_app(
                {
                    "SQLALCHEMY_DATABASE_URI": url,
                    "SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
                    "MAIL_FROM": "Kundenpuls <umfrage@kundenpuls.test>",
                    "BASE_URL": "https://kundenpuls.test",
                    "OUTBOX_BATCH_SIZE": 500,
                }
            )
            with app.app_context():
                upgrade()
                t0 = time.perf_counter()
                seed(url, args.invitations)
                seeded = time.perf_counter() - t0
                t0 = time.perf_counter()
                created = create_due_invitations(db.session, NOW)
                creating = time.perf_counter() - t0
                db.session.remove()
                rss_before_send = peak_rss_mb()
                group = created // args.rounds
                db.session.execute(
                    text(
                        "UPDATE outbox SET next_attempt_at = next_attempt_at"
                        " + make_interval(secs => LEAST((id - (SELECT min(id) FROM outbox)) / :group, :last))"
                    ),
                    {"group": group, "last": args.rounds - 1},
                )
                db.session.commit()
                rounds, sent, sending = [], 0, 0.0
                for number in range(args.rounds):
                    floor_rate = floor(url, smtp.port, group, offset=number * group)
                    t0 = time.perf_counter()
                    counts = dispatch_due(db.session, NOW + timedelta(seconds=number))
                    elapsed = time.perf_counter() - t0
                    rounds.append((floor_rate, counts.sent / elapsed))
                    sent, sending = sent + counts.sent, sending + elapsed
                    db.session.remove()
                floor_sent = group * args.rounds
                received, duplicates = smtp.count()
                received -= floor_sent
                not_sent = db.session.scalar(text("SELECT count(*) FROM outbox WHERE status <> 'sent'"))
                db.session.remove()
                db.engine.dispose()
    finally:
        smtp.close()
    ratios = sorted(app / floor_rate for floor_rate, app in rounds)
    print(f"seeded {args.invitations:,} customers and purchases (COPY) in {seeded:.1f} s")
    print(
        f"create_due_invitations: {created:,} invitations + outbox rows in {creating:.1f} s "
        f"({created / creating:,.0f}/s); peak RSS so far {rss_before_send:.0f} MB"
    )
    for number, (floor_rate, app) in enumerate(rounds, start=1):
        print(f"round {number}: floor {floor_rate:,.0f}/s, dispatch_due {app:,.0f}/s ({app / floor_rate:.0%})")
    print(f"kundenpuls dispatch_due: {sent / sending:,.0f} messages/s overall ({sent:,} sent in {sending:.1f} s)")
    print(f"ratio: {statistics.median(ratios):.0%} of the floor, paired median of {len(rounds)} rounds (target >= 70%)")
    print(
        f"received by the SMTP server from the sender: {received:,}; duplicates: {duplicates}; "
        f"rows not sent: {not_sent}"
    )
    print(f"peak RSS of this process: {peak_rss_mb():.0f} MB (target < 300 MB)")


if __name__ == "__main__":
    main()
