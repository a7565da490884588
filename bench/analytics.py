"""NPS trend and drivers over 1,000,000 answers on PostgreSQL: the rollup vs the raw rows vs pandas.

Seeds three years of answers with COPY, builds the daily rollup once (as the migration would), then times:
- the monthly and weekly trend through the app's report (rollup), unfiltered and filtered by language;
- the floor: a hand-written GROUP BY date_trunc(...) with count(*) FILTER (...) over the raw answers;
- the drivers report over all answers;
- the analyst's way: read every answer into pandas and group by month.
Targets: trend under 100 ms and at least 5x faster than the floor, same numbers; drivers under 5 s.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta

import psycopg

from bench.common import migrated, peak_rss_mb, psycopg_url, throwaway_database

CATEGORIES = ("Küche", "Garten", "Technik", "Haushalt", "Mode")
FLOOR = """
SELECT date_trunc(%(interval)s, created_at) AS period,
       count(*) FILTER (WHERE score >= 9), count(*) FILTER (WHERE score BETWEEN 7 AND 8),
       count(*) FILTER (WHERE score <= 6)
FROM responses WHERE created_at >= %(since)s AND created_at < %(until)s {extra}
GROUP BY 1 ORDER BY 1
"""


def seed(url: str, answers: int, start: datetime) -> None:
    rng = random.Random(11)
    customers_n = answers // 5
    customers, purchases, invitations, responses = (io.StringIO() for _ in range(4))
    for c in range(1, customers_n + 1):
        locale = "de" if rng.random() < 0.8 else "en"
        customers.write(
            f"a{c}\ta{c}@example.com\t{locale}\t{start:%Y-%m-%d}\t{'ABC'[rng.choices((0, 1, 2), (1, 3, 6))[0]]}\n"
        )
    span = 3 * 365 * 86400
    for i in range(1, answers + 1):
        customer = rng.randint(1, customers_n)
        bought = start + timedelta(seconds=rng.randint(0, span - 10 * 86400))
        answered = bought + timedelta(days=3, hours=rng.uniform(1, 120))
        category = rng.choice(CATEGORIES)
        amount = round(rng.lognormvariate(4, 0.6), 2)
        unhappy = category == "Garten" and rng.random() < 0.3
        score = (
            rng.choice((0, 2, 4, 5, 6)) if unhappy else rng.choices(range(11), (1, 1, 1, 2, 2, 3, 5, 10, 14, 25, 30))[0]
        )
        locale = "de" if customer % 5 else "en"
        stamp = f"{bought:%Y-%m-%d %H:%M:%S}"
        purchases.write(f"b{i}\t{customer}\t{amount}\t{amount / 4:.2f}\tEUR\t{category}\t{stamp}\t{stamp}\n")
        invitations.write(
            f"t{i}\t1\t{customer}\t{i}\t{locale}\tanswered\t{bought:%Y-%m-%d %H:%M:%S}\t{answered:%Y-%m-%d %H:%M:%S}\t"
            f"{bought:%Y-%m-%d %H:%M:%S}\t0\n"
        )
        responses.write(f"{i}\t1\t{customer}\t{score}\t\\N\t{locale}\t{answered:%Y-%m-%d %H:%M:%S}\n")
    with psycopg.connect(psycopg_url(url)) as conn, conn.cursor() as cur:
        for table, columns, data in (
            ("customers", "external_id, email, locale, created_at, value_class", customers),
            ("purchases",
             "order_id, customer_id, amount, margin, currency, category, purchased_at, created_at", purchases),
            ("invitations",
             "token, survey_id, customer_id, purchase_id, locale, status, created_at, expires_at, sent_at,"
             " reminders_queued", invitations),
            ("responses", "invitation_id, survey_id, customer_id, score, comment, locale, created_at", responses),
        ):  # fmt: skip
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write(data.getvalue())
        cur.execute("ANALYZE")


def timed(fn, runs: int) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(runs):
        begin = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - begin) * 1000)
    return statistics.median(samples), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    end = date.today()
    start = datetime.combine(end - timedelta(days=3 * 365), datetime.min.time(), UTC)
    with throwaway_database("kp_bench_analytics") as url:
        env = migrated(url)
        begin = time.perf_counter()
        seed(url, args.answers, start)
        print(f"seeded {args.answers} answers over 3 years in {time.perf_counter() - begin:.0f} s")
        os.environ.update(env)
        from sqlalchemy import text

        from analytics.drivers import driver_report
        from analytics.facts import record_facts
        from analytics.queries import ReportFilter, nps_report
        from analytics.rollup import rebuild
        from app import create_app
        from customers.lifecycle import recompute_phases
        from kundenpuls.extensions import db

        app = create_app()
        with app.app_context():
            begin = time.perf_counter()
            rows = rebuild(db.session)
            db.session.commit()
            print(f"rollup built: {rows} rows in {time.perf_counter() - begin:.1f} s")
            begin = time.perf_counter()
            changes = recompute_phases(db.session, datetime.now(UTC), "backfill")
            db.session.commit()
            print(f"lifecycle phases and purchase figures: {changes} customers in {time.perf_counter() - begin:.1f} s")
            begin = time.perf_counter()
            facts = record_facts(db.session)  # what the scheduler's nightly run does for answers loaded in bulk
            db.session.commit()
            db.session.execute(text("ANALYZE answer_facts"))
            db.session.commit()
            print(f"answer facts for the drivers report: {facts} answers in {time.perf_counter() - begin:.1f} s")
            first = start.date()
            with psycopg.connect(psycopg_url(url)) as conn:
                for interval in ("month", "week"):
                    for label, filters, extra, params in (
                        ("all answers", ReportFilter(), "", {}),
                        ("language=en", ReportFilter(locale="en"), "AND locale = %(locale)s", {"locale": "en"}),
                    ):
                        since = datetime.combine(first, datetime.min.time(), UTC)
                        until = datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC)
                        query = FLOOR.format(extra=extra)
                        values = {"interval": interval, "since": since, "until": until, **params}
                        floor_ms, floor_rows = timed(lambda q=query, v=values: conn.execute(q, v).fetchall(), args.runs)
                        app_ms, report = timed(
                            lambda i=interval, f=filters: nps_report(db.session, first, end, i, f), args.runs
                        )
                        db.session.rollback()
                        same = [tuple(r[1:]) for r in floor_rows] == [
                            (p.figure.promoters, p.figure.passives, p.figure.detractors)
                            for p in report.periods
                            if p.figure.n
                        ]
                        print(
                            f"trend per {interval:5} {label:12}: report {app_ms:7.1f} ms, floor (raw SQL) "
                            f"{floor_ms:7.1f} ms = {floor_ms / app_ms:5.1f}x faster; same numbers: {same}"
                        )
                begin = time.perf_counter()
                import pandas as pd

                frame = pd.DataFrame(
                    conn.execute("SELECT created_at, score FROM responses").fetchall(), columns=["created_at", "score"]
                )
                frame["period"] = frame["created_at"].dt.to_period("M")
                grouped = frame.groupby("period")["score"].agg(
                    promoters=lambda s: (s >= 9).sum(), detractors=lambda s: (s <= 6).sum(), n="count"
                )
                pandas_ms = (time.perf_counter() - begin) * 1000
                monthly_ms, _ = timed(lambda: nps_report(db.session, first, end, "month", ReportFilter()), args.runs)
                print(
                    f"pandas (read {len(frame)} rows, group by month): {pandas_ms:7.0f} ms = "
                    f"{pandas_ms / monthly_ms:.0f}x the report; {len(grouped)} months"
                )
            begin = time.perf_counter()
            drivers = driver_report(db.session, first, end, ReportFilter())
            print(
                f"drivers over all answers: {time.perf_counter() - begin:.1f} s "
                f"({drivers.promoters} promoters, {drivers.detractors} detractors, {len(drivers.findings)} findings); "
                f"top: {drivers.findings[0].sentence if drivers.findings else '-'}"
            )
    print(f"peak memory of this process: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
