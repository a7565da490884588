"""The importance report over a million answers with eight rated attributes, on PostgreSQL, next to a floor.

Seeds (in SQL) 1,000,000 NPS answers whose scores follow eight ratings with known weights (5% "does not apply"),
then times importance_report (the segment's moments summed in SQL per group, Shapley over 2^8 subsets, a
1,000-resample bootstrap) against the floor: one bare pass over the ratings (count and sum). Rounds alternate;
the paired median is reported. Target (issue 24): under 5 s with the bootstrap, on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, date, datetime, timedelta

import psycopg

from bench.common import migrated, psycopg_url, throwaway_database

WEIGHTS = (0.9, 0.6, 0.4, 0.3, 0.2, 0.1, 0.05, 0.0)


def seed(url: str, answers: int) -> None:
    customers = max(1, answers // 5)
    weights = " + ".join(f"{w} * coalesce(a{n + 1}, 3)" for n, w in enumerate(WEIGHTS))
    ratings = ", ".join(f"CASE WHEN random() < 0.05 THEN NULL ELSE 1 + floor(random() * 5)::int END AS a{n + 1}"
                        for n in range(len(WEIGHTS)))  # fmt: skip
    with psycopg.connect(psycopg_url(url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT setseed(0.42)")
        cur.execute(
            "INSERT INTO rating_attributes (key, label_de, label_en, position) VALUES "
            "('packaging', 'Verpackung', 'Packaging', 60), ('returns', 'Rücknahme', 'Returns', 70)"
        )
        cur.execute("UPDATE surveys SET rating_grid = true WHERE id = 1")
        cur.execute(
            "INSERT INTO customers (external_id, email, locale, created_at, value_class, lifecycle_phase) "
            "SELECT 'c' || g, 'c' || g || '@example.com', 'de', now(), (ARRAY['A','B','C'])[1 + g % 3], 'existing' "
            f"FROM generate_series(1, {customers}) g"
        )
        cur.execute(
            f"CREATE TEMP TABLE seeded AS SELECT g AS id, now() - (g % 300) * interval '1 day' AS at, {ratings} "
            f"FROM generate_series(1, {answers}) g"
        )
        cur.execute(
            "INSERT INTO invitations (token, survey_id, customer_id, locale, status, created_at, expires_at, sent_at,"
            f" reminders_queued) SELECT 't' || id, 1, 1 + id % {customers}, 'de', 'answered', at, at, at, 0 FROM seeded"
        )
        cur.execute(
            "INSERT INTO responses (invitation_id, survey_id, customer_id, score, locale, created_at) "
            f"SELECT id, 1, 1 + id % {customers}, "
            f"least(10, greatest(0, round(-3.5 + {weights} + (random() - 0.5) * 4)))::int, 'de', at FROM seeded"
        )
        columns = ", ".join(f"(a{n + 1}, {n + 1})" for n in range(len(WEIGHTS)))
        cur.execute(
            "INSERT INTO attribute_ratings (response_id, attribute_id, rating) "
            "SELECT s.id, x.attribute, x.rating FROM seeded s "
            f"CROSS JOIN LATERAL (VALUES {columns}) AS x(rating, attribute)"
        )
        cur.execute("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with throwaway_database("kp_bench_importance") as url:
        env = migrated(url)
        begin = time.perf_counter()
        seed(url, args.answers)
        print(f"seeded {args.answers} answers with {len(WEIGHTS)} ratings each in {time.perf_counter() - begin:.0f} s")
        os.environ.update(env)
        from analytics.importance_report import Segment, importance_report
        from app import create_app
        from kundenpuls.extensions import db

        app = create_app()
        today = datetime.now(UTC).date()
        start = today - timedelta(days=400)
        floors, runs, report = [], [], None
        with app.app_context(), psycopg.connect(psycopg_url(url)) as conn:
            for _ in range(args.rounds):
                begin = time.perf_counter()
                conn.execute("SELECT count(*), sum(rating) FROM attribute_ratings").fetchone()
                floors.append(time.perf_counter() - begin)
                begin = time.perf_counter()
                report = importance_report(db.session, start, today, Segment())
                db.session.rollback()
                runs.append(time.perf_counter() - begin)
            begin = time.perf_counter()
            segment = importance_report(db.session, start, today, Segment(value_class="A", phase="existing"))
            segment_s = time.perf_counter() - begin
    ratios = sorted(run / floor for floor, run in zip(floors, runs, strict=True))
    print("rounds floor/report s: " + ", ".join(f"{f:.2f}/{r:.2f}" for f, r in zip(floors, runs, strict=True)))
    print(
        f"importance report, {report.complete} complete answers of {report.n}: median {statistics.median(runs):.2f} s "
        f"(target < 5 s); floor (one pass over the {args.answers * len(WEIGHTS)} ratings) "
        f"{statistics.median(floors):.2f} s; paired median ratio {ratios[len(ratios) // 2]:.1f}x"
    )
    print(f"segment A x existing: {segment.complete} complete answers in {segment_s:.2f} s")
    order = sorted(report.attributes, key=lambda f: -f.importance)
    print("recovered order (weights " + ", ".join(map(str, WEIGHTS)) + "): "
          + ", ".join(f"{f.attribute.key} {f.share_of_r2:.0%}" for f in order))  # fmt: skip
    print(f"R^2 {report.r2:.3f}; {date.today()}")


if __name__ == "__main__":
    main()
