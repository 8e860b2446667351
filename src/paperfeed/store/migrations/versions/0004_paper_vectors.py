"""Paper embeddings, one row per paper and model.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from paperfeed.store.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_vectors",
        sa.Column("arxiv_id", sa.String(40), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["arxiv_id"],
            ["papers.arxiv_id"],
            name="fk_paper_vectors_arxiv_id_papers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("arxiv_id", "model", name="pk_paper_vectors"),
    )
    op.create_index("ix_paper_vectors_model_time", "paper_vectors", ["model", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_paper_vectors_model_time", table_name="paper_vectors")
    op.drop_table("paper_vectors")
