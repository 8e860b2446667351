"""The catalogue's content version: the catalogue version of the last change a card shows other
than a vote, so shared card HTML outlives votes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_state") as batch:
        batch.add_column(
            sa.Column("content_version", sa.BigInteger, nullable=False, server_default="0")
        )
    op.execute("UPDATE catalog_state SET content_version = version")


def downgrade() -> None:
    with op.batch_alter_table("catalog_state") as batch:
        batch.drop_column("content_version")
