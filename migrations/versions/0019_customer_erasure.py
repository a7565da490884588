"""customer erasure

Revision ID: 0019_customer_erasure
Revises: 0018_webhooks
Create Date: 2026-11-23 13:29:29.935081

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019_customer_erasure'
down_revision = '0018_webhooks'
branch_labels = None
depends_on = None


def upgrade():
    # When a customer was erased (GDPR Art. 17); the row stays as an anonymous stub for the statistics.
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(), nullable=True))



def downgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('erased_at')

