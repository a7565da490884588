"""public links: anonymous survey links (/l/<slug>) with their settings, answers held for review when one network
sends too many, and on invitations the public link and network hash of an anonymous answer (whose invitation has no
customer)

Revision ID: 0035_public_links
Revises: 0034_rollup_channels
Create Date: 2026-12-01 11:35:43.314422

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0035_public_links'
down_revision = '0034_rollup_channels'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('public_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('ask_email', sa.Boolean(), nullable=False),
    sa.Column('once_per_days', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_public_links_created_by_users')),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_public_links_survey_id_surveys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_public_links')),
    sa.UniqueConstraint('slug', name=op.f('uq_public_links_slug'))
    )
    with op.batch_alter_table('public_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_public_links_survey_id'), ['survey_id'], unique=False)

    op.create_table('held_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_link_id', sa.Integer(), nullable=False),
    sa.Column('network', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('locale', sa.String(length=5), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('accepted', sa.Boolean(), nullable=True),
    sa.Column('response_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_held_answers_decided_by_users')),
    sa.ForeignKeyConstraint(['public_link_id'], ['public_links.id'], name=op.f('fk_held_answers_public_link_id_public_links')),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_held_answers_response_id_responses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_held_answers'))
    )
    with op.batch_alter_table('held_answers', schema=None) as batch_op:
        batch_op.create_index('ix_held_answers_open', ['decided_at', 'created_at'], unique=False)

    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_link_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('network', sa.String(length=16), nullable=True))
        batch_op.alter_column('customer_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_index('ix_invitations_public_network', ['public_link_id', 'network', 'created_at'], unique=False, postgresql_where=sa.text('public_link_id IS NOT NULL'), sqlite_where=sa.text('public_link_id IS NOT NULL'))
        batch_op.create_foreign_key(batch_op.f('fk_invitations_public_link_id_public_links'), 'public_links', ['public_link_id'], ['id'])



def downgrade():
    anonymous = op.get_bind().execute(sa.text("SELECT count(*) FROM invitations WHERE customer_id IS NULL")).scalar()
    if anonymous:
        raise RuntimeError(f"{anonymous} anonymous answers exist: the old schema cannot hold them")
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_invitations_public_link_id_public_links'), type_='foreignkey')
        batch_op.drop_index('ix_invitations_public_network', postgresql_where=sa.text('public_link_id IS NOT NULL'), sqlite_where=sa.text('public_link_id IS NOT NULL'))
        batch_op.alter_column('customer_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('network')
        batch_op.drop_column('public_link_id')

    with op.batch_alter_table('held_answers', schema=None) as batch_op:
        batch_op.drop_index('ix_held_answers_open')

    op.drop_table('held_answers')
    with op.batch_alter_table('public_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_public_links_survey_id'))

    op.drop_table('public_links')
