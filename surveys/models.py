"""Survey, Invitation, Response, OutboxMessage and the dev mailbox."""

from __future__ import annotations

import secrets
from datetime import datetime, time

from sqlalchemy import JSON, ForeignKey, Index, String, Text, Time, false, select, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from customers.models import Customer, LifecycleChange, Purchase
from kundenpuls.extensions import db
from kundenpuls.timeutil import UTCDateTime
from surveys.kinds import NPS, Kind

# An invitation in one of these states can still be answered (cancelled: mail not sent before an unsubscribe).
OPEN_STATUSES = ("pending", "sent", "cancelled")
# The customer was erased: nothing can answer it, and its token was replaced (every link the customer has is dead).
ERASED_STATUS = "erased"


def new_token(kind: str | None = None, nbytes: int = 24) -> str:
    """An invitation's secret: the survey and unsubscribe links carry it, and it is all they need.

    A CSAT or effort survey's token starts with its kind ("csat.", "ces."; token_urlsafe never writes a dot): the
    answer POST then knows before any query whether the answer may open a case (a CSAT 4 is satisfied, an NPS 4 a
    detractor), and a satisfied answer commits by its own statement like an NPS promoter's (bench/submit: CSAT at
    39% of the floor with every 4 and 5 in a transaction of its own). NPS tokens stay bare; a bare token is
    judged by every kind at once, which is NPS's rule. The answer's SQL still checks the survey's real kind.
    A printed link takes 12 bytes (96 bits, 16 characters): short enough to type and to print small as a QR code,
    and still beyond guessing."""
    secret = secrets.token_urlsafe(nbytes)
    return f"{kind}.{secret}" if kind in NAMED_IN_TOKEN else secret


NAMED_IN_TOKEN = ("csat", "ces")


def kind_in_token(token: str) -> str | None:
    """The survey kind a token names (see new_token); None for a bare token."""
    prefix, dot, _rest = token.partition(".")
    return prefix if dot and prefix in NAMED_IN_TOKEN else None


class Survey(db.Model):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(50), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # nps | churn
    name: Mapped[str] = mapped_column(String(200))
    name_de: Mapped[str | None] = mapped_column(String(200))  # shown on German pages; `name` elsewhere
    active: Mapped[bool] = mapped_column(default=True)
    delay_days: Mapped[int] = mapped_column(default=3)
    # Purchases older than delay + catch-up when first seen are history, not invited.
    catchup_days: Mapped[int] = mapped_column(default=14)
    reminder_count: Mapped[int] = mapped_column(default=1)
    reminder_after_days: Mapped[int] = mapped_column(default=4)
    expiry_days: Mapped[int] = mapped_column(default=30)
    quiet_days: Mapped[int] = mapped_column(default=90)
    send_weekdays: Mapped[str] = mapped_column(String(20), default="0,1,2,3,4")  # Mon=0
    send_start: Mapped[time] = mapped_column(Time(), default=time(8, 0))
    send_end: Mapped[time] = mapped_column(Time(), default=time(18, 0))
    # {"de": {"subject": ..., "question": ...}, "en": {...}}
    texts: Mapped[dict] = mapped_column(JSON)
    # A passive (7-8) who writes a comment opens a low-priority case when this is on.
    passive_comment_cases: Mapped[bool] = mapped_column(default=False)
    # Churn surveys: which lifecycle changes send one (a reported cancellation; turning inactive).
    trigger_cancellation: Mapped[bool] = mapped_column(default=True)
    trigger_inactive: Mapped[bool] = mapped_column(default=False)
    # NPS surveys: what invites a customer, delay_days later: "purchase", or "case_resolved" (a feedback case of
    # theirs was resolved: ask again whether closing the loop worked).
    trigger: Mapped[str] = mapped_column(String(20), default="purchase", server_default="purchase")
    # Who is asked (surveys.audience): {"value_classes": [...], "phases": [...], ...}; None: everyone.
    audience: Mapped[dict | None] = mapped_column(JSON)
    # Scored surveys: the rating grid of the offer's attributes after the score (surveys.rating_grid).
    rating_grid: Mapped[bool] = mapped_column(default=False, server_default=false())

    def text(self, locale: str, name: str) -> str:
        return (self.texts.get(locale) or self.texts["en"]).get(name) or self.texts["en"][name]

    @property
    def weekdays(self) -> frozenset[int]:
        return frozenset(int(d) for d in self.send_weekdays.split(",") if d.strip())


def _where(condition: str) -> dict:
    """A partial index's condition, for both databases."""
    return {"postgresql_where": text(condition), "sqlite_where": text(condition)}


