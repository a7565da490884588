"""at risk: the purchase models' P(alive) band, at-risk flag and CLV class reach the segments, and two default rules use them

Revision ID: 0026_at_risk
Revises: 0025_purchase_models
Create Date: 2026-12-01 03:00:00

"""

from alembic import op
import sqlalchemy as sa


revision = "0026_at_risk"
down_revision = "0025_purchase_models"
branch_labels = None
depends_on = None

# (name, position, conditions, measure de, measure en, owner role, due working days)
RULES = (
    (
        "High-value customer at risk",
        15,
        {"value_class": ["A"], "churn_risk": ["at_risk"]},
        "Persönlicher Anruf des Kundenbetreuers: fragen, was fehlt, bevor der Kunde ganz wegbleibt; passendes Angebot",
        "Personal call by the account owner: ask what is missing before the customer stays away for good; a fitting offer",
        "manager",
        2,
    ),
    (
        "Detractor at risk",
        25,
        {"satisfaction": ["detractor"], "churn_risk": ["at_risk"]},
        "Service-Wiedergutmachung jetzt: anrufen, die Ursache beheben, eine Geste des guten Willens",
        "Service recovery now: call, fix the cause, a goodwill gesture",
        "agent",
        2,
    ),
)


def upgrade():
    with op.batch_alter_table("customer_outlooks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("clv_class", sa.String(length=1), nullable=True))
    with op.batch_alter_table("customer_segments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alive_band", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("at_risk", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("clv_class", sa.String(length=1), nullable=True))
    op.create_index(
        "ix_customer_segments_at_risk", "customer_segments", ["value_class", "phase"], unique=False,
        postgresql_where=sa.text("at_risk"), sqlite_where=sa.text("at_risk"),
    )
    rules = sa.table(
        "retention_rules",
        *(
            sa.column(n)
            for n in (
                "position",
                "active",
                "name",
                "measure_de",
                "measure_en",
                "owner_role",
                "due_days",
                "repeat_after_days",
            )
        ),
        sa.column("conditions", sa.JSON()),
    )
    op.bulk_insert(
        rules,
        [
            {
                "position": position,
                "active": True,
                "name": name,
                "conditions": conditions,
                "measure_de": de,
                "measure_en": en,
                "owner_role": role,
                "due_days": due,
                "repeat_after_days": 90,
            }
            for name, position, conditions, de, en, role, due in RULES
        ],
    )


def downgrade():
    rules = sa.table("retention_rules", sa.column("name"))
    op.execute(rules.delete().where(rules.c.name.in_([rule[0] for rule in RULES])))
    op.drop_index("ix_customer_segments_at_risk", table_name="customer_segments")
    with op.batch_alter_table("customer_segments", schema=None) as batch_op:
        batch_op.drop_column("clv_class")
        batch_op.drop_column("at_risk")
        batch_op.drop_column("alive_band")
    with op.batch_alter_table("customer_outlooks", schema=None) as batch_op:
        batch_op.drop_column("clv_class")
