"""segments and retention rules

Revision ID: 0013_segments_rules
Revises: 0012_portfolio_thresholds
Create Date: 2026-11-23 10:39:20.294407

"""
from alembic import op
import sqlalchemy as sa

# The default retention rules, from the examples in DOMAIN.md (admins edit them at /cockpit/rules):
# (name, conditions, measure de, measure en, owner role, due working days)
RULES = (
    ("High-value detractor", {"value_class": ["A"], "satisfaction": ["detractor"]},
     "Persönlicher Anruf des Kundenbetreuers innerhalb eines Arbeitstags: Ursache finden, Wiedergutmachung anbieten",
     "Personal call by the account owner within one working day: find the root cause, make a recovery offer",
     "manager", 1),
    ("Detractor citing price, high value", {"value_class": ["A", "B"], "satisfaction": ["detractor"], "reason": ["price"]},
     "Preisspielraum und Konditionen prüfen, individuelles Angebot machen",
     "Check the price room and conditions, make an individual offer",
     "manager", 3),
    ("Detractor citing price, low value", {"value_class": ["C"], "satisfaction": ["detractor"], "reason": ["price"]},
     "Standardangebot für preisbewusste Kunden senden",
     "Send the standard offer for price-conscious customers",
     "agent", 5),
    ("Detractor citing service or delivery", {"satisfaction": ["detractor"], "reason": ["service", "delivery"]},
     "Service-Wiedergutmachung: entschuldigen, den Prozess beheben, in 30 Tagen nachfragen",
     "Service recovery: apologise, fix the process, ask again with a follow-up survey in 30 days",
     "agent", 2),
    ("Passive existing customer buying less",
     {"phase": ["existing"], "satisfaction": ["passive"], "purchase_trend": ["falling"]},
     "Reaktivierungsangebot und Bedarfsgespräch",
     "Reactivation offer and a needs interview",
     "agent", 7),
    ("Promoter", {"phase": ["new", "existing"], "satisfaction": ["promoter"]},
     "Um eine Empfehlung oder Bewertung bitten; passende Up- und Cross-Selling-Angebote",
     "Ask for a referral or review; offer up-sell and cross-sell that fit their purchases",
     "agent", 14),
    ("Inactive customer", {"phase": ["inactive"]},
     "Abwanderungsumfrage und Rückgewinnungsangebot nach früherem Kundenwert",
     "Churn-reason survey and a win-back offer sized to the former customer value",
     "agent", 7),
    ("Unhappy take-along customer", {"portfolio": ["take_along"], "satisfaction": ["detractor"]},
     "Über den kostengünstigen Servicekanal antworten (Standardmail); keine teuren Maßnahmen",
     "Answer through the low-cost service channel (standard mail); no expensive measures",
     "agent", 5),
    ("Valuable customer, falling score",
     {"value_class": ["A", "B"], "satisfaction": ["promoter", "passive"], "score_trend": ["falling"]},
     "Kurzer Anruf: fragen, was sich verändert hat",
     "Check-in call: ask what has changed",
     "manager", 5),
)


def default_strategy(value_class, phase, satisfaction):
    """(direction, service level): develop prospects, win back valuable leavers, grow happy A and B customers,
    retain unhappy valuable ones, serve C customers at low cost."""
    if phase == "potential":
        return "develop", "standard"
    if phase in ("inactive", "churned"):
        return ("retain", "standard") if value_class in "AB" else ("low_cost", "basic")
    if value_class == "A":
        return ("grow" if satisfaction == "promoter" else "retain"), "premium"
    if value_class == "B":
        return {"promoter": "grow", "detractor": "retain"}.get(satisfaction, "develop"), "standard"
    return ("develop" if satisfaction == "promoter" else "low_cost"), "basic"


