"""A reader's library, feedback, collections and "For you" state.

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from paperfeed.store.tables import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _user(table: str) -> list:
    return [
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete="CASCADE"
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "library_items",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        *_user("library_items"),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("arxiv_id", sa.String(40)),
        sa.Column("doi", sa.String(300)),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("abstract", sa.Text, nullable=False, server_default=""),
        sa.Column("authors", sa.JSON, nullable=False),
        sa.Column("year", sa.Integer),
        sa.Column("venue", sa.Text),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("vector", sa.LargeBinary),
        sa.Column("saved_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_library_items"),
        sa.UniqueConstraint("user_id", "key", name="uq_library_items_user_key"),
    )
    op.create_index("ix_library_items_user_arxiv", "library_items", ["user_id", "arxiv_id"])
    op.create_table(
        "dismissals",
        *_user("dismissals"),
        sa.Column("arxiv_id", sa.String(40), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "arxiv_id", name="pk_dismissals"),
    )
    op.create_table(
        "collections",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        *_user("collections"),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("public", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_collections"),
        sa.UniqueConstraint("user_id", "name", name="uq_collections_user_name"),
    )
    op.create_table(
        "collection_items",
        sa.Column("collection_id", sa.Integer, nullable=False),
        sa.Column("item_id", sa.Integer, nullable=False),
        sa.Column("added_at", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name="fk_collection_items_collection_id_collections",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["library_items.id"],
            name="fk_collection_items_item_id_library_items",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("collection_id", "item_id", name="pk_collection_items"),
    )
    op.create_table(
        "seen_papers",
        *_user("seen_papers"),
        sa.Column("arxiv_id", sa.String(40), nullable=False),
        sa.Column("batch", UTCDateTime, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "arxiv_id", name="pk_seen_papers"),
    )
    op.create_index("ix_seen_papers_user_batch", "seen_papers", ["user_id", "batch"])
    op.create_table(
        "reader_state",
        *_user("reader_state"),
        sa.Column("feed_token_hash", sa.String(64)),
        sa.Column("api_mark", UTCDateTime),
        sa.Column("changed_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_reader_state"),
        sa.UniqueConstraint("feed_token_hash", name="uq_reader_state_feed_token_hash"),
    )


def downgrade() -> None:
    for table in (
        "reader_state",
        "seen_papers",
        "collection_items",
        "collections",
        "dismissals",
        "library_items",
    ):
        op.drop_table(table)
