"""mail connections: each SMTP connection of a sender (SMTP_CONNECTIONS per process) counts what it sent and the
server's throttling answers (421, 451), for /metrics

Revision ID: 0038_mail_connections
Revises: 0037_mail_lz4
Create Date: 2026-12-02 05:00:00

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '0038_mail_connections'
down_revision = '0037_mail_lz4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mail_connections',
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('sent', sa.BigInteger(), nullable=False),
    sa.Column('throttled', sa.BigInteger(), nullable=False),
    sa.Column('last_answer', sa.String(length=300), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_mail_connections'))
    )
    with op.batch_alter_table('mail_connections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_connections_updated_at'), ['updated_at'], unique=False)


def downgrade():
    with op.batch_alter_table('mail_connections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_connections_updated_at'))
    op.drop_table('mail_connections')
