"""rollup shards

Revision ID: 0005_rollup_shards
Revises: 0004_invitations_daily
Create Date: 2026-11-23 03:55:28.421992

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_rollup_shards'
down_revision = '0004_invitations_daily'
branch_labels = None
depends_on = None


def upgrade():
    # Rows of one key are spread over shards so simultaneous answers do not wait on one row.
    for table in ("invitations_daily", "nps_daily"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("shard", sa.Integer(), nullable=False, server_default="0"))
            batch_op.drop_constraint(f"uq_{table}_key", type_="unique")
            batch_op.create_unique_constraint(
                f"uq_{table}_key", ["day", "survey_id", "locale", "category", "segment", "shard"]
            )


def downgrade():
    for table in ("invitations_daily", "nps_daily"):
        op.execute(f"DELETE FROM {table} WHERE shard > 0")  # folding first would keep the counts: run compact
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"uq_{table}_key", type_="unique")
            batch_op.create_unique_constraint(f"uq_{table}_key", ["day", "survey_id", "locale", "category", "segment"])
            batch_op.drop_column("shard")
