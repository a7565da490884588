"""Scheduled work of retention: answers into segments, cells and rules, and the nightly segment refresh."""

from retention.answers import apply_answers
from retention.refresh import nightly_refresh

JOBS = (
    ("apply_answers", apply_answers),
    ("refresh_segments", nightly_refresh),
)
