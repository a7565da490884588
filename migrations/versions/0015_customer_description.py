"""customer description

Revision ID: 0015_customer_description
Revises: 0014_segment_revenue
Create Date: 2026-11-23 10:58:08.212978

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_customer_description'
down_revision = '0014_segment_revenue'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('customer_contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('job_title', sa.String(length=200), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=50), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_contacts_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_contacts'))
    )
    with op.batch_alter_table('customer_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_contacts_customer_id'), ['customer_id'], unique=False)

    op.create_table('customer_descriptions',
    sa.Column('customer_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('legal_form', sa.String(length=100), nullable=True),
    sa.Column('company_group', sa.String(length=200), nullable=True),
    sa.Column('industry', sa.String(length=200), nullable=True),
    sa.Column('business_units', sa.Text(), nullable=True),
    sa.Column('what_they_value', sa.Text(), nullable=True),
    sa.Column('needs', sa.Text(), nullable=True),
    sa.Column('credit_rating', sa.String(length=50), nullable=True),
    sa.Column('payment_terms', sa.String(length=200), nullable=True),
    sa.Column('pricing', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_descriptions_customer_id_customers')),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_descriptions'))
    )


def downgrade():
    op.drop_table('customer_descriptions')
    with op.batch_alter_table('customer_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_contacts_customer_id'))

    op.drop_table('customer_contacts')