# revision identifiers, used by Alembic.
revision = '0013_segments_rules'
down_revision = '0012_portfolio_thresholds'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('retention_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('conditions', sa.JSON(), nullable=False),
    sa.Column('measure_de', sa.String(length=500), nullable=False),
    sa.Column('measure_en', sa.String(length=500), nullable=False),
    sa.Column('owner_role', sa.String(length=16), nullable=False),
    sa.Column('due_days', sa.Integer(), nullable=False),
    sa.Column('repeat_after_days', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_rules'))
    )
    op.create_table('segment_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.Column('changes', sa.Integer(), nullable=False),
    sa.Column('suggestions', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segment_runs'))
    )
    op.create_table('segment_strategies',
    sa.Column('value_class', sa.String(length=1), nullable=False),
    sa.Column('phase', sa.String(length=10), nullable=False),
    sa.Column('satisfaction', sa.String(length=10), nullable=False),
    sa.Column('direction', sa.String(length=12), nullable=False),
    sa.Column('service_level', sa.String(length=10), nullable=False),
    sa.PrimaryKeyConstraint('value_class', 'phase', 'satisfaction', name=op.f('pk_segment_strategies'))
    )
    op.create_table('customer_segments',
    sa.Column('customer_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('value_class', sa.String(length=1), nullable=False),
    sa.Column('phase', sa.String(length=10), nullable=False),
    sa.Column('satisfaction', sa.String(length=10), nullable=False),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('previous_score', sa.Integer(), nullable=True),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.Column('portfolio', sa.String(length=20), nullable=False),
    sa.Column('purchases_recent', sa.Integer(), nullable=False),
    sa.Column('purchases_before', sa.Integer(), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_segments_customer_id_customers')),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_segments'))
    )
    with op.batch_alter_table('customer_segments', schema=None) as batch_op:
        batch_op.create_index('ix_customer_segments_cell', ['value_class', 'phase', 'satisfaction'], unique=False)

    op.create_table('segment_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.Column('from_value_class', sa.String(length=1), nullable=True),
    sa.Column('from_phase', sa.String(length=10), nullable=True),
    sa.Column('from_satisfaction', sa.String(length=10), nullable=True),
    sa.Column('to_value_class', sa.String(length=1), nullable=False),
    sa.Column('to_phase', sa.String(length=10), nullable=False),
    sa.Column('to_satisfaction', sa.String(length=10), nullable=False),
    sa.Column('cause', sa.String(length=10), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_segment_changes_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segment_changes'))
    )
    with op.batch_alter_table('segment_changes', schema=None) as batch_op:
        batch_op.create_index('ix_segment_changes_changed', ['changed_at'], unique=False)
        batch_op.create_index('ix_segment_changes_customer', ['customer_id', 'changed_at'], unique=False)

    op.create_table('suggestions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('conditions', sa.JSON(), nullable=False),
    sa.Column('value_class', sa.String(length=1), nullable=False),
    sa.Column('phase', sa.String(length=10), nullable=False),
    sa.Column('satisfaction', sa.String(length=10), nullable=False),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('previous_score', sa.Integer(), nullable=True),
    sa.Column('portfolio', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.Column('purchases_recent', sa.Integer(), nullable=False),
    sa.Column('purchases_before', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('dismiss_reason', sa.String(length=500), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_suggestions_case_id_cases')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_suggestions_customer_id_customers')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_suggestions_decided_by_id_users')),
    sa.ForeignKeyConstraint(['rule_id'], ['retention_rules.id'], name=op.f('fk_suggestions_rule_id_retention_rules')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suggestions'))
    )
    with op.batch_alter_table('suggestions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suggestions_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_suggestions_rule_status', ['rule_id', 'status'], unique=False)
        batch_op.create_index('ix_suggestions_status_created', ['status', 'created_at'], unique=False)
        batch_op.create_index('uq_suggestions_live', ['customer_id', 'rule_id'], unique=True, postgresql_where=sa.text("status IN ('open', 'accepted')"), sqlite_where=sa.text("status IN ('open', 'accepted')"))

    with op.batch_alter_table('suggestions', schema=None) as batch_op:
        batch_op.create_index('ix_suggestions_customer', ['customer_id', 'created_at'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title', sa.String(length=500), nullable=True))

    rules = sa.table(
        "retention_rules",
        *(sa.column(name) for name in ("position", "active", "name", "measure_de", "measure_en", "owner_role",
                                       "due_days", "repeat_after_days")),
        sa.column("conditions", sa.JSON()),
    )
    op.bulk_insert(rules, [
        {"position": number * 10, "active": True, "name": name, "conditions": conditions, "measure_de": de,
         "measure_en": en, "owner_role": role, "due_days": due, "repeat_after_days": 90}
        for number, (name, conditions, de, en, role, due) in enumerate(RULES, start=1)
    ])
    strategies = sa.table(
        "segment_strategies", *(sa.column(n) for n in ("value_class", "phase", "satisfaction", "direction", "service_level"))
    )
    op.bulk_insert(strategies, [
        {"value_class": v, "phase": p, "satisfaction": s, "direction": d, "service_level": level}
        for v in "ABC"
        for p in ("potential", "new", "existing", "inactive", "churned")
        for s in ("promoter", "passive", "detractor", "unknown")
        for d, level in [default_strategy(v, p, s)]
    ])


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('title')

    with op.batch_alter_table('suggestions', schema=None) as batch_op:
        batch_op.drop_index('uq_suggestions_live', postgresql_where=sa.text("status IN ('open', 'accepted')"), sqlite_where=sa.text("status IN ('open', 'accepted')"))
        batch_op.drop_index('ix_suggestions_status_created')
        batch_op.drop_index('ix_suggestions_customer')
        batch_op.drop_index('ix_suggestions_rule_status')
        batch_op.drop_index(batch_op.f('ix_suggestions_case_id'))

    op.drop_table('suggestions')
    with op.batch_alter_table('segment_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_segment_changes_customer')
        batch_op.drop_index('ix_segment_changes_changed')

    op.drop_table('segment_changes')
    with op.batch_alter_table('customer_segments', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_segments_cell')

    op.drop_table('customer_segments')
    op.drop_table('segment_strategies')
    op.drop_table('segment_runs')
    op.drop_table('retention_rules')
