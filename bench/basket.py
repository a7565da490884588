"""The basket report (bought together, moves on to) over 5,000,000 purchases on PostgreSQL, next to a floor.

Seeds (in SQL) 1,000,000 customers with 5,000,000 purchases in 12 categories, with a planted pattern (Kitchen
buyers often buy Garden later), then times bought_together and moves for the whole base and one segment against
the floor: one bare GROUP BY over the purchases by category. Alternating rounds, paired median.
Target (issue 24): under 10 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg

from bench.common import migrated, psycopg_url, throwaway_database

CATEGORIES = ("Kitchen", "Garden", "Tools", "Toys", "Books", "Sports", "Garments", "Shoes", "Beauty", "Food",
              "Office", "Pets")  # fmt: skip


def seed(url: str, purchases: int) -> None:
    customers = purchases // 5
    names = "ARRAY[" + ", ".join(f"'{c}'" for c in CATEGORIES) + "]"
    with psycopg.connect(psycopg_url(url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT setseed(0.17)")
        cur.execute(
            "INSERT INTO customers (external_id, email, locale, created_at, value_class, lifecycle_phase) "
            "SELECT 'c' || g, 'c' || g || '@example.com', 'de', now(), (ARRAY['A','B','C'])[1 + g % 3], 'existing' "
            f"FROM generate_series(1, {customers}) g"
        )
        # Each customer's purchases: a random category, except that a Kitchen first purchase is followed by Garden
        # in 60% of cases.
        cur.execute(
            "INSERT INTO purchases (order_id, customer_id, amount, currency, category, purchased_at, created_at) "
            f"SELECT 'o' || g, 1 + (g - 1) % {customers}, 20, 'EUR', "
            f"CASE WHEN g > {customers} AND (g - 1) % {customers} % 10 < 3 AND random() < 0.6 THEN 'Garden' "
            f"WHEN g <= {customers} AND (g - 1) % {customers} % 10 < 3 THEN 'Kitchen' "
            f"ELSE ({names})[1 + floor(random() * {len(CATEGORIES)})::int] END, "
            f"now() - interval '400 days' + (g / {customers}) * interval '60 days' + random() * interval '30 days', "
            f"now() FROM generate_series(1, {purchases}) g"
        )
        cur.execute("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--purchases", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with throwaway_database("kp_bench_basket") as url:
        env = migrated(url)
        begin = time.perf_counter()
        seed(url, args.purchases)
        print(f"seeded {args.purchases} purchases in {time.perf_counter() - begin:.0f} s")
        os.environ.update(env)
        from analytics.co_purchase import baskets, bought_together, moves
        from app import create_app
        from kundenpuls.extensions import db

        app = create_app()
        today = datetime.now(UTC).date()
        start = today - timedelta(days=420)
        floors, pairs_s, moves_s = [], [], []
        with app.app_context(), psycopg.connect(psycopg_url(url)) as conn:
            for _ in range(args.rounds):
                begin = time.perf_counter()
                conn.execute("SELECT category, count(DISTINCT customer_id) FROM purchases GROUP BY category").fetchall()
                floors.append(time.perf_counter() - begin)
                begin = time.perf_counter()
                found = baskets(db.session, start, today)
                customers, pairs = bought_together(found)
                pairs_s.append(time.perf_counter() - begin)
                begin = time.perf_counter()
                moved = moves(db.session, start, today, found)
                moves_s.append(time.perf_counter() - begin)
                db.session.rollback()
            begin = time.perf_counter()
            segment = baskets(db.session, start, today, value_class="A")
            bought_together(segment)
            moves(db.session, start, today, segment, value_class="A")
            segment_s = time.perf_counter() - begin
    rounds = zip(floors, pairs_s, moves_s, strict=True)
    print("rounds floor/pairs/moves s: " + ", ".join(f"{f:.1f}/{p:.1f}/{m:.1f}" for f, p, m in rounds))
    both = [p + m for p, m in zip(pairs_s, moves_s, strict=True)]
    print(
        f"bought together over {customers} customers: median {statistics.median(pairs_s):.1f} s; moves on to: "
        f"{statistics.median(moves_s):.1f} s; both {statistics.median(both):.1f} s (target < 10 s: "
        f"{'met' if statistics.median(both) < 10 else 'NOT met'}); floor (distinct "
        f"customers per category) {statistics.median(floors):.1f} s; segment A, both: {segment_s:.1f} s"
    )
    top = pairs[0]
    kitchen = next(m for m in moved if (m.first, m.next) == ("Kitchen", "Garden"))
    print(f"top pair by lift: {top.first} + {top.second}, lift {top.lift:.2f}; Kitchen -> Garden: "
          f"{kitchen.share:.0%} of Kitchen starters, median {kitchen.median_days:.0f} days")  # fmt: skip


if __name__ == "__main__":
    main()
