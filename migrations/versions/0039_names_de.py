"""names in German: surveys and retention rules keep their name (English, the API's `name`) and gain a German
one, shown on German pages; the shipped defaults get theirs

Revision ID: 0039_names_de
Revises: 0038_mail_connections
Create Date: 2026-12-02 14:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0039_names_de'
down_revision = '0038_mail_connections'
branch_labels = None
depends_on = None

SURVEYS = {
    "nps-default": "NPS nach dem Kauf",
    "churn-default": "Warum Kunden gehen",
}
RULES = {
    "High-value detractor": "Kritiker mit hohem Wert",
    "Detractor citing price, high value": "Kritiker nennt den Preis, hoher Wert",
    "Detractor citing price, low value": "Kritiker nennt den Preis, geringer Wert",
    "Detractor citing service or delivery": "Kritiker nennt Service oder Lieferung",
    "Passive existing customer buying less": "Passiver Bestandskunde kauft weniger",
    "Promoter": "Promoter",
    "Inactive customer": "Inaktiver Kunde",
    "Unhappy take-along customer": "Unzufriedener Mitnahmekunde",
    "Valuable customer, falling score": "Wertvoller Kunde, sinkende Bewertung",
    "High-value customer at risk": "Wertvoller Kunde mit Abwanderungsrisiko",
    "Detractor at risk": "Kritiker mit Abwanderungsrisiko",
}


def upgrade():
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_de', sa.String(length=200), nullable=True))
    with op.batch_alter_table('retention_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_de', sa.String(length=120), nullable=True))
    surveys = sa.table('surveys', sa.column('key', sa.String), sa.column('name_de', sa.String))
    for key, name in SURVEYS.items():
        op.execute(surveys.update().where(surveys.c.key == key).values(name_de=name))
    rules = sa.table('retention_rules', sa.column('name', sa.String), sa.column('name_de', sa.String))
    for english, german in RULES.items():
        op.execute(rules.update().where(rules.c.name == english).values(name_de=german))


def downgrade():
    with op.batch_alter_table('retention_rules', schema=None) as batch_op:
        batch_op.drop_column('name_de')
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_column('name_de')
