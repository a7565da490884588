"""Dates, times, amounts and shares as staff read them: formatted by Babel for the page's locale, times in
STAFF_TIMEZONE. Templates use the filters registered here instead of strftime or a bare number, so a German page
says "02.12.26, 14:05" and "60,67 €" and an English one "12/2/26, 2:05 PM" and "€60.67"
(tests/app/test_locale_formats.py fails on a template that prints a raw amount or date)."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from flask import Flask
from flask_babel import format_currency, format_date, format_datetime, format_percent, format_time, get_locale

CURRENCY = "EUR"


def staff_datetime(value: datetime | None, seconds: bool = False) -> str:
    if value is None:
        return "—"
    return format_datetime(value, "medium" if seconds else "short")


def staff_date(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    return format_date(value, "medium")


def staff_month(value: date | datetime | None) -> str:
    """A report's month: "Nov 2026" / "Nov. 2026"."""
    return "—" if value is None else format_date(value, "MMM yyyy")


def staff_time(value: time | None) -> str:
    """A time of day as it stands (a send window's bounds are local times, not instants)."""
    return "—" if value is None else format_time(value, "short", rebase=False)


def money(value: Decimal | float | int | None, currency: str | None = None, digits: int | None = None) -> str:
    """An amount with its currency (EUR unless told), in the locale's way; `digits=0` for whole figures."""
    if value is None:
        return "—"
    if digits is None:
        return format_currency(value, currency or CURRENCY)
    pattern = get_locale().currency_formats["standard"].pattern.split(";")[0].replace(".00", "")
    return format_currency(round(Decimal(value)), currency or CURRENCY, format=pattern, currency_digits=False)


def percent(value: float | None, digits: int = 0) -> str:
    """A share given in percent points (34.5 means 34.5 %)."""
    if value is None:
        return "—"
    pattern = get_locale().percent_formats[None].pattern  # "#,##0%" (en), "#,##0\xa0%" (de)
    if digits:
        at = pattern.rindex("0") + 1
        pattern = pattern[:at] + "." + "0" * digits + pattern[at:]
    return format_percent(value / 100, pattern)


def local_name(row: object) -> str:
    """A survey's or a rule's name in the page's language: `name_de` on German pages when it is set."""
    german = getattr(row, "name_de", None)
    return german if german and str(get_locale()) == "de" else row.name  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    for function in (staff_datetime, staff_date, staff_month, staff_time, money, percent, local_name):
        app.add_template_filter(function)
