"""Purchase-behaviour models at retailer scale: `flask model fit` on 1,000,000 customers and 5,000,000 purchases
on PostgreSQL, scoring every customer, and the outlook API.

Seeds purchase histories drawn from the BG/NBD process (with Gamma-Gamma amounts) with COPY, then in alternating
rounds times
- the floor: one GROUP BY over the purchases fetched to Python (customer, count, first and last day), the least
  any fit must read;
- `flask --app wsgi model fit` in its own process (summary SQL, both fits, scoring and writing a million
  outlooks), with its peak memory.
Then GET /api/v1/customers/<id>/outlook for random customers against GET /healthz on the same client (p95).
Targets (issue 19): fit within 60 s, peak memory under 1 GB, scoring within 30 s, outlook p95 under 20 ms.
`--sqlite N` also times the same fit on SQLite with N customers.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg

from bench.common import ROOT, migrated, new_api_key, psycopg_url, throwaway_database

AS_OF = date(2026, 6, 30)
PARAMS = (0.8, 40.0, 0.8, 5.0)  # r, alpha per day, a, b: about five purchase days per customer over two years
SPEND = (4.0, 3.5, 90.0)
FLOOR = """
SELECT customer_id, count(*), min(purchased_at), max(purchased_at)
FROM purchases WHERE purchased_at < %(until)s GROUP BY customer_id
"""


def histories(customers: int, seed: int = 19):
    """(customer index, day offset, amount) arrays from the models' process, first purchases over 730 days."""
    rng = np.random.default_rng(seed)
    r, alpha, a, b = PARAMS
    p, q, gamma = SPEND
    age = rng.uniform(0, 730, customers)
    lam, drop, nu = rng.gamma(r, 1 / alpha, customers), rng.beta(a, b, customers), rng.gamma(q, 1 / gamma, customers)
    who, when = [np.arange(customers)], [np.zeros(customers)]
    now, alive = np.zeros(customers), np.ones(customers, dtype=bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        now[idx] += rng.exponential(1 / lam[idx])
        bought = now[idx] < age[idx]
        alive[idx[~bought]] = False
        got = idx[bought]
        who.append(got)
        when.append(now[got])
        alive[got[rng.random(len(got)) < drop[got]]] = False
    who, when = np.concatenate(who), np.concatenate(when)
    start = datetime.combine(AS_OF + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    moments = start.timestamp() - (age[who] - when) * 86400
    amounts = np.round(rng.gamma(p, 1 / nu[who]), 2) + 0.01
    return who, moments, amounts


def seed_postgresql(url: str, customers: int) -> int:
    who, moments, amounts = histories(customers)
    created = datetime(2024, 1, 1, tzinfo=UTC).isoformat()
    with psycopg.connect(psycopg_url(url)) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY customers (id, external_id, locale, created_at, lifecycle_phase, purchase_count) FROM STDIN"
        ) as copy:
            buffer = io.StringIO()
            for i in range(customers):
                buffer.write(f"{i + 1}\tb-{i + 1}\tde\t{created}\tnew\t0\n")
            copy.write(buffer.getvalue())
        stamps = [datetime.fromtimestamp(m, UTC).isoformat() for m in moments]
        with cur.copy(
            "COPY purchases (order_id, customer_id, amount, currency, purchased_at, created_at) FROM STDIN"
        ) as copy:
            for start in range(0, len(who), 500_000):
                buffer = io.StringIO()
                for n in range(start, min(start + 500_000, len(who))):
                    buffer.write(f"o-{n}\t{who[n] + 1}\t{amounts[n]:.2f}\tEUR\t{stamps[n]}\t{stamps[n]}\n")
                copy.write(buffer.getvalue())
        cur.execute("SELECT setval('customers_id_seq', %s)", (customers,))
        cur.execute("ANALYZE customers")
        cur.execute("ANALYZE purchases")
    return len(who)


def floor_seconds(url: str) -> float:
    until = datetime.combine(AS_OF + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    begin = time.perf_counter()
    with psycopg.connect(psycopg_url(url)) as conn:
        rows = conn.execute(FLOOR, {"until": until}).fetchall()
    assert rows
    return time.perf_counter() - begin


def fit_seconds(env: dict[str, str]) -> tuple[float, float, dict]:
    """Wall time and peak RSS (MB) of `flask model fit` in a child process, and its JSON. The peak comes from GNU
    time around the command: a child forked from this process (which holds the seeded histories) would report
    this process's pages as its own peak."""
    import json
    import shutil

    timer = shutil.which("time") or "/usr/bin/time"
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "model", "fit", "--as-of", AS_OF.isoformat()]
    with tempfile.NamedTemporaryFile(mode="r", suffix=".rss") as peak_file:
        measured = os.path.exists(timer)
        if measured:
            command = [timer, "-f", "%M", "-o", peak_file.name, *command]
        begin = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True)
        seconds = time.perf_counter() - begin
        if done.returncode != 0:
            raise SystemExit(f"model fit failed: {done.stdout}\n{done.stderr}")
        peak = int(peak_file.read().strip().splitlines()[-1]) / 1024 if measured else float("nan")
    return seconds, peak, json.loads(done.stdout)


