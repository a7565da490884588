"""The send window, in the recipient's own time zone."""

from datetime import UTC, datetime, time

import pytest

from messaging.sendwindow import is_open, next_window_start

WEEKDAYS = {0, 1, 2, 3, 4}


def window(now, tz=None):
    return next_window_start(now, tz, WEEKDAYS, time(8), time(18))


def test_inside_the_window_is_now():
    now = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)  # Wednesday 10:00 in Berlin
    assert window(now) == now and is_open(now, None, WEEKDAYS, time(8), time(18))


def test_before_opening_waits_for_eight_local():
    assert window(datetime(2026, 11, 18, 5, 0, tzinfo=UTC)) == datetime(2026, 11, 18, 7, 0, tzinfo=UTC)


def test_after_closing_and_on_weekends_waits_for_monday():
    friday_evening = datetime(2026, 11, 20, 17, 30, tzinfo=UTC)  # 18:30 Berlin
    assert window(friday_evening) == datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def test_customer_time_zone_is_used():
    now = datetime(2026, 11, 18, 6, 0, tzinfo=UTC)  # 07:00 Berlin, 01:00 New York
    assert window(now, "America/New_York") == datetime(2026, 11, 18, 13, 0, tzinfo=UTC)


def test_daylight_saving_change():
    # Summer time ends on 2026-10-25: 08:00 Berlin is 06:00 UTC before, 07:00 UTC after.
    assert window(datetime(2026, 10, 23, 3, 0, tzinfo=UTC)) == datetime(2026, 10, 23, 6, 0, tzinfo=UTC)
    assert window(datetime(2026, 10, 26, 3, 0, tzinfo=UTC)) == datetime(2026, 10, 26, 7, 0, tzinfo=UTC)


def test_empty_window_is_an_error():
    with pytest.raises(ValueError):
        next_window_start(datetime(2026, 11, 18, tzinfo=UTC), None, set(), time(8), time(18))
