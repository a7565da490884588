"""Invitations created and mailed per second to a local SMTP server, next to plain smtplib over one connection.

Seeds N customers with a purchase due for the survey into PostgreSQL (COPY), lets the scheduler job
create the invitations (outbox rows), then times `dispatch_due` against an SMTP server in another
process that takes `--server-ms` per message (a real server writes each message to its queue before it answers;
the server accepts many connections at once). The floor sends the same finished messages with plain smtplib over
one connection. For each SMTP_CONNECTIONS setting, floor and sender alternate in rounds (the first `--send`
messages of the outbox are split into groups, each due a second later); a setting's figure is the median of its
rounds' ratios to the floor round just before, so the machine's drift cancels out.
Targets (issue 23): creating invitations with their mails at least 2,000 a second (100,000 in under 50 s) and
peak memory of this process under 300 MB for 100,000; one connection at least 80% of the floor, four at least
2.5x it.
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
    def __init__(self, server_ms: float = 0.0) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "smtp_counter.py"), str(self.port), str(server_ms)],
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


TARGETS = {1: 0.8, 4: 2.5}  # SMTP_CONNECTIONS -> at least this multiple of the one-connection floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invitations", type=int, default=100_000)
    parser.add_argument("--send", type=int, default=8_000, help="messages sent in the timed rounds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", default="1,4", help="SMTP_CONNECTIONS settings to measure")
    # A real server writes each message to its queue (an fsync) and checks it before it answers: 10 ms is a quick
    # one on a LAN. With 2 ms this loopback server's own Python (about 2 ms of CPU a message) and the database share
    # two cores with the sender, and the machine, not the connections, sets the pace (README).
    parser.add_argument("--server-ms", type=float, default=10.0, help="the SMTP server's time per message")
    args = parser.parse_args()
    settings = [int(n) for n in args.connections.split(",")]
    smtp = SmtpProcess(args.server_ms)
    try:
        with throwaway_database("kp_bench_dispatch") as url:
            app = create_app(
                {
                    "SQLALCHEMY_DATABASE_URI": url,
                    "SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
                    "MAIL_FROM": "Kundenpuls <umfrage@kundenpuls.test>",
                    "BASE_URL": "https://kundenpuls.test",
                    "OUTBOX_BATCH_SIZE": 100,
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
                groups = args.rounds * len(settings)
                group = min(args.send, created) // groups
                db.session.execute(
                    text(
                        "UPDATE outbox SET next_attempt_at = next_attempt_at"
                        " + make_interval(secs => LEAST((id - (SELECT min(id) FROM outbox)) / :group, :last))"
                    ),
                    {"group": group, "last": groups},
                )
                db.session.execute(text("ANALYZE outbox"))  # autovacuum is off on this machine's cluster
                db.session.commit()
                rounds: dict[int, list[tuple[float, float]]] = {n: [] for n in settings}
                sent, sending, number = 0, 0.0, 0
                for _ in range(args.rounds):
                    for connections in settings:
                        app.config["SMTP_CONNECTIONS"] = connections
                        floor_rate = floor(url, smtp.port, group, offset=number * group)
                        t0 = time.perf_counter()
                        counts = dispatch_due(db.session, NOW + timedelta(seconds=number))
                        elapsed = time.perf_counter() - t0
                        rounds[connections].append((floor_rate, counts.sent / elapsed))
                        sent, sending, number = sent + counts.sent, sending + elapsed, number + 1
                        db.session.remove()
                floor_sent = group * groups
                received, duplicates = smtp.count()
                received -= floor_sent
                not_sent = db.session.scalar(
                    text("SELECT count(*) FROM outbox WHERE status <> 'sent' AND next_attempt_at < :until"),
                    {"until": NOW + timedelta(seconds=groups)},
                )
                db.session.remove()
                db.engine.dispose()
    finally:
        smtp.close()
    rate = created / creating
    print(f"seeded {args.invitations:,} customers and purchases (COPY) in {seeded:.1f} s")
    print(
        f"create_due_invitations: {created:,} invitations + outbox rows in {creating:.1f} s "
        f"({rate:,.0f}/s, target >= 2,000/s: {'met' if rate >= 2000 else 'NOT met'}); "
        f"peak RSS so far {rss_before_send:.0f} MB (target < 300 MB: {'met' if rss_before_send < 300 else 'NOT met'})"
    )
    print(f"sending {group * groups:,} messages in rounds of {group:,}; the SMTP server takes {args.server_ms} ms each")
    for connections, pairs in rounds.items():
        for number, (floor_rate, app_rate) in enumerate(pairs, start=1):
            print(
                f"  SMTP_CONNECTIONS={connections} round {number}: floor {floor_rate:,.0f}/s, "
                f"dispatch_due {app_rate:,.0f}/s ({app_rate / floor_rate:.2f}x)"
            )
        ratio = statistics.median(app_rate / floor_rate for floor_rate, app_rate in pairs)
        target = TARGETS.get(connections)
        verdict = "" if target is None else f" (target >= {target:.2f}x: {'met' if ratio >= target else 'NOT met'})"
        print(f"SMTP_CONNECTIONS={connections}: {ratio:.2f}x the one-connection floor, paired median{verdict}")
    print(f"kundenpuls dispatch_due: {sent / sending:,.0f} messages/s overall ({sent:,} sent in {sending:.1f} s)")
    print(
        f"received by the SMTP server from the sender: {received:,}; duplicates: {duplicates}; "
        f"rows of the timed rounds not sent: {not_sent}"
    )
    print(f"peak RSS of this process: {peak_rss_mb():.0f} MB (target < 300 MB)")


if __name__ == "__main__":
    main()
