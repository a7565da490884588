"""lean lifecycle indexes

Revision ID: 0009_lean_lifecycle_indexes
Revises: 0008_rollup_phase
Create Date: 2026-11-23 09:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0009_lean_lifecycle_indexes'
down_revision = '0008_rollup_phase'
branch_labels = None
depends_on = None


def upgrade():
    # Five phases make a poor index that no query uses (phase filters ride on other joins), and it turned every
    # phase change into an update of all the customer's index entries. Reports read lifecycle changes over
    # months, which a scan does as fast; the customer page and the churn-survey job have their own indexes.
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_lifecycle_phase")
    with op.batch_alter_table("lifecycle_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_lifecycle_changes_changed_at")


def downgrade():
    with op.batch_alter_table("lifecycle_changes", schema=None) as batch_op:
        batch_op.create_index("ix_lifecycle_changes_changed_at", ["changed_at"], unique=False)
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index("ix_customers_lifecycle_phase", ["lifecycle_phase"], unique=False)