def outlook_latency(env: dict[str, str], customers: int, requests: int = 400) -> tuple[float, float]:
    """p95 in ms of the outlook API and of /healthz, alternating on one client."""
    os.environ.update(env)
    from app import create_app

    app = create_app()
    key = new_api_key(app)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    rng = np.random.default_rng(3)
    api, floor = [], []
    for n in rng.integers(1, customers + 1, requests):
        begin = time.perf_counter()
        response = client.get(f"/api/v1/customers/b-{n}/outlook", headers=headers)
        api.append(time.perf_counter() - begin)
        assert response.status_code in (200, 404), response.get_json()
        begin = time.perf_counter()
        client.get("/healthz")
        floor.append(time.perf_counter() - begin)
    p95 = lambda values: statistics.quantiles(values, n=20)[-1] * 1000  # noqa: E731
    return p95(api), p95(floor)


def sqlite_fit(customers: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        env = migrated(url)
        import sqlite3

        who, moments, amounts = histories(customers)
        with sqlite3.connect(f"{folder}/bench.db") as conn:
            conn.executemany(
                "INSERT INTO customers (id, external_id, locale, created_at, lifecycle_phase, purchase_count) "
                "VALUES (?, ?, 'de', '2024-01-01 00:00:00', 'new', 0)",
                ((i + 1, f"b-{i + 1}") for i in range(customers)),
            )
            conn.executemany(
                "INSERT INTO purchases (order_id, customer_id, amount, currency, purchased_at, created_at) "
                "VALUES (?, ?, ?, 'EUR', ?, ?)",
                (
                    (f"o-{n}", int(who[n]) + 1, float(amounts[n]), stamp, stamp)
                    for n, stamp in enumerate(
                        datetime.fromtimestamp(m, UTC).strftime("%Y-%m-%d %H:%M:%S.%f") for m in moments
                    )
                ),
            )
        seconds, peak, shown = fit_seconds(env)
        print(
            f"SQLite: {customers} customers, {len(who)} purchases: model fit {seconds:.1f} s, peak {peak:.0f} MB, "
            f"fit's own time {shown['seconds']:.1f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sqlite", type=int, default=100_000, help="customers for the SQLite timing (0: skip)")
    args = parser.parse_args()
    with throwaway_database("kp_models") as url:
        env = migrated(url)
        begin = time.perf_counter()
        purchases = seed_postgresql(url, args.customers)
        took = time.perf_counter() - begin
        print(f"PostgreSQL: {args.customers} customers, {purchases} purchases seeded in {took:.0f} s")
        floors, fits, ratios, peaks = [], [], [], []
        shown = {}
        for _ in range(args.rounds):
            floor = floor_seconds(url)
            seconds, peak, shown = fit_seconds(env)
            floors.append(floor)
            fits.append(seconds)
            ratios.append(seconds / floor)
            peaks.append(peak)
            steps = ", ".join(f"{k} {v:.1f} s" for k, v in shown["timings"].items())
            print(f"round: floor {floor:.1f} s, model fit {seconds:.1f} s ({steps}), peak {peak:.0f} MB")
        print(f"floor (GROUP BY fetched):  median {statistics.median(floors):.1f} s")
        print(
            f"model fit (whole command): median {statistics.median(fits):.1f} s (target 60 s), "
            f"{statistics.median(ratios):.1f}x the floor (paired median); peak memory {max(peaks):.0f} MB (target 1024)"
        )
        fit = shown["purchases"]
        print(
            f"fit: r {fit['r']:.3f} alpha {fit['alpha']:.2f} a {fit['a']:.3f} b {fit['b']:.3f} "
            f"(drawn from {PARAMS}), converged {fit['converged']}; spend p {shown['spend']['p']:.2f} "
            f"q {shown['spend']['q']:.2f} gamma {shown['spend']['gamma']:.1f} (drawn from {SPEND})"
        )
        api, floor = outlook_latency(env, args.customers)
        print(f"outlook API p95 {api:.1f} ms (target 20 ms); /healthz p95 {floor:.1f} ms on the same client")
    if args.sqlite:
        sqlite_fit(args.sqlite)


if __name__ == "__main__":
    main()
