"""The core every package builds on: configuration, extensions, database helpers, time, claims and locks, errors
and problem+json, inputs and redirects, audit, staff users and roles, the CSV writer, logs and metrics.

It imports no feature package; the application that knows every package is assembled in `app/`.
"""
