"""interactions as data: contact reasons kept as data (seven to start with), and on each case why the customer got in
touch, what mattered most to them and the measure taken

Revision ID: 0031_interactions
Revises: 0030_rating_grid
Create Date: 2026-12-01 06:57:15.373430

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0031_interactions'
down_revision = '0030_rating_grid'
branch_labels = None
depends_on = None


def upgrade():
    reasons = op.create_table('contact_reasons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('label_de', sa.String(length=120), nullable=False),
    sa.Column('label_en', sa.String(length=120), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('retired_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_reasons')),
    sa.UniqueConstraint('key', name=op.f('uq_contact_reasons_key'))
    )
    op.bulk_insert(reasons, [
        {"key": key, "label_de": de, "label_en": en, "position": n * 10}
        for n, (key, de, en) in enumerate([
            ("delivery_status", "Frage zur Lieferung", "Question about a delivery"),
            ("product_question", "Frage zum Produkt", "Question about a product"),
            ("complaint", "Reklamation", "Complaint"),
            ("return", "Rücksendung", "Return"),
            ("invoice", "Rechnung und Zahlung", "Invoice and payment"),
            ("account", "Kundenkonto", "Customer account"),
            ("other", "Sonstiges", "Other"),
        ])
    ])
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_reason_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('customer_priority', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('measure_taken', sa.String(length=1000), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_cases_contact_reason_id_contact_reasons'), 'contact_reasons', ['contact_reason_id'], ['id'])



def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_cases_contact_reason_id_contact_reasons'), type_='foreignkey')
        batch_op.drop_column('measure_taken')
        batch_op.drop_column('customer_priority')
        batch_op.drop_column('contact_reason_id')

    op.drop_table('contact_reasons')
