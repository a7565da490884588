"""Scheduled work of the customers package."""

from customers.values import refresh_values_if_stale

JOBS = (("refresh_customer_values", refresh_values_if_stale),)
