"""re-ask trigger

Revision ID: 0021_reask_trigger
Revises: 0020_survey_audience
Create Date: 2026-11-23 14:30:42.942920

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021_reask_trigger'
down_revision = '0020_survey_audience'
branch_labels = None
depends_on = None


def upgrade():
    # Re-ask surveys: an NPS survey sent after a resolved feedback case; its invitations name the case.
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint('uq_invitations_survey_case', ['survey_id', 'case_id'])

    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trigger', sa.String(length=20), server_default='purchase', nullable=False))



def downgrade():
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_column('trigger')

    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_constraint('uq_invitations_survey_case', type_='unique')
        batch_op.drop_column('case_id')

