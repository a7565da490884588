"""value settings

Revision ID: 0010_value_settings
Revises: 0009_lean_lifecycle_indexes
Create Date: 2026-11-23 09:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_value_settings'
down_revision = '0009_lean_lifecycle_indexes'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        "value_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("a_share", sa.Integer(), nullable=False),
        sa.Column("b_share", sa.Integer(), nullable=False),
        sa.Column("retention_rate", sa.Numeric(precision=4, scale=3), nullable=False),
        sa.Column("discount_rate", sa.Numeric(precision=4, scale=3), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_value_settings")),
    )
    op.bulk_insert(table, [{"id": 1, "a_share": 80, "b_share": 15, "retention_rate": 0.8, "discount_rate": 0.1}])


def downgrade():
    op.drop_table("value_settings")
