"""The store: the only package that speaks SQL. SQLAlchemy Core on SQLite or PostgreSQL."""

from paperfeed.store.database import Database

__all__ = ["Database"]
