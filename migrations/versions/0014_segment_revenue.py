"""segment revenue

Revision ID: 0014_segment_revenue
Revises: 0013_segments_rules
Create Date: 2026-11-23 10:50:02.031841

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_segment_revenue'
down_revision = '0013_segments_rules'
branch_labels = None
depends_on = None


def upgrade():
    # The cockpit counts revenue shares from the segments alone (one table, one GROUP BY); the next refresh
    # fills the figure in.
    with op.batch_alter_table('customer_segments', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('revenue_12m', sa.Numeric(precision=14, scale=2), nullable=False, server_default="0")
        )
    op.execute("DELETE FROM segment_runs")


def downgrade():
    with op.batch_alter_table('customer_segments', schema=None) as batch_op:
        batch_op.drop_column('revenue_12m')

