"""The database gauges /metrics shows: a few GROUP BYs over indexed columns of several packages' tables."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select

from kundenpuls.extensions import db
from kundenpuls.timeutil import utcnow


class DatabaseCollector:
    """Gauges read from the shared database at scrape time (one GROUP BY per table, on indexed columns)."""

    def collect(self):
        from feedback.models import OPEN, Case
        from integrations.models import WebhookDelivery
        from messaging.models import MailConnection, OutboxMessage
        from retention.answers import waiting

        now = utcnow()
        mail = GaugeMetricFamily("kundenpuls_mail_messages", "Mail in the outbox by status", labels=["status"])
        for status, n in db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)):
            mail.add_metric([status], n)
        yield mail
        oldest = db.session.scalar(
            select(func.min(OutboxMessage.next_attempt_at)).where(
                OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now
            )
        )
        yield GaugeMetricFamily(
            "kundenpuls_mail_queue_age_seconds",
            "How long the oldest due mail has been waiting (0: none waiting)",
            value=max((now - oldest).total_seconds(), 0) if oldest else 0,
        )
        sent = CounterMetricFamily(
            "kundenpuls_mail_connection_sent",
            "Mail accepted by the SMTP server per sender connection (host:pid:number); rate() is mails per second",
            labels=["connection"],
        )
        throttled = CounterMetricFamily(
            "kundenpuls_mail_connection_throttled",
            "The SMTP server's 421 and 451 answers per sender connection (each paused it; no mail failed)",
            labels=["connection"],
        )
        # Rows of connections idle for a day are dropped when a sender starts (messaging.connections).
        for name, sent_count, throttled_count in db.session.execute(
            select(MailConnection.name, MailConnection.sent, MailConnection.throttled)
        ):
            sent.add_metric([name], sent_count)
            throttled.add_metric([name], throttled_count)
        yield sent
        yield throttled
        hooks = GaugeMetricFamily("kundenpuls_webhook_deliveries", "Webhook deliveries by status", labels=["status"])
        for status, n in db.session.execute(
            select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
        ):
            hooks.add_metric([status], n)
        yield hooks
        yield GaugeMetricFamily(
            "kundenpuls_answers_waiting",
            "Answers stored but not yet applied to segments and retention rules by the scheduler",
            value=waiting(db.session),
        )
        yield GaugeMetricFamily(
            "kundenpuls_answers_failed",
            "Answers the scheduler could not apply (kept with the error, tried again hourly; see the log)",
            value=waiting(db.session, failed=True),
        )
        yield GaugeMetricFamily(
            "kundenpuls_open_cases",
            "Feedback cases not closed yet",
            value=db.session.scalar(select(func.count()).select_from(Case).where(Case.status.in_(OPEN))),
        )


def _now():
    from kundenpuls.timeutil import utcnow

    return utcnow()