class Invitation(db.Model):
    __tablename__ = "invitations"
    __table_args__ = (
        # One invitation per survey and purchase, lifecycle change or resolved case. Each invitation has one of
        # the three, so each index holds only the rows it is about (the others would be all NULLs).
        *(
            Index(f"uq_invitations_survey_{name}", "survey_id", column, unique=True, **_where(f"{column} IS NOT NULL"))
            for name, column in (("purchase", "purchase_id"), ("change", "lifecycle_change_id"), ("case", "case_id"))
        ),
        Index("ix_invitations_customer_created", "customer_id", "created_at"),
        # How many answers one network sent through a public link lately; only anonymous invitations have one.
        Index(
            "ix_invitations_public_network",
            "public_link_id",
            "network",
            "created_at",
            **_where("public_link_id IS NOT NULL"),
        ),  # fmt: skip
        # Reminders and expiry look for open invitations only; an answered or expired one leaves this index
        # (and the answer's UPDATE writes three fewer index entries).
        Index("ix_invitations_open_expires", "expires_at", **_where("status IN ('pending', 'sent')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    # None for an anonymous link's answer (until its writer confirms an address by mail, surveys.public_links).
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"))
    # Churn surveys are sent for a lifecycle change (cancellation or turning inactive), not a purchase.
    lifecycle_change_id: Mapped[int | None] = mapped_column(ForeignKey("lifecycle_changes.id"))
    # Anonymous answers: the public link it came by, and a keyed hash of the sender's IP network (abuse checks).
    public_link_id: Mapped[int | None] = mapped_column(ForeignKey("public_links.id"))
    network: Mapped[str | None] = mapped_column(String(16))
    # Re-ask surveys are sent for a resolved feedback case. Its id only, without a foreign key: cases point at
    # responses, which point here, and cases are never deleted.
    case_id: Mapped[int | None] = mapped_column()
    locale: Mapped[str] = mapped_column(String(5))
    # The channel that first delivered it (surveys.channels): email, or link (printed with its QR code).
    channel: Mapped[str] = mapped_column(String(16), default="email", server_default="email")
    # pending (mail queued) -> sent -> answered | expired | cancelled; a printed link is "sent" when handed out
    # (sent_at: first delivered; last_mailed_at stays empty until a mail goes, so no reminder follows paper).
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminders_queued: Mapped[int] = mapped_column(default=0)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    survey: Mapped[Survey] = relationship()
    customer: Mapped[Customer | None] = relationship()
    purchase: Mapped[Purchase | None] = relationship()
    lifecycle_change: Mapped[LifecycleChange | None] = relationship()


class Response(db.Model):
    __tablename__ = "responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id"), unique=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    score: Mapped[int | None] = mapped_column()
    comment: Mapped[str | None] = mapped_column(Text)
    # Churn surveys: the answer to "would you come back if ...?".
    comeback: Mapped[str | None] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(5))
    # The path the answer came by (surveys.channels): the mailed link, the printed link or its QR code.
    channel: Mapped[str] = mapped_column(String(16), default="email", server_default="email")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    invitation: Mapped[Invitation] = relationship()
    reasons: Mapped[list[ResponseReason]] = relationship(order_by="ResponseReason.reason_id")

    @property
    def nps_class(self) -> str | None:
        return nps_class(self.score)


def answers_of(kind: Kind, survey_id=None):
    """SQL: the answer (or invitation, given its survey_id column) belongs to a survey of this kind. A customer's
    satisfaction, the drivers and the retention rules read NPS answers only; CSAT and effort have their reports."""
    column = Response.survey_id if survey_id is None else survey_id
    return column.in_(select(Survey.id).where(Survey.kind == kind.key))


def surveys_of_kind(session, kind: Kind) -> list[Survey]:
    """The surveys of this kind, for pages that name the surveys their figures come from (|local_name)."""
    return list(session.scalars(select(Survey).where(Survey.kind == kind.key).order_by(Survey.id)))


def nps_class(score: int | None) -> str | None:
    """promoter (9-10), passive (7-8), detractor (0-6); None without a score (surveys.kinds.NPS)."""
    return NPS.classify(score)


class Labelled:
    """Rows kept as data with a German and an English label (churn reasons, follow-up questions and choices,
    rating attributes); the class that mixes it in maps label_de and label_en."""

    def label(self, locale: str) -> str:
        return self.label_de if locale == "de" else self.label_en


class Option(Labelled):
    """An entry of a list kept as data (churn reasons, rating attributes): a stable key, German and English labels,
    an order; retired, never deleted, so that old answers still show and count it."""

    key: Mapped[str] = mapped_column(String(40), unique=True)
    label_de: Mapped[str] = mapped_column(String(120))
    label_en: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(default=0)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ChurnReason(Option, db.Model):
    """One entry of the churn-reason taxonomy. Admins rename and retire reasons; answers keep pointing here."""

    __tablename__ = "churn_reasons"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Win-back: customers who left for a recoverable reason get the suggested measure.
    recoverable: Mapped[bool] = mapped_column(default=False)
    measure_de: Mapped[str | None] = mapped_column(String(300))
    measure_en: Mapped[str | None] = mapped_column(String(300))

    def measure(self, locale: str) -> str | None:
        return (self.measure_de if locale == "de" else self.measure_en) or self.measure_en or self.measure_de


class ResponseReason(db.Model):
    """A reason ticked in a churn answer; `main` marks the one reason that mattered most."""

    __tablename__ = "response_reasons"

    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id"), primary_key=True)
    reason_id: Mapped[int] = mapped_column(ForeignKey("churn_reasons.id"), primary_key=True, index=True)
    main: Mapped[bool] = mapped_column(default=False)

    reason: Mapped[ChurnReason] = relationship(lazy="joined")
