"""pending answers

Revision ID: 0022_pending_answers
Revises: 0021_reask_trigger
Create Date: 2026-11-23 15:57:52.503218

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022_pending_answers'
down_revision = '0021_reask_trigger'
branch_labels = None
depends_on = None


def upgrade():
    # Answers wait here for the scheduler to apply them to segments and rules (answers stored before this
    # migration were applied as they came).
    op.create_table('pending_answers',
    sa.Column('response_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('failed_at', sa.DateTime(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('response_id', name=op.f('pk_pending_answers'))
    )


def downgrade():
    op.drop_table('pending_answers')
