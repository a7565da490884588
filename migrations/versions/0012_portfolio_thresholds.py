"""portfolio thresholds

Revision ID: 0012_portfolio_thresholds
Revises: 0011_potential_estimate
Create Date: 2026-11-23 10:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_portfolio_thresholds'
down_revision = '0011_potential_estimate'
branch_labels = None
depends_on = None


def upgrade():
    # Portfolio: high current value from this revenue per year, high potential from this demand per year.
    with op.batch_alter_table("value_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("portfolio_value_min", sa.Numeric(precision=12, scale=2), nullable=False, server_default="1000")
        )
        batch_op.add_column(
            sa.Column("portfolio_potential_min", sa.Numeric(precision=12, scale=2), nullable=False, server_default="2000")
        )


def downgrade():
    with op.batch_alter_table("value_settings", schema=None) as batch_op:
        batch_op.drop_column("portfolio_potential_min")
        batch_op.drop_column("portfolio_value_min")
