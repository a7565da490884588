"""segment cells

Revision ID: 0017_segment_cells
Revises: 0016_segment_reasons
Create Date: 2026-11-23 11:31:23.447182

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_segment_cells'
down_revision = '0016_segment_reasons'
branch_labels = None
depends_on = None


def upgrade():
    # The cockpit's counts per segment and portfolio group; the next full refresh builds them (until then the
    # cockpit groups the segments themselves).
    op.execute("DELETE FROM segment_runs")
    op.create_table('segment_cell_builds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('built_at', sa.DateTime(), nullable=False),
    sa.Column('portfolio_value_min', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('portfolio_potential_min', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segment_cell_builds'))
    )
    op.create_table('segment_cells',
    sa.Column('value_class', sa.String(length=1), nullable=False),
    sa.Column('phase', sa.String(length=10), nullable=False),
    sa.Column('satisfaction', sa.String(length=10), nullable=False),
    sa.Column('portfolio', sa.String(length=20), nullable=False),
    sa.Column('shard', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.Column('revenue', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.PrimaryKeyConstraint('value_class', 'phase', 'satisfaction', 'portfolio', 'shard', name=op.f('pk_segment_cells'))
    )


def downgrade():
    op.drop_table('segment_cells')
    op.drop_table('segment_cell_builds')
