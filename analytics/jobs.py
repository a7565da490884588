"""Scheduled work of analytics: folding rollup shards, the weekly digest, the nightly purchase-model fit."""

from analytics.digest import send_weekly_digest
from analytics.purchase_models import nightly_fit
from analytics.rollup import compact

JOBS = (
    ("compact_rollups", compact),
    ("weekly_digest", send_weekly_digest),
    ("fit_purchase_models", nightly_fit),
)
