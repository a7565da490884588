"""Validation of incoming customer and purchase data, shared by the API and CSV import."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from customers.models import LOCALES
from kundenpuls.timeutil import to_utc

# A purchase may be stamped a little ahead of our clock (clock skew), never days ahead.
FUTURE_TOLERANCE = timedelta(minutes=10)

Text100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


def normalize_locale(value: str | None) -> str | None:
    """Accept 'de', 'de-DE', 'en_GB'; refuse languages we have no texts for."""
    if value is None or str(value).strip() == "":
        return None
    language = str(value).strip().replace("_", "-").split("-")[0].lower()
    if language not in LOCALES:
        raise ValueError(f"unsupported locale {value!r}; use one of: {', '.join(LOCALES)}")
    return language


def utc_not_in_future(value: datetime, info: ValidationInfo) -> datetime:
    """A moment as UTC (naive means UTC) that must not lie after the validation context's `now`."""
    value = to_utc(value)
    now = (info.context or {}).get("now")
    if now is not None and value > now + FUTURE_TOLERANCE:
        raise ValueError(f"{info.field_name} lies in the future")
    return value


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    external_id: Text100
    email: EmailStr
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    locale: str | None = None
    timezone: str | None = None
    # The demand we could serve per year (from the sales team or an ERP); without it an estimate is shown.
    potential: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)] | None = None

    @field_validator("locale", mode="before")
    @classmethod
    def _locale(cls, value: Any) -> str | None:
        return normalize_locale(value)

    @field_validator("timezone", mode="before")
    @classmethod
    def _timezone(cls, value: Any) -> str | None:
        if value is None or str(value).strip() == "":
            return None
        try:
            ZoneInfo(str(value).strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)") from None
        return str(value).strip()


class PurchaseIn(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    order_id: Text100
    customer: CustomerIn
    amount: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
    margin: Annotated[Decimal, Field(max_digits=12, decimal_places=2)] | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")] = "EUR"
    category: Annotated[str, StringConstraints(max_length=100)] | None = None
    purchased_at: datetime

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return value.upper()

    @field_validator("category", "margin", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip() == "" else value

    @field_validator("purchased_at")
    @classmethod
    def _not_in_future(cls, value: datetime, info: ValidationInfo) -> datetime:
        return utc_not_in_future(value, info)


class CancellationIn(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    customer_external_id: Text100
    cancelled_at: datetime
    reason: Annotated[str, StringConstraints(max_length=2000)] | None = None

    @field_validator("reason", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip() == "" else value

    @field_validator("cancelled_at")
    @classmethod
    def _not_in_future(cls, value: datetime, info: ValidationInfo) -> datetime:
        return utc_not_in_future(value, info)
