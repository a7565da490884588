"""Scheduled work of analytics: folding rollup shards and the weekly digest."""

from analytics.digest import send_weekly_digest
from analytics.rollup import compact

JOBS = (
    ("compact_rollups", compact),
    ("weekly_digest", send_weekly_digest),
)
