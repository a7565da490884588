"""channels: each invitation records the channel that first delivered it and each answer the path it came by
(email, or a printed link and its QR code); existing rows were all mailed

Revision ID: 0033_channels
Revises: 0032_offers
Create Date: 2026-12-01 11:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0033_channels'
down_revision = '0032_offers'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('invitations', 'responses'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('channel', sa.String(length=16), server_default='email', nullable=False))


def downgrade():
    for table in ('responses', 'invitations'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('channel')
