"""The test databases themselves (tests/databases.py): a reused PostgreSQL schema must come back
exactly as a fresh migration leaves it, or every test after a dirty one would be wrong."""

from __future__ import annotations

import pytest

from paperfeed import accounts
from paperfeed.config import Settings
from paperfeed.store import Database, papers, runs

from .conftest import PG_URL, make_paper

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="PAPERFEED_TEST_DATABASE_URL is not set (no PostgreSQL)"),
]


def _state(db: Database) -> tuple:
    with db.connect() as conn:
        tables = conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ).scalars()
        rows = {t: conn.exec_driver_sql(f'SELECT count(*) FROM "{t}"').scalar_one() for t in tables}
        catalog = conn.exec_driver_sql("SELECT id, version FROM catalog_state").all()
    return rows, catalog


def test_a_reused_schema_is_emptied_rewound_and_reseeded(pg_schemas):
    schema = pg_schemas.migrated()
    db = Database(pg_schemas.url(schema))
    fresh = _state(db)
    settings = Settings.load(env={}, database_url=pg_schemas.url(schema))
    with db.transaction() as conn:
        papers.upsert_many(conn, [make_paper(1), make_paper(2)])
        run_id = runs.start(conn, source="jsonl", key="k")
    first = accounts.create_user(db, settings, email="ada@example.org", password="x" * 12)
    assert _state(db) != fresh
    db.dispose()

    pg_schemas.release(schema)
    again = pg_schemas.migrated()
    assert again == schema  # reused, not migrated anew
    db = Database(pg_schemas.url(again))
    try:
        assert _state(db) == fresh
        with db.transaction() as conn:  # sequences start over: ids as in a fresh database
            assert runs.start(conn, source="jsonl", key="k") == run_id
        user = accounts.create_user(db, settings, email="bob@example.org", password="x" * 12)
        assert user.id == first.id
        db.check_schema()
    finally:
        db.dispose()
        pg_schemas.release(again)


def test_a_schema_a_test_changed_is_not_reused(pg_schemas):
    schema = pg_schemas.migrated()
    db = Database(pg_schemas.url(schema))
    with db.transaction() as conn:
        conn.exec_driver_sql("ALTER TABLE papers ADD COLUMN scratch integer")
    db.dispose()
    pg_schemas.release(schema)
    assert schema not in pg_schemas.clean + pg_schemas.kept
    with pg_schemas.admin.connect() as conn:
        exists = "SELECT count(*) FROM pg_namespace WHERE nspname = %(s)s"
        assert conn.exec_driver_sql(exists, {"s": schema}).scalar_one() == 0  # dropped
    other = pg_schemas.migrated()
    assert other != schema
    pg_schemas.release(other)
