"""What Hugging Face's daily list adds (AI summary and keywords, GitHub stars, organisation,
submitter, its own comment count), GitHub star snapshots, and comment counts that are ours.

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from paperfeed.models import github_repo
from paperfeed.store.tables import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("github_repo", sa.String(200)),
    ("github_stars", sa.Integer),
    ("ai_summary", sa.Text),
    ("ai_keywords", sa.JSON),
    ("organization", sa.String(200)),
    ("organization_id", sa.String(100)),
    ("hf_submitter", sa.String(100)),
    ("hf_comments", sa.Integer),
)


def upgrade() -> None:
    for name, type_ in _COLUMNS:
        op.add_column("papers", sa.Column(name, type_))
    op.create_index("ix_papers_github_repo", "papers", ["github_repo"])
    op.create_index("ix_papers_hf_submitter", "papers", ["hf_submitter"])
    op.create_table(
        "github_repos",
        sa.Column("repo", sa.String(200), nullable=False),
        sa.Column("stars", sa.Integer),
        sa.Column("etag", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("checked_at", UTCDateTime, nullable=False),
        sa.Column("error", sa.Text),
        sa.PrimaryKeyConstraint("repo", name="pk_github_repos"),
    )
    op.create_table(
        "github_star_snapshots",
        sa.Column("repo", sa.String(200), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("stars", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("repo", "day", name="pk_github_star_snapshots"),
    )
    op.create_index("ix_github_star_snapshots_day", "github_star_snapshots", ["day"])

    conn = op.get_bind()
    papers = sa.table(
        "papers",
        sa.column("arxiv_id", sa.String),
        sa.column("code_url", sa.Text),
        sa.column("github_repo", sa.String),
        sa.column("num_comments", sa.Integer),
        sa.column("hf_comments", sa.Integer),
    )
    comments = sa.table(
        "comments", sa.column("arxiv_id", sa.String), sa.column("hidden", sa.Boolean)
    )
    linked = conn.execute(
        sa.select(papers.c.arxiv_id, papers.c.code_url).where(papers.c.code_url.like("%github%"))
    ).all()
    repos = [{"b_id": r.arxiv_id, "repo": github_repo(r.code_url)} for r in linked]
    repos = [r for r in repos if r["repo"]]
    if repos:
        conn.execute(
            sa.update(papers)
            .where(papers.c.arxiv_id == sa.bindparam("b_id"))
            .values(github_repo=sa.bindparam("repo")),
            repos,
        )
    # Until now an import's comment count (Hugging Face's) was merged into ours, so a card
    # could say "1 comment" over an empty discussion. Keep the imported count apart and count
    # only the comments readers see here.
    ours = (
        sa.select(sa.func.count())
        .select_from(comments)
        .where(comments.c.arxiv_id == papers.c.arxiv_id, comments.c.hidden == sa.false())
        .scalar_subquery()
    )
    conn.execute(
        sa.update(papers)
        .where(papers.c.num_comments > ours)
        .values(hf_comments=papers.c.num_comments)
    )
    conn.execute(sa.update(papers).values(num_comments=ours))


def downgrade() -> None:
    op.drop_index("ix_github_star_snapshots_day", table_name="github_star_snapshots")
    op.drop_table("github_star_snapshots")
    op.drop_table("github_repos")
    op.drop_index("ix_papers_hf_submitter", table_name="papers")
    op.drop_index("ix_papers_github_repo", table_name="papers")
    # SQLite (3.35+) drops plain columns in place; a batch copy would lose the FTS triggers.
    for name, _type in reversed(_COLUMNS):
        op.drop_column("papers", name)
