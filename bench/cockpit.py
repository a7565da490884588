"""Segments and retention suggestions for 1,000,000 customers on PostgreSQL, and the /cockpit page over them.

Seeds customers, purchases and NPS answers inside the database (generate_series), computes phases and values
as the scheduler would, then times
- the floor: the bare SQL aggregation over the same inputs (each customer's latest two scores, purchases in
  the last two half-years, grouped by value class x phase x satisfaction), read only, nothing written;
- the first full refresh (every customer placed, a history row each, every default rule on everyone);
- the nightly refresh a day later (only what changed is written);
- GET /cockpit, rendered by the app (median of 5) with one in five new or existing customers at risk and its
  12-month sparklines from the daily NPS rollup (rebuilt from the answers first), next to the bare GROUP BY over
  the segment table (the page reads the segment cells instead).
Targets: a full refresh under 60 s with flat memory (this process and the database backend's peak);
/cockpit under 300 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg

from bench.common import migrated, peak_rss_mb, psycopg_url, seconds_each, throwaway_database
from bench.lifecycle import backend_peak_mb
from bench.lifecycle import seed as seed_customers_and_purchases

FLOOR = """
WITH ranked AS (
    SELECT customer_id, score, row_number() OVER (PARTITION BY customer_id ORDER BY created_at DESC, id DESC) AS r
    FROM responses WHERE score IS NOT NULL
), scores AS (
    SELECT customer_id, max(score) FILTER (WHERE r = 1) AS score, max(score) FILTER (WHERE r = 2) AS previous
    FROM ranked WHERE r <= 2 GROUP BY customer_id
), bought AS (
    SELECT customer_id, count(*) FILTER (WHERE purchased_at > %(now)s - interval '180 days') AS recent,
           count(*) FILTER (WHERE purchased_at <= %(now)s - interval '180 days') AS before
    FROM purchases WHERE purchased_at > %(now)s - interval '360 days' AND purchased_at <= %(now)s
    GROUP BY customer_id
)
SELECT coalesce(c.value_class, 'C'), c.lifecycle_phase,
       CASE WHEN s.score >= 9 THEN 'promoter' WHEN s.score >= 7 THEN 'passive'
            WHEN s.score IS NOT NULL THEN 'detractor' ELSE 'unknown' END,
       count(*), sum(coalesce(b.recent, 0)), sum(coalesce(b.before, 0)), count(s.previous)
