"""Lifecycle phases for 1,000,000 customers with 10,000,000 purchases on PostgreSQL, recomputed set-based.

Seeds customers and purchases inside the database (generate_series: no rows pass through Python), then times
- the floor: the bare statement that computes every customer's last purchase (GROUP BY customer_id);
- the first recompute (every customer gets a phase and a history row, as after installing);
- a daily recompute a day later (time passes: some turn inactive or existing, most stay);
- a rule change (inactive after 180 instead of 365 days), which recomputes everyone.
Targets: each recompute under 60 s and under 500 MB of memory (this process, and the database backend's peak).
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime, timedelta

import psycopg

from bench.common import migrated, peak_rss_mb, psycopg_url, seconds_each, throwaway_database

FLOOR = "SELECT count(*), max(last) FROM (SELECT customer_id, max(purchased_at) AS last FROM purchases GROUP BY 1) s"


def seed(url: str, customers: int, purchases: int, now: datetime) -> None:
    """Customers who joined over five years; purchases spread so that every phase occurs (about a fifth have
    none in the last year, some only one); 2% cancelled."""
    with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute(
            """
            INSERT INTO customers (id, external_id, email, locale, created_at, lifecycle_phase, purchase_count,
                                   cancelled_at)
            SELECT i, 'c' || i, 'c' || i || '@example.com', CASE WHEN i %% 5 = 0 THEN 'en' ELSE 'de' END,
                   %(now)s - make_interval(days => ((i::bigint * 7919) %% 1825)::int), 'potential', 0,
                   CASE WHEN i %% 50 = 0 THEN %(now)s - make_interval(days => ((i::bigint * 31) %% 700)::int) END
            FROM generate_series(1, %(n)s) AS i
            """,
            {"now": now, "n": customers},
        )
        conn.execute("SELECT setval('customers_id_seq', %(n)s)", {"n": customers})
        # Customers are skewed (random()^4: low ids buy often, about 8% never); every seventh customer stopped
        # buying at least 400 days ago; purchases spread over four years.
        conn.execute("SELECT setseed(0.42)")
        conn.execute(
            """
            INSERT INTO purchases (order_id, customer_id, amount, margin, currency, category, purchased_at, created_at)
            SELECT 'o' || j, c, 50, 12, 'EUR', 'Haushalt', t, t
            FROM (
                SELECT j, c, %(now)s - make_interval(days => CASE WHEN c %% 7 = 0 THEN 400 ELSE 0 END,
                                                     secs => random() * 4 * 365 * 86400) AS t
                FROM (SELECT j, 1 + floor(power(random(), 4) * %(n)s)::int AS c
                      FROM generate_series(1, %(p)s) AS j) g
            ) s
            """,
            {"now": now, "n": customers, "p": purchases},
        )
        conn.execute("VACUUM ANALYZE customers")
        conn.execute("VACUUM ANALYZE purchases")


def backend_peak_mb(conn) -> float | None:
    """Peak resident memory (VmHWM) of this connection's PostgreSQL backend, when /proc is readable."""
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--purchases", type=int, default=10_000_000)
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    with throwaway_database("kp_bench_lifecycle") as url:
        env = migrated(url)
        begin = time.perf_counter()
        seed(url, args.customers, args.purchases, now)
        print(f"seeded {args.customers} customers, {args.purchases} purchases in {time.perf_counter() - begin:.0f} s")
        os.environ.update(env)
        from sqlalchemy import func, select

        from app import create_app
        from customers.lifecycle import current_rules, recompute_phases, update_rules
        from customers.models import Customer
        from kundenpuls.extensions import db

        with psycopg.connect(psycopg_url(url)) as conn:
            floor = min(seconds_each(lambda: conn.execute(FLOOR).fetchone(), 3))
        print(f"floor (bare last-purchase GROUP BY over {args.purchases} purchases): {floor:.1f} s")

        app = create_app()
        with app.app_context():

            def run(label: str, action) -> None:
                begin = time.perf_counter()
                changes = action()
                db.session.commit()
                seconds = time.perf_counter() - begin
                backend = backend_peak_mb(db.session.connection().connection.driver_connection)
                db.session.rollback()
                print(
                    f"{label:34}: {seconds:6.1f} s = {seconds / floor:4.1f}x the floor, {changes} phase changes; "
                    f"backend peak {backend or 0:.0f} MB, this process {peak_rss_mb():.0f} MB"
                )

            current_rules(db.session)
            db.session.commit()
            run("first recompute (everyone)", lambda: recompute_phases(db.session, now, "backfill"))
            run("a day later", lambda: recompute_phases(db.session, now + timedelta(days=1), "time"))
            values = {"new_until_purchases": 2, "new_for_days": 180, "inactive_after_days": 180}
            run("rule change: inactive after 180 d", lambda: update_rules(db.session, values, None, now))
            phases = dict(
                db.session.execute(
                    select(Customer.lifecycle_phase, func.count()).group_by(Customer.lifecycle_phase)
                ).all()
            )
            print("phases now:", ", ".join(f"{k} {v}" for k, v in sorted(phases.items())))
    print(f"peak memory of this process: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
