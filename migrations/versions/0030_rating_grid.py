"""rating grid: attributes of the offer kept as data (six to start with), their ratings per answer, and the switch
per survey

Revision ID: 0030_rating_grid
Revises: 0029_follow_ups
Create Date: 2026-12-01 06:12:10.980187

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0030_rating_grid'
down_revision = '0029_follow_ups'
branch_labels = None
depends_on = None


def upgrade():
    attributes = op.create_table('rating_attributes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('label_de', sa.String(length=120), nullable=False),
    sa.Column('label_en', sa.String(length=120), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('retired_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rating_attributes')),
    sa.UniqueConstraint('key', name=op.f('uq_rating_attributes_key'))
    )
    op.create_table('attribute_ratings',
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('attribute_id', sa.Integer(), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['attribute_id'], ['rating_attributes.id'], name=op.f('fk_attribute_ratings_attribute_id_rating_attributes')),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_attribute_ratings_response_id_responses')),
    sa.PrimaryKeyConstraint('response_id', 'attribute_id', name=op.f('pk_attribute_ratings'))
    )
    with op.batch_alter_table('attribute_ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attribute_ratings_attribute_id'), ['attribute_id'], unique=False)

    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rating_grid', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.bulk_insert(attributes, [
        {"key": key, "label_de": de, "label_en": en, "position": n * 10}
        for n, (key, de, en) in enumerate([
            ("delivery_speed", "Liefergeschwindigkeit", "Delivery speed"),
            ("price", "Preis", "Price"),
            ("advice", "Beratung", "Advice"),
            ("product_quality", "Produktqualität", "Product quality"),
            ("service", "Service", "Service"),
            ("range", "Auswahl", "Range"),
        ])
    ])



def downgrade():
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_column('rating_grid')

    with op.batch_alter_table('attribute_ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attribute_ratings_attribute_id'))

    op.drop_table('attribute_ratings')
    op.drop_table('rating_attributes')
