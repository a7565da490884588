"""answer facts

Revision ID: 0023_answer_facts
Revises: 0022_pending_answers
Create Date: 2026-11-23 16:33:13.006829

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023_answer_facts'
down_revision = '0022_pending_answers'
branch_labels = None
depends_on = None


def upgrade():
    # The drivers report's attributes per NPS answer (analytics.facts), so that it reads one narrow table.
    op.create_table('answer_facts',
    sa.Column('response_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('locale', sa.String(length=5), nullable=False),
    sa.Column('answered_at', sa.DateTime(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=100), nullable=True),
    sa.Column('order_value', sa.Float(), nullable=True),
    sa.Column('margin', sa.Float(), nullable=True),
    sa.Column('purchases_per_year', sa.Float(), nullable=True),
    sa.Column('tenure_days', sa.Float(), nullable=True),
    sa.Column('answer_delay_days', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_answer_facts_response_id_responses')),
    sa.PrimaryKeyConstraint('response_id', name=op.f('pk_answer_facts'))
    )
    with op.batch_alter_table('answer_facts', schema=None) as batch_op:
        batch_op.create_index('ix_answer_facts_answered_at', ['answered_at'], unique=False)

    # The answers stored so far, as analytics.facts.record_facts records them.
    if op.get_bind().dialect.name == "postgresql":
        def days(later, earlier):
            return f"date_part('epoch', {later} - {earlier}) / 86400.0"
        greatest = "greatest"
    else:
        def days(later, earlier):
            return f"julianday({later}) - julianday({earlier})"
        greatest = "max"
    tenure = days("r.created_at", "c.first_purchase_at")
    op.execute(
        "INSERT INTO answer_facts (response_id, survey_id, customer_id, locale, answered_at, score, category,"
        " order_value, margin, purchases_per_year, tenure_days, answer_delay_days)"
        " SELECT r.id, r.survey_id, r.customer_id, r.locale, r.created_at, r.score, p.category,"
        " CAST(p.amount AS FLOAT), CAST(p.margin AS FLOAT),"
        " CAST(CASE WHEN c.purchase_count > 0 THEN c.purchase_count END AS FLOAT)"
        f" / {greatest}(({tenure}) / 365.0, 1.0), {tenure}, {days('r.created_at', 'p.purchased_at')}"
        " FROM responses r JOIN invitations i ON i.id = r.invitation_id"
        " LEFT JOIN purchases p ON p.id = i.purchase_id LEFT JOIN customers c ON c.id = r.customer_id"
        " WHERE r.score IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pending_answers q WHERE q.response_id = r.id)"
    )


def downgrade():
    with op.batch_alter_table('answer_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_answer_facts_answered_at')

    op.drop_table('answer_facts')
