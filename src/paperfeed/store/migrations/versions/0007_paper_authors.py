"""Each paper's authors under a normalised key, for indexed author search and author pages.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from paperfeed.models import Paper
from paperfeed.store import authors

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH = 2_000


def upgrade() -> None:
    op.create_table(
        "paper_authors",
        sa.Column("arxiv_id", sa.String(40), nullable=False),
        sa.Column("position", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name_key", sa.String(300), nullable=False),
        sa.Column("last_key", sa.String(300), nullable=False),
        sa.ForeignKeyConstraint(
            ["arxiv_id"],
            ["papers.arxiv_id"],
            name="fk_paper_authors_arxiv_id_papers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("arxiv_id", "position", name="pk_paper_authors"),
    )
    # Fill it from the papers already stored, a batch at a time (keyset by id), before the
    # indexes exist: building them once at the end is faster than maintaining them row by row.
    conn = op.get_bind()
    target = sa.table(
        "paper_authors",
        sa.column("arxiv_id"),
        sa.column("position"),
        sa.column("name"),
        sa.column("name_key"),
        sa.column("last_key"),
    )
    source = sa.table("papers", sa.column("arxiv_id"), sa.column("authors", sa.JSON))
    after = ""
    while True:
        rows = conn.execute(
            sa.select(source.c.arxiv_id, source.c.authors)
            .where(source.c.arxiv_id > after)
            .order_by(source.c.arxiv_id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        papers = [
            Paper(arxiv_id=r[0], title="", abstract="", authors=list(r[1] or [])) for r in rows
        ]
        values = authors.rows_of(papers)
        if values:
            conn.execute(sa.insert(target), values)
        after = rows[-1][0]
    op.create_index("ix_paper_authors_name_key", "paper_authors", ["name_key", "arxiv_id"])
    op.create_index("ix_paper_authors_last_key", "paper_authors", ["last_key", "arxiv_id"])


def downgrade() -> None:
    op.drop_index("ix_paper_authors_last_key", table_name="paper_authors")
    op.drop_index("ix_paper_authors_name_key", table_name="paper_authors")
    op.drop_table("paper_authors")