FROM customers c LEFT JOIN scores s ON s.customer_id = c.id LEFT JOIN bought b ON b.customer_id = c.id
GROUP BY 1, 2, 3
"""
PAGE_FLOOR = (
    "SELECT value_class, phase, satisfaction, count(*), sum(revenue_12m) FROM customer_segments GROUP BY 1, 2, 3"
)


def seed_answers(url: str, answers: int, customers: int, now: datetime) -> None:
    """NPS answers over two years from 60% of the customers (some answered twice or more)."""
    with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
        conn.execute("SELECT setseed(0.17)")
        conn.execute(
            """
            INSERT INTO invitations (token, survey_id, customer_id, locale, status, created_at, expires_at, sent_at,
                                     reminders_queued, answered_at)
            SELECT 'b' || i, 1, 1 + floor(random() * %(c)s * 0.6)::int, 'de', 'answered', t, t, t, 0, t
            FROM (SELECT i, %(now)s - make_interval(secs => random() * 730 * 86400) AS t
                  FROM generate_series(1, %(n)s) AS i) g
            """,
            {"now": now, "n": answers, "c": customers},
        )
        conn.execute(
            """
            INSERT INTO responses (invitation_id, survey_id, customer_id, score, locale, created_at)
            SELECT id, 1, customer_id, (ARRAY[0,2,4,5,6,7,7,8,8,8,9,9,9,10,10,10])[1 + floor(random() * 16)::int],
                   'de', created_at
            FROM invitations
            """
        )
        conn.execute("VACUUM ANALYZE invitations")
        conn.execute("VACUUM ANALYZE responses")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--purchases", type=int, default=5_000_000)
    parser.add_argument("--answers", type=int, default=1_000_000)
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    with throwaway_database("kp_bench_cockpit") as url:
        env = migrated(url)
        begin = time.perf_counter()
        seed_customers_and_purchases(url, args.customers, args.purchases, now)
        seed_answers(url, args.answers, args.customers, now)
        print(
            f"seeded {args.customers} customers, {args.purchases} purchases, {args.answers} answers "
            f"in {time.perf_counter() - begin:.0f} s"
        )
        os.environ.update(env)
        from analytics.rollup import rebuild as rebuild_rollup
        from app import create_app
        from customers.lifecycle import recompute_phases
        from customers.values import refresh_values
        from kundenpuls.extensions import db
        from kundenpuls.models import User
        from retention.models import CustomerSegment
        from retention.refresh import refresh_all

        app = create_app()
        with app.app_context():
            begin = time.perf_counter()
            recompute_phases(db.session, now, "backfill")
            refresh_values(db.session, now)
            db.session.commit()
            print(f"phases and values computed (as the scheduler does) in {time.perf_counter() - begin:.0f} s")
            # The daily NPS rollup, which the answer path keeps and the bulk-loaded answers bypassed: the cockpit's
            # sparklines read it (analytics.queries.segment_months).
            rollup_rows = rebuild_rollup(db.session)
            db.session.commit()
            print(f"daily NPS rollup rebuilt: {rollup_rows} rows")

        with psycopg.connect(psycopg_url(url)) as conn:
            conn.execute("SET jit = off")
            floor = min(seconds_each(lambda: conn.execute(FLOOR, {"now": now}).fetchall(), 3))
        print(f"floor (bare SQL aggregation of the same inputs, nothing written): {floor:.1f} s")

        with app.app_context():

            def run(label: str, at: datetime) -> None:
                begin = time.perf_counter()
                segment_run = refresh_all(db.session, at, app.config["SEGMENT_REFRESH_WORKERS"])
                db.session.commit()
                seconds = time.perf_counter() - begin
                backend = backend_peak_mb(db.session.connection().connection.driver_connection)
                db.session.rollback()
                print(
                    f"{label:30}: {seconds:6.1f} s = {seconds / floor:4.1f}x the floor "
                    f"({app.config['SEGMENT_REFRESH_WORKERS']} connections); {segment_run.customers} "
                    f"customers, {segment_run.changes} moves, {segment_run.suggestions} suggestions; "
                    f"backend peak {backend or 0:.0f} MB, this process {peak_rss_mb():.0f} MB"
                )

            run("first full refresh", now)
            run("nightly refresh a day later", now + timedelta(days=1))
            placed = db.session.query(CustomerSegment).count()
            user = User(email="bench@example.com", role="manager", created_at=now)
            user.set_password("bench-password-123")
            db.session.add(user)
            db.session.commit()
            print(f"customers placed: {placed}")

        with psycopg.connect(psycopg_url(url)) as conn:
            # As after a purchase-model fit: about a fifth of the new and existing customers at risk, which the
            # cockpit counts per cell from the segments (a partial index of them).
            marked = conn.execute(
                "UPDATE customer_segments SET at_risk = (customer_id % 5 = 0) WHERE phase IN ('new', 'existing')"
            ).rowcount
            conn.execute("ANALYZE customer_segments")
        print(f"at-risk flags set on {marked} segments (one in five at risk)")
        app.config.update(WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
        client = app.test_client()
        with app.app_context():
            page = client.post("/login", data={"email": "bench@example.com", "password": "bench-password-123"})
            assert page.status_code == 302, page.status_code
            assert client.get("/cockpit").status_code == 200  # warm up
            samples = seconds_each(lambda: client.get("/cockpit"), 5)
        with psycopg.connect(psycopg_url(url)) as conn:
            bare = seconds_each(lambda: conn.execute(PAGE_FLOOR).fetchall(), 5)
        page_ms, bare_ms = statistics.median(samples) * 1000, statistics.median(bare) * 1000
        print(f"GET /cockpit: {page_ms:.0f} ms (median of 5); the bare GROUP BY over the segment table it spares: "
              f"{bare_ms:.0f} ms, page/GROUP BY = {page_ms / bare_ms:.2f}")  # fmt: skip
    print(f"peak memory of this process: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
