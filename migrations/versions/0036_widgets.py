"""widgets: a survey on the company's own website or app by one script tag (public key, the secret that signs a
signed-in customer's id, where and when it shows)

Revision ID: 0036_widgets
Revises: 0035_public_links
Create Date: 2026-12-01 15:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0036_widgets'
down_revision = '0035_public_links'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('widgets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('public_key', sa.String(length=40), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('allow_anonymous', sa.Boolean(), nullable=False),
    sa.Column('origins', sa.Text(), nullable=False),
    sa.Column('url_patterns', sa.Text(), nullable=False),
    sa.Column('after_page_views', sa.Integer(), nullable=False),
    sa.Column('after_seconds', sa.Integer(), nullable=False),
    sa.Column('once_per_days', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_widgets_created_by_users')),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_widgets_survey_id_surveys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_widgets')),
    sa.UniqueConstraint('public_key', name=op.f('uq_widgets_public_key'))
    )
    with op.batch_alter_table('widgets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_widgets_survey_id'), ['survey_id'], unique=False)


def downgrade():
    with op.batch_alter_table('widgets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_widgets_survey_id'))
    op.drop_table('widgets')
