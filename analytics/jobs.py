"""Scheduled work of analytics: answers into segments, the nightly segment refresh, the weekly digest, folding
rollup shards."""

from analytics.answers import apply_answers
from analytics.digest import send_weekly_digest
from analytics.rollup import compact
from analytics.segments import nightly_refresh

JOBS = (
    ("apply_answers", apply_answers),
    ("refresh_segments", nightly_refresh),
    ("compact_rollups", compact),
    ("weekly_digest", send_weekly_digest),
)
