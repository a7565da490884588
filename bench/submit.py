"""Survey answers per second under gunicorn against PostgreSQL, next to a bare one-INSERT Flask endpoint: NPS
answers, and CSAT answers (another kind, the same hot path) in rounds of their own.

Both run under the same gunicorn settings and are driven by the same load generator over loopback.
The survey POST is the real one: the form's anti-forgery token, one answer per invitation, signal sent (case,
rollup, the row that queues it for the scheduler), every customer placed in a segment as after a nightly refresh.
Then the scheduler's share: applying the waiting answers to segments, cells and retention rules, timed.
Targets: at least 60% of the floor's rate (each app round against the floor round before it; the median of those
ratios); p99 under 50 ms at half of the measured peak rate.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import psycopg

from bench import loadgen
from bench.common import ROOT, migrated, psycopg_url, throwaway_database
from surveys.default_texts import DEFAULT_TEXTS
from tests.smtp import free_port

SECRET = "bench-secret"
# Tokens skipped after a round: requests still in flight when a round ends are answered but not counted, and must
# not be sent again by the next round (they would come back 409, already answered).
GAP = 200


def seed(url: str, n: int) -> tuple[list[str], list[str]]:
    """n customers with one open, mailed invitation each (COPY), half of them of the NPS survey and half of a CSAT
    survey; returns the two lists of tokens."""
    with psycopg.connect(psycopg_url(url)) as conn:
        csat = conn.execute(
            "INSERT INTO surveys (key, kind, name, active, delay_days, catchup_days, reminder_count,"
            " reminder_after_days, expiry_days, quiet_days, send_weekdays, send_start, send_end, texts,"
            " passive_comment_cases, trigger_cancellation, trigger_inactive, trigger)"
            " SELECT 'csat', 'csat', 'CSAT', false, delay_days, catchup_days, reminder_count, reminder_after_days,"
            " expiry_days, quiet_days, send_weekdays, send_start, send_end, %s, false, false, false, 'case_resolved'"
            " FROM surveys WHERE id = 1 RETURNING id",
            (json.dumps(DEFAULT_TEXTS["csat"]),),
        ).fetchone()[0]
    now = datetime.now(UTC)
    created = now.strftime("%Y-%m-%d %H:%M:%S")
    expires = (now + timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S")
    customers, invitations, tokens = io.StringIO(), io.StringIO(), []
    for i in range(n):
        # CSAT tokens name their kind, as surveys.models.new_token writes them.
        token = ("" if i % 2 == 0 else "csat.") + f"bench{i:08d}" + os.urandom(8).hex()
        tokens.append(token)
        customers.write(f"s{i}\tkunde{i}@example.com\tde\t{created}\n")
        survey = 1 if i % 2 == 0 else csat
        invitations.write(f"{token}\t{survey}\t{i + 1}\tde\tsent\t{created}\t{expires}\t{created}\t{created}\t0\n")
    with psycopg.connect(psycopg_url(url)) as conn, conn.cursor() as cur:
        with cur.copy("COPY customers (external_id, email, locale, created_at) FROM STDIN") as copy:
            copy.write(customers.getvalue())
        with cur.copy(
            "COPY invitations (token, survey_id, customer_id, locale, status, created_at, expires_at, sent_at,"
            " last_mailed_at, reminders_queued) FROM STDIN"
        ) as copy:
            copy.write(invitations.getvalue())
        # Steady state: the nightly refresh has placed every customer (half of them answered before), so an
        # answer takes the path it takes in production.
        cur.execute(
            "INSERT INTO customer_segments (customer_id, value_class, phase, satisfaction, score, portfolio,"
            " revenue_12m, purchases_recent, purchases_before, refreshed_at)"
            " SELECT id, 'C', 'existing', CASE WHEN id % 2 = 0 THEN 'passive' ELSE 'unknown' END,"
            " CASE WHEN id % 2 = 0 THEN 8 END, 'potential_unknown', 0, 1, 1, now() FROM customers"
        )
        cur.execute(
            "CREATE TABLE bench_floor (id serial PRIMARY KEY, token text, score int, comment text,"
            " created_at timestamptz)"
        )
        cur.execute("ANALYZE")
    return tokens[0::2], tokens[1::2]


def gunicorn(app: str, port: int, workers: int, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            app,
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except OSError as exc:
            if getattr(exc, "code", None) == 404:
                return proc
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"gunicorn {app} did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=20)


def form_token(token: str) -> str:
    """What the survey page puts in its hidden field (fetching 60,000 pages first would only slow the set-up)."""
    return hmac.new(SECRET.encode(), b"survey-answer\0" + token.encode(), hashlib.sha256).hexdigest()


def form_request(path: str, body: bytes) -> bytes:
    headers = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Connection: close",
        "Content-Type: application/x-www-form-urlencoded",
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


def apply_pending(env: dict) -> tuple[int, float]:
    """The share of the answers' work the scheduler does (retention.answers.apply_answers), over what the load
    left waiting; returns (answers, seconds)."""
    os.environ.update(env)
    from app import create_app
    from kundenpuls.extensions import db
    from retention.answers import apply_answers

    app = create_app()
    with app.app_context():
        begin = time.perf_counter()
        applied = apply_answers(db.session, datetime.now(UTC))
        seconds = time.perf_counter() - begin
        db.session.remove()
        db.engine.dispose()
    return applied, seconds


def _median(results: list[loadgen.Result]) -> loadgen.Result:
    return sorted(results, key=lambda result: result.rate)[len(results) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--invitations", type=int, default=180_000, help="NPS and CSAT invitations seeded, half each")
    args = parser.parse_args()
    with throwaway_database("kp_bench_submit") as url:
        env = migrated(url, SECRET)
        tokens, csat_tokens = seed(url, args.invitations)
        comment = "Schnelle+Lieferung%2C+freundlicher+Service"

        floor_port, app_port = free_port(), free_port()
        floor_proc = gunicorn("bench.floor_app:app", floor_port, args.workers, env)
        app_proc = gunicorn("wsgi:app", app_port, args.workers, env)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{app_port}/s/{tokens[0]}") as page:
                assert page.headers["Set-Cookie"] is None, "survey pages set no cookie"
            floor_requests = [
                form_request(f"/answer/{t}", f"score=9&comment={comment}".encode()) for t in tokens + csat_tokens
            ]
            requests = [
                form_request(f"/s/{t}", f"score=9&comment={comment}&csrf_token={form_token(t)}".encode())
                for t in tokens
            ]
            csat_requests = [  # satisfied (4): no case, like the NPS 9
                form_request(f"/s/{t}", f"score=4&comment={comment}&csrf_token={form_token(t)}".encode())
                for t in csat_tokens
            ]
            loadgen.run(floor_port, floor_requests[:2000], 2)  # warm-up
            accepted = loadgen.run(app_port, requests[:2000], 2).ok
            accepted += loadgen.run(app_port, csat_requests[:2000], 2).ok
            # The answers' lists are used up by the app's rounds (one answer per invitation); the floor's INSERT has no
            # uniqueness, so every floor round sends its list from the start again.
            used, csat_used = 2000, 2000
            # Rounds alternate between floor and app, so that a busy moment of the machine hits both alike.
            floors, peaks, csat_floors, csat_peaks = [], [], [], []
            for _ in range(args.rounds):
                floors.append(loadgen.run(floor_port, floor_requests, args.seconds))
                peaks.append(loadgen.run(app_port, requests[used:], args.seconds))
                accepted += peaks[-1].ok
                used += peaks[-1].ok + peaks[-1].errors + GAP
                csat_floors.append(loadgen.run(floor_port, floor_requests, args.seconds))
                csat_peaks.append(loadgen.run(app_port, csat_requests[csat_used:], args.seconds))
                accepted += csat_peaks[-1].ok
                csat_used += csat_peaks[-1].ok + csat_peaks[-1].errors + GAP
            floor, peak = _median(floors), _median(peaks)
            half = loadgen.run(app_port, requests[used:], args.seconds, rate=peak.rate / 2)
            accepted += half.ok
        finally:
            stop(floor_proc)
            stop(app_proc)
        with psycopg.connect(psycopg_url(url)) as conn:
            stored = conn.execute("SELECT count(*) FROM responses").fetchone()[0]
        applied, applying = apply_pending(env)
    phases = {"floor": floors + csat_floors, "NPS": peaks, "CSAT": csat_peaks, "half-peak": [half]}
    dry = [f"{name} round {n}" for name, results in phases.items() for n, result in enumerate(results, 1) if result.dry]
    if dry:  # a round whose clients ran out of requests measured idle time too: no figure from it
        sys.exit(f"no figures: {', '.join(dry)} ran out of invitations; run again with more --invitations")
    # Each app round is compared with the floor round just before it: this machine's speed drifts over a run (other
    # tenants, autovacuum), and the medians of floor and app rounds may come from moments far apart.
    ratios = sorted(p.rate / f.rate for f, p in zip(floors, peaks, strict=True))
    ratio = ratios[len(ratios) // 2]
    csat_ratios = sorted(p.rate / f.rate for f, p in zip(csat_floors, csat_peaks, strict=True))
    csat_ratio, csat_peak = csat_ratios[len(csat_ratios) // 2], _median(csat_peaks)
    print(
        f"gunicorn sync workers: {args.workers}; load: 2 processes x 8 threads, new connection per request; "
        f"{args.rounds} alternating rounds of {args.seconds:.0f} s, medians"
    )
    print(
        "rounds floor/app req/s: "
        + ", ".join(f"{f.rate:.0f}/{p.rate:.0f} ({p.rate / f.rate:.0%})" for f, p in zip(floors, peaks, strict=True))
    )
    print(
        f"floor  bare Flask, one INSERT:   {floor.rate:7.0f} req/s  p50 {floor.percentile(0.5):5.1f} ms  "
        f"p99 {floor.percentile(0.99):5.1f} ms  errors {floor.errors}"
    )
    print(
        f"kundenpuls POST /s/<token> peak: {peak.rate:7.0f} answers/s  p50 {peak.percentile(0.5):5.1f} ms  "
        f"p99 {peak.percentile(0.99):5.1f} ms  errors {peak.errors} {peak.statuses}"
    )
    print(
        f"ratio: {ratio:.0%} of the floor, median of the rounds' ratios (target >= 60%: "
        f"{'met' if ratio >= 0.6 else 'NOT met'}); "
        f"median app / median floor: {peak.rate / floor.rate:.0%}"
    )
    print(
        f"at half the peak ({peak.rate / 2:.0f}/s): {half.rate:.0f} answers/s  p50 {half.percentile(0.5):.1f} ms  "
        f"p99 {half.percentile(0.99):.1f} ms (target p99 < 50 ms: {'met' if half.percentile(0.99) < 50 else 'NOT met'})"
    )
    print(
        f"CSAT POST /s/<token> peak:       {csat_peak.rate:7.0f} answers/s  p50 {csat_peak.percentile(0.5):5.1f} ms  "
        f"p99 {csat_peak.percentile(0.99):5.1f} ms  errors {csat_peak.errors} {csat_peak.statuses}; "
        f"{csat_ratio:.0%} of the floor (median of its rounds' ratios; rounds "
        + ", ".join(f"{p.rate / f.rate:.0%}" for f, p in zip(csat_floors, csat_peaks, strict=True))
        + ")"
    )
    print(f"responses stored: {stored}; answers accepted with 200: {accepted}")
    drain = applied / applying
    print(
        f"scheduler: {applied} answers applied to segments, cells and rules in {applying:.1f} s ({drain:.0f}/s); "
        f"a minute at the peak ({peak.rate * 60:.0f} answers) takes it {peak.rate * 60 / drain:.0f} s"
    )


if __name__ == "__main__":
    main()
