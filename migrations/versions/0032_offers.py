"""offers: the categories each customer bought in the last two years on their segment (for "has bought X but not
Y"), and on retention rules the category a measure of type "offer" offers with its evidence per segment; the next
full refresh fills the categories

Revision ID: 0032_offers
Revises: 0031_interactions
Create Date: 2026-12-01 08:08:19.739733

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0032_offers'
down_revision = '0031_interactions'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customer_segments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('categories', sa.Text(), nullable=True))

    with op.batch_alter_table('retention_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offer_category', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('offer_evidence', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('retention_rules', schema=None) as batch_op:
        batch_op.drop_column('offer_evidence')
        batch_op.drop_column('offer_category')

    with op.batch_alter_table('customer_segments', schema=None) as batch_op:
        batch_op.drop_column('categories')
