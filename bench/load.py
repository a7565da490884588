"""Mixed load under gunicorn against PostgreSQL: survey pages and answers, API purchases, staff queue pages.

60 s of closed-loop load over loopback (2 processes x 8 threads, a new connection per request, as a load
balancer without keep-alive would), then throughput and p50/p95/p99 per route, next to the floor of the survey
loop issue measured in the same run: a bare Flask endpoint doing one INSERT under the same gunicorn settings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta

import psycopg

from bench import loadgen
from bench.common import ROOT, migrated, new_api_key, psycopg_url, signed_in_agent, throwaway_database
from bench.queue import seed as seed_cases
from bench.submit import SECRET, form_request, form_token, gunicorn, stop
from tests.smtp import free_port

ROUTES = ("GET /s/<token>", "POST /s/<token>", "POST /api/v1/purchases", "GET /queue")


def seed(url: str, cases: int, invitations: int) -> list[str]:
    """Open cases for the queue (bench.queue's seed), then mailed invitations to answer; returns their tokens."""
    seed_cases(url, cases)
    with psycopg.connect(psycopg_url(url)) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO invitations (token, survey_id, customer_id, locale, status, created_at, expires_at,"
            " sent_at, last_mailed_at, reminders_queued)"
            " SELECT 'ld' || g || '-' || md5(g::text), 1, (g %% %s) + 1, 'de', 'sent', now(),"
            " now() + interval '30 days', now(), now(), 0 FROM generate_series(1, %s) g",
            (cases, invitations),
        )
        cur.execute(
            "INSERT INTO customer_segments (customer_id, value_class, phase, satisfaction, score, portfolio,"
            " revenue_12m, purchases_recent, purchases_before, refreshed_at)"
            " SELECT id, 'C', 'existing', 'detractor', 3, 'potential_unknown', 0, 1, 1, now() FROM customers"
        )
        cur.execute(
            "CREATE TABLE bench_floor (id serial PRIMARY KEY, token text, score int, comment text,"
            " created_at timestamptz)"
        )
        cur.execute("ANALYZE")
        return [row[0] for row in cur.execute("SELECT token FROM invitations WHERE status = 'sent' ORDER BY id")]


def staff_cookie(env: dict) -> tuple[str, str]:
    """Sign an agent in through the app (same secret as the workers); the session cookie works on gunicorn."""
    os.environ.update(env)
    from app import create_app

    app = create_app({"LOGIN_RATE_LIMIT": "100000 per minute"})
    key = new_api_key(app)
    client = signed_in_agent(app)
    cookie = client.get_cookie("session")
    return f"session={cookie.value}", key


def get_request(path: str, cookie: str | None = None) -> bytes:
    headers = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if cookie:
        headers.append(f"Cookie: {cookie}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode()


def json_request(path: str, body: dict, key: str) -> bytes:
    data = json.dumps(body).encode()
    headers = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Connection: close",
        "Content-Type: application/json",
        f"Authorization: Bearer {key}",
        f"Content-Length: {len(data)}",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + data


def mixed(tokens: list[str], cookie: str, key: str, n: int) -> list[tuple[str, bytes]]:
    """3 page views : 3 answers : 3 purchases : 1 queue page, each answer to its own invitation."""
    bought = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    requests = []
    for i in range(n):
        kind = i % 10
        token = tokens[i]
        if kind < 3:
            requests.append((ROUTES[0], get_request(f"/s/{token}?score=9")))
        elif kind < 6:
            body = f"score=9&comment=Gut&csrf_token={form_token(token)}".encode()
            requests.append((ROUTES[1], form_request(f"/s/{token}", body)))
        elif kind < 9:
            purchase = {
                "order_id": f"L-{i}",
                "customer": {"external_id": f"L-{i % 5000}", "email": f"l{i % 5000}@example.com", "locale": "de"},
                "amount": 49.9,
                "category": "Haushalt",
                "purchased_at": bought,
            }
            requests.append((ROUTES[2], json_request("/api/v1/purchases", purchase, key)))
        else:
            requests.append((ROUTES[3], get_request("/queue", cookie)))
    return requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--invitations", type=int, default=150_000)
    args = parser.parse_args()
    with throwaway_database("kp_bench_load") as url:
        env = migrated(url, SECRET)
        tokens = seed(url, args.cases, args.invitations)
        cookie, key = staff_cookie(env)
        run_env = {**env, "LOGIN_RATE_LIMIT": "100000 per minute"}
        floor_port, app_port = free_port(), free_port()
        floor_proc = gunicorn("bench.floor_app:app", floor_port, args.workers, run_env)
        app_proc = gunicorn("wsgi:app", app_port, args.workers, run_env)
        try:
            floor_requests = [form_request(f"/answer/{t}", b"score=9&comment=Gut") for t in tokens]
            loadgen.run(floor_port, floor_requests[:2000], 2)  # warm-up
            floor = loadgen.run(floor_port, floor_requests[2000:], 10)
            requests = mixed(tokens[50_000:], cookie, key, len(tokens) - 50_000)
            loadgen.run_labelled(app_port, requests[:1000], 2)  # warm-up
            results = loadgen.run_labelled(app_port, requests[1000:], args.seconds)
        finally:
            stop(floor_proc)
            stop(app_proc)
        with psycopg.connect(psycopg_url(url)) as conn:
            stored = conn.execute("SELECT count(*) FROM responses").fetchone()[0]
            purchases = conn.execute("SELECT count(*) FROM purchases").fetchone()[0]
    total = sum(result.ok for result in results.values())
    print(f"gunicorn sync workers: {args.workers}; load: 2 processes x 8 threads, new connection per request")
    print(f"floor  bare Flask, one INSERT: {floor.rate:7.0f} req/s  p50 {floor.percentile(0.5):5.1f} ms  "
          f"p99 {floor.percentile(0.99):5.1f} ms")  # fmt: skip
    print(f"mixed load, {args.seconds:.0f} s: {total / results[ROUTES[0]].elapsed:7.0f} req/s in all "
          f"({total / results[ROUTES[0]].elapsed / floor.rate:.0%} of the floor)")  # fmt: skip
    for route in ROUTES:
        result = results.get(route)
        if result is None:
            continue
        print(
            f"  {route:24s} {result.rate:6.0f} req/s  p50 {result.percentile(0.5):6.1f} ms  "
            f"p95 {result.percentile(0.95):6.1f} ms  p99 {result.percentile(0.99):6.1f} ms  "
            f"errors {result.errors} {result.statuses}"
        )
    print(f"answers stored: {stored}; purchases stored: {purchases}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
