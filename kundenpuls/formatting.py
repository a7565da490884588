"""Dates, times, amounts and shares as staff read them: formatted by Babel for the page's locale, times in
STAFF_TIMEZONE. Templates use the filters registered here instead of strftime or a bare number, so a German page
says "02.12.26, 14:05" and "60,67 €" and an English one "12/2/26, 2:05 PM" and "€60.67"."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from flask import Flask
from flask_babel import format_currency, format_date, format_datetime, format_percent, format_time

CURRENCY = "EUR"


def staff_datetime(value: datetime | None) -> str:
    return "—" if value is None else format_datetime(value, "short")


def staff_date(value: date | datetime | None) -> str:
    return "—" if value is None else format_date(value, "medium")


def staff_time(value: time | None) -> str:
    """A time of day as it stands (a send window's bounds are local times, not instants)."""
    return "—" if value is None else format_time(value, "short", rebase=False)


def money(value: Decimal | float | int | None, currency: str = CURRENCY) -> str:
    return "—" if value is None else format_currency(value, currency)


def percent(value: float | None, digits: int = 0) -> str:
    """A share given in percent points (34.5 means 34.5 %)."""
    if value is None:
        return "—"
    return format_percent(value / 100, "#,##0" + ("." + "0" * digits if digits else "") + " %")


def init_app(app: Flask) -> None:
    for function in (staff_datetime, staff_date, staff_time, money, percent):
        app.add_template_filter(function)
