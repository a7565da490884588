"""Scheduled work of analytics: the nightly segment refresh, the weekly digest, folding rollup shards."""

from analytics.digest import send_weekly_digest
from analytics.rollup import compact
from analytics.segments import nightly_refresh

JOBS = (
    ("refresh_segments", nightly_refresh),
    ("compact_rollups", compact),
    ("weekly_digest", send_weekly_digest),
)
