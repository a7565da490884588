"""survey audience

Revision ID: 0020_survey_audience
Revises: 0019_customer_erasure
Create Date: 2026-11-23 13:47:52.721543

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020_survey_audience'
down_revision = '0019_customer_erasure'
branch_labels = None
depends_on = None


def upgrade():
    # Who a survey asks (surveys.audience); NULL: everyone, as before.
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audience', sa.JSON(), nullable=True))



def downgrade():
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_column('audience')

