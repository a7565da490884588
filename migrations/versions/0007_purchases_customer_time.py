"""purchases by customer and time

Revision ID: 0007_purchases_customer_time
Revises: 0006_lifecycle_churn
Create Date: 2026-11-23 08:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007_purchases_customer_time'
down_revision = '0006_lifecycle_churn'
branch_labels = None
depends_on = None


def upgrade():
    # A customer's purchases in time order straight from the index: the lifecycle recompute reads the Nth
    # purchase per customer, the customer page the latest ones. It also serves every lookup by customer alone.
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.create_index("ix_purchases_customer_time", ["customer_id", "purchased_at"], unique=False)
        batch_op.drop_index("ix_purchases_customer_id")


def downgrade():
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.create_index("ix_purchases_customer_id", ["customer_id"], unique=False)
        batch_op.drop_index("ix_purchases_customer_time")
