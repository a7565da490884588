"""lean outlooks: customer_outlooks without foreign keys and without the P(alive) index; fits record where their
data starts

Every fit rewrites all outlooks in one transaction; the two foreign-key checks per row and the P(alive) index
cost 10 of 17 s for a million customers (bench/models.py), and nothing reads outlooks by P(alive) (the segments
carry the at-risk flag). Outlooks are written only from customer ids read in the same transaction, erasure deletes
a customer's outlook, and neither customers nor fits are ever deleted.

Revision ID: 0027_lean_outlooks
Revises: 0026_at_risk
Create Date: 2026-12-01 03:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0027_lean_outlooks'
down_revision = '0026_at_risk'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('model_fits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data_from', sa.Date(), nullable=True))
    with op.batch_alter_table('customer_outlooks', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_outlooks_p_alive')
        batch_op.drop_constraint('fk_customer_outlooks_customer_id_customers', type_='foreignkey')
        batch_op.drop_constraint('fk_customer_outlooks_model_id_model_fits', type_='foreignkey')


def downgrade():
    with op.batch_alter_table('customer_outlooks', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_customer_outlooks_model_id_model_fits', 'model_fits', ['model_id'], ['id'])
        batch_op.create_foreign_key('fk_customer_outlooks_customer_id_customers', 'customers', ['customer_id'], ['id'])
        batch_op.create_index('ix_customer_outlooks_p_alive', ['p_alive'], unique=False)
    with op.batch_alter_table('model_fits', schema=None) as batch_op:
        batch_op.drop_column('data_from')
