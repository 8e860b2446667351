"""Papers and the ingest-run log.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

from paperfeed.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "papers",
        sa.Column("arxiv_id", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("abstract", sa.Text, nullable=False),
        sa.Column("authors", sa.JSON, nullable=False),
        sa.Column("primary_category", sa.String(40)),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("journal_ref", sa.Text),
        sa.Column("doi", sa.Text),
        sa.Column("published", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime),
        sa.Column("listing_day", sa.Date, nullable=False),
        sa.Column("code_url", sa.Text),
        sa.Column("project_url", sa.Text),
        sa.Column("upvotes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("num_comments", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("modified_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("arxiv_id", name="pk_papers"),
    )
    op.create_index(
        "ix_papers_listing", "papers", ["listing_day", "upvotes", "published", "arxiv_id"]
    )
    state = op.create_table(
        "catalog_state",
        sa.Column("id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("changed_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_catalog_state"),
    )
    op.bulk_insert(state, [{"id": 1, "version": 1, "changed_at": dt.datetime.now(dt.UTC)}])
    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cursor", sa.Text),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("new", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
        sa.Column("unchanged", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_ingest_runs"),
    )
    op.create_index("ix_ingest_runs_key", "ingest_runs", ["key", "id"])
    op.create_table(
        "ingest_rejections",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("ref", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["ingest_runs.id"],
            name="fk_ingest_rejections_run_id_ingest_runs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_ingest_rejections"),
    )
    op.create_index("ix_ingest_rejections_run", "ingest_rejections", ["run_id"])


def downgrade() -> None:
    op.drop_table("ingest_rejections")
    op.drop_table("ingest_runs")
    op.drop_table("catalog_state")
    op.drop_index("ix_papers_listing", table_name="papers")
    op.drop_table("papers")
