"""potential estimate

Revision ID: 0011_potential_estimate
Revises: 0010_value_settings
Create Date: 2026-11-23 09:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_potential_estimate'
down_revision = '0010_value_settings'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("potential_estimate", sa.Numeric(precision=12, scale=2), nullable=True))


def downgrade():
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("potential_estimate")
