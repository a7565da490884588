"""/queue's first page with 100,000 open cases on PostgreSQL, next to the bare SQL query for the same rows.

The page is requested through the real app (signed-in agent, Flask test client, no network); the floor is
the same rows fetched with psycopg directly: cases of the first page joined to customer, owner and answer.
Target (issue 23): p95 under 25 ms with 8 agents at once, closed loop, under gunicorn (4 sync workers) over
loopback; the earlier "within 3x of the bare query" target is withdrawn, the ratio is still printed. The CPU the
app and PostgreSQL spend per page during that loop (from /proc) gives, by Little's law, the wait the cores alone
explain: 8 agents x CPU per page / cores. README shows why 25 ms is out of reach on 2 cores and proposes p95 under
1.5x that wait, so that agents wait for the CPU only, never for each other (locks, the connection pool).
Also printed, as the floor any staff page of this stack starts from: a signed-in request that does nothing,
and one that fetches the bare query's rows through the app's SQLAlchemy session and renders nothing.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg

from bench import loadgen
from bench.common import cpu_seconds, migrated, psycopg_url, signed_in_agent, throwaway_database
from bench.submit import gunicorn, stop
from tests.smtp import free_port

BARE = """
SELECT c.*, cu.*, u.*, r.*
FROM cases c
LEFT JOIN customers cu ON cu.id = c.customer_id
LEFT JOIN users u ON u.id = c.owner_id
LEFT JOIN responses r ON r.id = c.response_id
WHERE c.status IN ('new', 'in_progress', 'waiting')
ORDER BY c.rank_at, c.id
LIMIT 51
"""


def seed(url: str, n: int) -> None:
    """n customers, each with one answered invitation, a detractor response and an open case (COPY)."""
    rng = random.Random(7)
    now = datetime.now(UTC).replace(tzinfo=None)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")
    customers, invitations, responses, cases = io.StringIO(), io.StringIO(), io.StringIO(), io.StringIO()
    for i in range(1, n + 1):
        customers.write(f"q{i}\tkunde{i}@example.com\tKunde {i}\tde\t{stamp}\n")
        invitations.write(f"tok{i:09d}\t1\t{i}\tde\tanswered\t{stamp}\t{stamp}\t0\n")
        score = rng.randint(0, 6)
        responses.write(f"{i}\t1\t{i}\t{score}\tKommentar Nummer {i}: Lieferung zu spät\tde\t{stamp}\n")
        due = now + timedelta(hours=rng.randint(-48, 240))
        points = (7 - score) * 6 + rng.randint(0, 30)
        rank = due - timedelta(hours=points)
        status = rng.choice(("new", "new", "in_progress", "waiting"))
        due_s, rank_s = f"{due:%Y-%m-%d %H:%M:%S}", f"{rank:%Y-%m-%d %H:%M:%S}"
        cases.write(
            f"{i}\t{i}\t1\tdetractor\t{score}\t{status}\tnormal\t{points}\t[]\t0\t{stamp}\t"
            f"{due_s}\t{due_s}\t{due_s}\t{rank_s}\t0\t1\n"
        )
    with psycopg.connect(psycopg_url(url)) as conn, conn.cursor() as cur:
        for table, columns, data in (
            ("customers", "external_id, email, name, locale, created_at", customers),
            (
                "invitations",
                "token, survey_id, customer_id, locale, status, created_at, expires_at, reminders_queued",
                invitations,
            ),
            ("responses", "invitation_id, survey_id, customer_id, score, comment, locale, created_at", responses),
            (
                "cases",
                "response_id, customer_id, survey_id, kind, score, status, priority, priority_points,"
                " priority_reasons, customer_value, created_at, first_contact_due_at, resolution_due_at,"
                " next_due_at, rank_at, escalation_level, version",
                cases,
            ),
        ):
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write(data.getvalue())
        cur.execute("ANALYZE")


def timed(fn, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def p95(samples: list[float]) -> float:
    return sorted(samples)[int(len(samples) * 0.95) - 1]


AGENTS = 8
TARGET_P95_MS = 25  # issue 23


def eight_agents(env: dict, cookie: str, seconds: float) -> tuple[loadgen.Result, dict[str, float]]:
    """/queue's first page requested by 8 clients at once (2 processes x 4 threads), each as soon as its last page
    came back, under gunicorn with the bench's usual 4 sync workers; with the CPU milliseconds per page that
    gunicorn and PostgreSQL spent meanwhile."""
    port = free_port()
    proc = gunicorn("wsgi:app", port, 4, env)
    try:
        page = f"GET /queue HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nCookie: session={cookie}\r\n\r\n"
        requests = [page.encode()] * 100_000
        loadgen.run(port, requests[:200], 2, 2, 4)  # warm-up
        before = cpu_seconds(proc.pid)
        result = loadgen.run(port, requests, seconds, 2, AGENTS // 2)
        after = cpu_seconds(proc.pid)
        return result, {kind: (after[kind] - before[kind]) * 1000 / result.ok for kind in after}
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20, help="of the 8-agent phase")
    args = parser.parse_args()
    with throwaway_database("kp_bench_queue") as url:
        env = migrated(url)
        seed(url, args.cases)
        os.environ.update(env)
        from flask_login import login_required
        from sqlalchemy import text

        from app import create_app
        from kundenpuls.extensions import db

        app = create_app({"LOGIN_RATE_LIMIT": "1000 per minute"})

        @app.get("/bench/rows")
        @login_required
        def rows_only():
            """The stack's floor for any staff page showing these rows: a signed-in request that fetches the bare
            query's rows through the app's session and renders nothing."""
            return str(len(db.session.execute(text(BARE)).all()))

        @app.get("/bench/nothing")
        @login_required
        def nothing():
            """A signed-in request that does nothing: Flask, the session cookie and loading the user."""
            return "ok"

        client = signed_in_agent(app)

        def signed_in():
            assert client.get("/bench/nothing").text == "ok"

        def stack_floor():
            response = client.get("/bench/rows")
            assert response.status_code == 200 and response.text == "51"

        def page():
            response = client.get("/queue")
            assert response.status_code == 200 and response.text.count('<tr class="priority-') == 50

        with psycopg.connect(psycopg_url(url)) as conn:

            def bare():
                rows = conn.execute(BARE).fetchall()
                assert len(rows) == 51

            timed(bare, 20)
            timed(page, 20)
            if os.environ.get("KP_PROFILE"):
                import cProfile
                import pstats

                profile = cProfile.Profile()
                profile.enable()
                timed(page, 20)
                profile.disable()
                order = os.environ.get("KP_PROFILE_SORT", "cumulative")
                pstats.Stats(profile).sort_stats(order).print_stats(int(os.environ.get("KP_PROFILE_LINES", "45")))
            timed(stack_floor, 20)
            timed(signed_in, 20)
            nothing_ms = timed(signed_in, args.runs)
            bare_ms, page_ms = timed(bare, args.runs), timed(page, args.runs)
            floor_ms = timed(stack_floor, args.runs)
            plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + BARE).fetchall())
        agents, cpu_ms = eight_agents(env, client.get_cookie("session").value, args.seconds)
    bare_median, page_median = statistics.median(bare_ms), statistics.median(page_ms)
    print(f"open cases: {args.cases}; {args.runs} runs each after warm-up")
    print(f"bare SQL, first page (51 rows, 3 joins): median {bare_median:6.2f} ms  p95 {p95(bare_ms):6.2f} ms")
    floor_median, nothing_median = statistics.median(floor_ms), statistics.median(nothing_ms)
    print(
        f"signed-in request that does nothing: median {nothing_median:6.2f} ms "
        f"({nothing_median / bare_median:.1f}x the bare query)"
    )
    print(
        f"signed-in request, same rows via the app's session, nothing rendered: median {floor_median:6.2f} ms "
        f"({floor_median / bare_median:.1f}x the bare query)"
    )
    print(f"GET /queue, first page (rendered):       median {page_median:6.2f} ms  p95 {p95(page_ms):6.2f} ms")
    print(f"ratio: {page_median / bare_median:.1f}x the bare query (the 3x target is withdrawn)")
    p95_ms, mean_ms = agents.percentile(0.95), statistics.mean(agents.latencies) * 1000
    met = "met" if p95_ms < TARGET_P95_MS and not agents.errors else "NOT met"
    print(
        f"{AGENTS} agents at once under gunicorn, {args.seconds:.0f} s closed loop: {agents.rate:.0f} pages/s  "
        f"p50 {agents.percentile(0.5):.1f} ms  p95 {p95_ms:.1f} ms  mean {mean_ms:.1f} ms  errors {agents.errors} "
        f"(target p95 < {TARGET_P95_MS} ms: {met})"
    )
    cores = len(os.sched_getaffinity(0))
    page_cpu = sum(cpu_ms.values())
    wait = AGENTS * page_cpu / cores  # Little's law: each agent waits for the pages of the others ahead of it
    print(
        f"CPU per page meanwhile: app (gunicorn) {cpu_ms['app']:.2f} ms + PostgreSQL {cpu_ms['postgres']:.2f} ms "
        f"= {page_cpu:.2f} ms; on {cores} cores {AGENTS} agents wait {AGENTS} x {page_cpu:.2f} / {cores} = "
        f"{wait:.1f} ms for the CPU alone (Little's law)"
    )
    needed = TARGET_P95_MS / (p95_ms / mean_ms) * cores / AGENTS
    print(
        f"p95 < {TARGET_P95_MS} ms at this run's spread (p95 {p95_ms / mean_ms:.2f}x the mean) needs at most "
        f"{needed:.1f} ms of CPU per page, {needed / page_cpu:.0%} of today's"
    )
    ratio = p95_ms / wait
    proposed = "met" if ratio < 1.5 and not agents.errors else "NOT met"
    print(
        f"proposed target (README: why {TARGET_P95_MS} ms is out of reach on {cores} cores): p95 with {AGENTS} agents "
        f"under 1.5x the wait the CPU alone explains: {ratio:.2f}x ({proposed})"
    )
    print("plan of the bare query:\n" + plan)


if __name__ == "__main__":
    main()
