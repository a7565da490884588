"""score sums in the daily rollup: the CES mean and its t interval come from the rollup like every other figure

Rows from before hold 0: until this revision only NPS surveys had scores, and no NPS figure reads the sums.

Revision ID: 0028_score_sums
Revises: 0027_lean_outlooks
Create Date: 2026-12-01 05:21:18.284296

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0028_score_sums'
down_revision = '0027_lean_outlooks'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('nps_daily', schema=None) as batch_op:
        batch_op.add_column(sa.Column('score_sum', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('score_squares', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('nps_daily', schema=None) as batch_op:
        batch_op.drop_column('score_squares')
        batch_op.drop_column('score_sum')
