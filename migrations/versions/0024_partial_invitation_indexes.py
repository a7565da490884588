"""partial invitation indexes: the three uniqueness indexes hold only their non-NULL rows, and expiry and
reminders read an index of the open invitations only

Revision ID: 0024_partial_invitation_indexes
Revises: 0023_answer_facts
Create Date: 2026-11-23 18:25:42.964282

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024_partial_invitation_indexes'
down_revision = '0023_answer_facts'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitations_status_expires'))
        batch_op.drop_constraint(batch_op.f('uq_invitations_survey_case'), type_='unique')
        batch_op.create_index('uq_invitations_survey_case', ['survey_id', 'case_id'], unique=True, postgresql_where=sa.text('case_id IS NOT NULL'), sqlite_where=sa.text('case_id IS NOT NULL'))
        batch_op.drop_constraint(batch_op.f('uq_invitations_survey_change'), type_='unique')
        batch_op.create_index('uq_invitations_survey_change', ['survey_id', 'lifecycle_change_id'], unique=True, postgresql_where=sa.text('lifecycle_change_id IS NOT NULL'), sqlite_where=sa.text('lifecycle_change_id IS NOT NULL'))
        batch_op.drop_constraint(batch_op.f('uq_invitations_survey_purchase'), type_='unique')
        batch_op.create_index('uq_invitations_survey_purchase', ['survey_id', 'purchase_id'], unique=True, postgresql_where=sa.text('purchase_id IS NOT NULL'), sqlite_where=sa.text('purchase_id IS NOT NULL'))
        batch_op.create_index('ix_invitations_open_expires', ['expires_at'], unique=False, postgresql_where=sa.text("status IN ('pending', 'sent')"), sqlite_where=sa.text("status IN ('pending', 'sent')"))


def downgrade():
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index('ix_invitations_open_expires', postgresql_where=sa.text("status IN ('pending', 'sent')"), sqlite_where=sa.text("status IN ('pending', 'sent')"))
        batch_op.drop_index('uq_invitations_survey_purchase', postgresql_where=sa.text('purchase_id IS NOT NULL'), sqlite_where=sa.text('purchase_id IS NOT NULL'))
        batch_op.create_unique_constraint(batch_op.f('uq_invitations_survey_purchase'), ['survey_id', 'purchase_id'])
        batch_op.drop_index('uq_invitations_survey_change', postgresql_where=sa.text('lifecycle_change_id IS NOT NULL'), sqlite_where=sa.text('lifecycle_change_id IS NOT NULL'))
        batch_op.create_unique_constraint(batch_op.f('uq_invitations_survey_change'), ['survey_id', 'lifecycle_change_id'])
        batch_op.drop_index('uq_invitations_survey_case', postgresql_where=sa.text('case_id IS NOT NULL'), sqlite_where=sa.text('case_id IS NOT NULL'))
        batch_op.create_unique_constraint(batch_op.f('uq_invitations_survey_case'), ['survey_id', 'case_id'])
        batch_op.create_index(batch_op.f('ix_invitations_status_expires'), ['status', 'expires_at'], unique=False)
