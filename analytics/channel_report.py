"""The NPS report broken down by channel: answers, NPS with its interval, and the response rate where it is
defined, from the daily rollups (one GROUP BY each).

An answer counts for the path it came by (the mailed link, the printed link, its QR code); the response rate is
per invitation channel, the one that first delivered it (mailed, or handed out on paper), answered by any path.
A channel that delivers no invitations of its own (the QR code is printed with the link) has no response rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analytics.models import InvitationsDaily, NpsDaily
from analytics.nps import MIN_ANSWERS, NpsFigure, figure
from analytics.queries import ReportFilter, nps_survey_ids, rollup_where
from surveys.channels import CHANNELS


@dataclass(frozen=True)
class ChannelRow:
    channel: str
    figure: NpsFigure
    sent: int
    answered: int

    @property
    def response_rate(self) -> float | None:
        return round(100 * self.answered / self.sent, 1) if self.sent else None

    def as_dict(self) -> dict:
        return {
            "channel": self.channel,
            **self.figure.as_dict(),
            "sent": self.sent,
            "answered": self.answered,
            "response_rate": self.response_rate,
        }


def by_channel(
    session: Session, start: date, end: date, filters: ReportFilter, min_answers: int = MIN_ANSWERS
) -> list[ChannelRow]:
    """One row per channel with answers or invitations in the range, in the order of surveys.channels."""
    survey_ids = None if filters.survey_id else nps_survey_ids(session)
    counts = {
        channel: (int(p), int(m), int(d))
        for channel, p, m, d in session.execute(
            rollup_where(
                select(
                    NpsDaily.channel,
                    func.sum(NpsDaily.promoters),
                    func.sum(NpsDaily.passives),
                    func.sum(NpsDaily.detractors),
                ),
                session, NpsDaily, start, end, filters, survey_ids,
            ).group_by(NpsDaily.channel)
        )
    }  # fmt: skip
    delivered = {
        channel: (int(sent), int(answered))
        for channel, sent, answered in session.execute(
            rollup_where(
                select(InvitationsDaily.channel, func.sum(InvitationsDaily.sent), func.sum(InvitationsDaily.answered)),
                session, InvitationsDaily, start, end, filters, survey_ids,
            ).group_by(InvitationsDaily.channel)
        )
    }  # fmt: skip
    return [
        ChannelRow(
            channel, figure(*counts.get(channel, (0, 0, 0)), min_answers=min_answers), *delivered.get(channel, (0, 0))
        )
        for channel in CHANNELS
        if channel in counts or channel in delivered
    ]
