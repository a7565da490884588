"""rollup channels: the daily NPS rollup counts answers per channel (the path each came by), the invitations
rollup per invitation channel and the answers' facts carry the channel, so reports and the drivers report filter
and break down by channel; existing rows were all mailed

Revision ID: 0034_rollup_channels
Revises: 0033_channels
Create Date: 2026-12-01 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0034_rollup_channels'
down_revision = '0033_channels'
branch_labels = None
depends_on = None

KEY = ['day', 'survey_id', 'locale', 'category', 'segment', 'phase']


def upgrade():
    with op.batch_alter_table('answer_facts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=16), server_default='email', nullable=False))
    for table in ('nps_daily', 'invitations_daily'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('channel', sa.String(length=16), server_default='email', nullable=False))
            batch_op.drop_constraint(f'uq_{table}_key', type_='unique')
            batch_op.create_unique_constraint(f'uq_{table}_key', [*KEY, 'channel', 'shard'])


def downgrade():
    # Rows of other channels fold into the mailed ones' keys first, or the old key would not be unique.
    for table, columns in (
        ('nps_daily', ['promoters', 'passives', 'detractors', 'score_sum', 'score_squares']),
        ('invitations_daily', ['sent', 'answered']),
    ):
        keys = ', '.join(KEY + ['shard'])
        sums = ', '.join(f'SUM({c})' for c in columns)
        op.execute(f"CREATE TABLE {table}_folded AS SELECT {keys}, {sums} FROM {table} GROUP BY {keys}")
        op.execute(f"DELETE FROM {table}")
        op.execute(f"INSERT INTO {table} ({keys}, {', '.join(columns)}) SELECT * FROM {table}_folded")
        op.execute(f"DROP TABLE {table}_folded")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f'uq_{table}_key', type_='unique')
            batch_op.create_unique_constraint(f'uq_{table}_key', [*KEY, 'shard'])
            batch_op.drop_column('channel')
    with op.batch_alter_table('answer_facts', schema=None) as batch_op:
        batch_op.drop_column('channel')
