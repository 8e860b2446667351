"""PostgreSQL: a RUM index on the search vector, where the RUM extension is installed.

RUM keeps each word's positions and weights beside its postings, so the best matches of a word
come from the index in rank order (`ORDER BY search_vector <=> query LIMIT k`) instead of
reading and ranking every matching paper from the table. The extension is optional (Debian:
`postgresql-15-rum`; creating it needs a superuser): where it is missing or cannot be created,
this migration does nothing and keyword search keeps the GIN index and `ts_rank`, slower on
common words. Nothing changes on SQLite.

The extension goes into the `public` schema when there is one, so a schema dropped later (a
test's, say) cannot take the extension, and with it every other schema's RUM index, along.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

INDEX = "ix_papers_search_rum"
log = logging.getLogger("paperfeed.store")


def _rum_schema(conn: sa.Connection) -> str | None:
    return conn.exec_driver_sql(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'rum'"
    ).scalar()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    available = conn.exec_driver_sql(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'rum'"
    ).scalar()
    schema = _rum_schema(conn)
    if schema is None and available:
        public = conn.exec_driver_sql("SELECT 1 FROM pg_namespace WHERE nspname = 'public'")
        where = " SCHEMA public" if public.scalar() else ""
        try:
            with conn.begin_nested():  # a refusal (no superuser, a race) must not end the rest
                conn.exec_driver_sql(f"CREATE EXTENSION IF NOT EXISTS rum{where}")
        except sa.exc.DBAPIError as exc:
            log.warning("could not create the RUM extension (%s): keeping GIN only", exc.orig)
        schema = _rum_schema(conn)
    if schema is None:
        log.warning(
            "PostgreSQL has no RUM extension: keyword search uses GIN and ts_rank, slower "
            "on common words at a large catalogue (see docs/deployment.md)"
        )
        return
    conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")  # a faster build
    conn.exec_driver_sql(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON papers "
        f"USING rum (search_vector {_quote(schema)}.rum_tsvector_ops)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {INDEX}")
