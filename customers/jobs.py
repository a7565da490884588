"""Scheduled work of the customers package."""

from customers.lifecycle import refresh_phases
from customers.values import refresh_values_if_stale

JOBS = (
    ("refresh_customer_values", refresh_values_if_stale),
    ("refresh_lifecycle_phases", refresh_phases),
)
