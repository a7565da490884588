"""Reports by channel: answers count for the path they came by, response rates for the channel that delivered
the invitation; the rollup written by each answer agrees with a count of the raw rows, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from analytics.channel_report import by_channel
from analytics.models import InvitationsDaily
from analytics.nps import figure
from analytics.queries import ReportFilter, nps_report
from analytics.rollup import disagreements, rebuild
from messaging.outbox import dispatch_due
from surveys.jobs import create_due_invitations
from surveys.models import Invitation, Response
from surveys.print_links import purchase_survey_link
from surveys.services import submit_answer
from tests.conftest import next_business_morning
from tests.feedback_helpers import make_user, sign_in

# (channel the invitation went out by, path of the answer or None, score)
STORY = [
    ("email", "email", 10), ("email", "email", 9), ("email", "email", 3), ("email", None, None),
    ("email", "email", 8), ("email", None, None),
    ("link", "qr", 10), ("link", "qr", 2), ("link", "link", 10), ("link", None, None),
    ("link", "email", 6),  # a printed link answered from the mail that followed it
]  # fmt: skip


def _story(session, buy) -> datetime:
    """Customers asked by mail or a printed receipt link, answered by the paths in STORY, all on one day."""
    send_at = next_business_morning(datetime.now(UTC) - timedelta(days=14))
    tokens = []
    for n, (delivered, _path, _score) in enumerate(STORY):
        bought = send_at - timedelta(days=3, hours=1) if delivered == "email" else send_at - timedelta(hours=1)
        buy(f"O-{n}", f"C-{n}", f"k{n}@example.com", purchased_at=bought)
        if delivered == "link":
            tokens.append(purchase_survey_link(session, f"O-{n}", None, send_at).invitation.token)
            session.commit()
    create_due_invitations(session, send_at)
    dispatch_due(session, send_at)
    by_order = {i.purchase.order_id: i.token for i in session.scalars(select(Invitation))}
    for n, (_delivered, path, score) in enumerate(STORY):
        if path is not None:
            submit_answer(session, by_order[f"O-{n}"], score, None, send_at + timedelta(hours=2), path)
            session.commit()
    return send_at


def _expected(path: str) -> tuple[int, int, int]:
    scores = [score for _d, p, score in STORY if p == path]
    return (sum(s >= 9 for s in scores), sum(7 <= s <= 8 for s in scores), sum(s <= 6 for s in scores))


def test_each_channel_has_its_answers_nps_and_response_rate(session, buy):
    day = _story(session, buy).date()
    rows = {row.channel: row for row in by_channel(session, day, day, ReportFilter())}
    assert list(rows) == ["email", "link", "qr"]
    for path in ("email", "link", "qr"):
        assert rows[path].figure == figure(*_expected(path))
    assert rows["email"].figure.nps == round(100 * (2 - 2) / 5, 1)  # 10, 9, 3, 8 and the paper link's 6
    # Mailed: 6 delivered, 4 answered. Printed: 5 handed out, 4 answered (one of them from the later mail).
    assert (rows["email"].sent, rows["email"].answered, rows["email"].response_rate) == (6, 4, 66.7)
    assert (rows["link"].sent, rows["link"].answered, rows["link"].response_rate) == (5, 4, 80.0)
    assert (rows["qr"].sent, rows["qr"].response_rate) == (0, None)  # printed with the link: no rate of its own
    assert disagreements(session) == 0
    counted_as_it_happened = _per_channel(session)
    rebuild(session)  # counted again from the raw rows
    session.commit()
    assert _per_channel(session) == counted_as_it_happened == {"email": [6, 4], "link": [5, 4]}


def _per_channel(session) -> dict[str, list[int]]:
    totals: dict[str, list[int]] = {}
    for row in session.scalars(select(InvitationsDaily)):
        total = totals.setdefault(row.channel, [0, 0])
        total[0] += row.sent
        total[1] += row.answered
    return totals


def test_the_channel_filter_agrees_with_the_raw_rows(session, buy):
    day = _story(session, buy).date()
    for channel in ("email", "link", "qr"):
        fast = nps_report(session, day, day, "week", ReportFilter(channel=channel))
        slow = nps_report(session, day, day, "week", ReportFilter(channel=channel), source="raw")
        assert fast.total == slow.total == figure(*_expected(channel))
        assert (fast.periods[0].sent, fast.periods[0].answered) == (slow.periods[0].sent, slow.periods[0].answered)
    assert session.scalar(select(Response.channel).where(Response.score == 6)) == "email"


def test_the_api_and_the_page_break_down_by_channel(session, buy, api, client):
    day = _story(session, buy).date()
    query = f"from={day}&to={day}&interval=week"
    report = api.get(f"/api/v1/nps?{query}").json
    channels = {row["channel"]: row for row in report["channels"]}
    assert (channels["qr"]["n"], channels["qr"]["promoters"], channels["qr"]["response_rate"]) == (2, 1, None)
    assert channels["link"]["response_rate"] == 80.0
    only_qr = api.get(f"/api/v1/nps?{query}&channel=qr").json
    assert only_qr["total"]["n"] == 2 and only_qr["filters"]["channel"] == "qr"
    assert [row["channel"] for row in only_qr["channels"]] == ["qr"]
    refused = api.get(f"/api/v1/nps?{query}&channel=fax")
    assert refused.status_code == 422 and refused.json["errors"][0]["field"] == "channel"

    sign_in(client, make_user(session, "chefin@example.com", "manager"))
    page = client.get(f"/reports/nps?{query}")
    assert page.status_code == 200 and 'data-table="channels"' in page.text
    assert '<th scope="row">QR code</th><td>2</td>' in page.text
    assert "80.0 % <span" in page.text  # printed links' response rate
    assert client.get(f"/reports/nps?{query}&channel=fax").status_code == 422


def test_drivers_compare_channels_and_filter_by_one(session, buy, client):
    from analytics.drivers import category_counts

    day = _story(session, buy).date()
    counts = category_counts(session, day, day, ReportFilter(), "channel")
    promoters = {path: sum(1 for _d, p, s in STORY if p == path and s >= 9) for path in ("email", "link", "qr")}
    detractors = {path: sum(1 for _d, p, s in STORY if p == path and s <= 6) for path in ("email", "link", "qr")}
    assert counts == {path: (promoters[path], detractors[path]) for path in promoters}
    only_email = category_counts(session, day, day, ReportFilter(channel="email"), "language")
    assert sum(p + d for p, d in only_email.values()) == promoters["email"] + detractors["email"]
    sign_in(client, make_user(session, "chefin@example.com", "manager"))
    page = client.get(f"/reports/drivers?from={day}&to={day}&channel=qr")
    assert page.status_code == 200 and '<option value="qr" selected>' in page.text
