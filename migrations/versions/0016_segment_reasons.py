"""segment reasons and potential

Revision ID: 0016_segment_reasons
Revises: 0015_customer_description
Create Date: 2026-11-23 11:04:44.990800

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_segment_reasons'
down_revision = '0015_customer_description'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customer_segments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reasons', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('potential', sa.Numeric(precision=14, scale=2), nullable=True))
    # The next full refresh fills reasons and potential in (rules on reasons and the cockpit's portfolio read
    # them from the segment now).
    op.execute("DELETE FROM segment_runs")



def downgrade():
    with op.batch_alter_table('customer_segments', schema=None) as batch_op:
        batch_op.drop_column('potential')
        batch_op.drop_column('reasons')
