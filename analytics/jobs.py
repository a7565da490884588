"""Scheduled work of analytics: the weekly digest, and folding rollup shards of finished days."""

from analytics.digest import send_weekly_digest
from analytics.rollup import compact

JOBS = (("compact_rollups", compact), ("weekly_digest", send_weekly_digest))
