"""The migrations build exactly the schema the models describe (what `flask db check` tells an operator): a
migration that forgets an index or a column fails here, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from kundenpuls.extensions import db


def test_migrated_schema_matches_the_models(session):
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert differences == []
