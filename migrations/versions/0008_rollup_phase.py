"""rollup by lifecycle phase

Revision ID: 0008_rollup_phase
Revises: 0007_purchases_customer_time
Create Date: 2026-11-23 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_rollup_phase'
down_revision = '0007_purchases_customer_time'
branch_labels = None
depends_on = None

OLD_KEY = ["day", "survey_id", "locale", "category", "segment", "shard"]


def upgrade():
    # The lifecycle phase the customer had when the answer came in (or the mail went out) becomes a filter
    # dimension. Existing rows are recounted with today's phase, the best that is known for the past.
    for table in ("nps_daily", "invitations_daily"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("phase", sa.String(length=10), nullable=False, server_default=""))
            batch_op.drop_constraint(f"uq_{table}_key", type_="unique")
            batch_op.create_unique_constraint(f"uq_{table}_key", [*OLD_KEY[:-1], "phase", "shard"])
        op.execute(f"DELETE FROM {table}")
    postgresql = op.get_bind().dialect.name == "postgresql"
    answer_day = "CAST(r.created_at AS DATE)" if postgresql else "date(r.created_at)"
    sent_day = "CAST(i.sent_at AS DATE)" if postgresql else "date(i.sent_at)"
    key = "COALESCE(p.category, ''), COALESCE(c.value_class, ''), COALESCE(c.lifecycle_phase, '')"
    op.execute(
        f"""
        INSERT INTO nps_daily (day, survey_id, locale, category, segment, phase, shard, promoters, passives, detractors)
        SELECT {answer_day}, r.survey_id, r.locale, {key}, 0,
               SUM(CASE WHEN r.score >= 9 THEN 1 ELSE 0 END),
               SUM(CASE WHEN r.score BETWEEN 7 AND 8 THEN 1 ELSE 0 END),
               SUM(CASE WHEN r.score <= 6 THEN 1 ELSE 0 END)
        FROM responses r
        JOIN invitations i ON i.id = r.invitation_id
        LEFT JOIN purchases p ON p.id = i.purchase_id
        LEFT JOIN customers c ON c.id = r.customer_id
        WHERE r.score IS NOT NULL
        GROUP BY {answer_day}, r.survey_id, r.locale, {key}
        """
    )
    op.execute(
        f"""
        INSERT INTO invitations_daily (day, survey_id, locale, category, segment, phase, shard, sent, answered)
        SELECT {sent_day}, i.survey_id, i.locale, {key}, 0,
               COUNT(*), SUM(CASE WHEN i.status = 'answered' THEN 1 ELSE 0 END)
        FROM invitations i
        LEFT JOIN purchases p ON p.id = i.purchase_id
        LEFT JOIN customers c ON c.id = i.customer_id
        WHERE i.sent_at IS NOT NULL
        GROUP BY {sent_day}, i.survey_id, i.locale, {key}
        """
    )


def downgrade():
    for table in ("nps_daily", "invitations_daily"):
        op.execute(f"DELETE FROM {table}")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"uq_{table}_key", type_="unique")
            batch_op.create_unique_constraint(f"uq_{table}_key", OLD_KEY)
            batch_op.drop_column("phase")
