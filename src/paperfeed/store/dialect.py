"""What differs between SQLite and PostgreSQL and cannot be said in portable Core."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def insert(conn: sa.Connection, table: sa.Table):
    """An INSERT that supports on_conflict_do_nothing / on_conflict_do_update on this database."""
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)
