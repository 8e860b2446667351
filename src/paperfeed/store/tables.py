"""Table definitions (SQLAlchemy Core); Alembic migrations must match them."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator):
    """A timestamp that always comes back timezone-aware in UTC, on SQLite as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        # SQLite keeps text; a fixed naive-UTC form keeps text ordering equal to time ordering.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


papers = sa.Table(
    "papers",
    metadata,
    sa.Column("arxiv_id", sa.String(40), primary_key=True),
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
    sa.Column("submitted_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
    # What Hugging Face's daily list adds (migration 0008).
    sa.Column("github_repo", sa.String(200)),  # owner/name of code_url, lower-case, for stars
    sa.Column("github_stars", sa.Integer),
    sa.Column("ai_summary", sa.Text),
    sa.Column("ai_keywords", sa.JSON),
    sa.Column("organization", sa.String(200)),
    sa.Column("organization_id", sa.String(100)),
    sa.Column("hf_submitter", sa.String(100)),
    sa.Column("hf_comments", sa.Integer),
    # The daily page reads one day ordered by upvotes, then recency.
    sa.Index("ix_papers_listing", "listing_day", "upvotes", "published", "arxiv_id"),
    sa.Index("ix_papers_upvotes", "upvotes", "published", "arxiv_id"),  # most upvoted, in order
    sa.Index("ix_papers_github_repo", "github_repo"),
    sa.Index("ix_papers_hf_submitter", "hf_submitter"),
)

# GitHub repositories that papers link to: the latest star count and the ETag to revalidate it.
github_repos = sa.Table(
    "github_repos",
    metadata,
    sa.Column("repo", sa.String(200), primary_key=True),  # owner/name, lower-case
    sa.Column("stars", sa.Integer),
    sa.Column("etag", sa.Text),
    sa.Column("status", sa.String(16), nullable=False),  # ok, missing (404/451), error
    sa.Column("checked_at", UTCDateTime, nullable=False),
    sa.Column("error", sa.Text),
)

# One star count per repository and day: what "Trending code" measures growth from.
github_star_snapshots = sa.Table(
    "github_star_snapshots",
    metadata,
    sa.Column("repo", sa.String(200), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("stars", sa.Integer, nullable=False),
    sa.Index("ix_github_star_snapshots_day", "day"),
)

# One row whose version goes up whenever a paper is added or changed, so caches in any worker
# can tell with one cheap read whether what they hold is still current. content_version is the
# version of the last change other than a vote: card HTML is shared across votes by it.
catalog_state = sa.Table(
    "catalog_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("changed_at", UTCDateTime, nullable=False),
    sa.Column("content_version", sa.BigInteger, nullable=False, server_default="0"),
)

ingest_runs = sa.Table(
    "ingest_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
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
    sa.Index("ix_ingest_runs_key", "key", "id"),
)

ingest_rejections = sa.Table(
    "ingest_rejections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "run_id", sa.Integer, sa.ForeignKey("ingest_runs.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("ref", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Index("ix_ingest_rejections_run", "run_id"),
)


users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),  # stored lower-cased
    sa.Column("display_name", sa.String(80), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("confirmed_at", UTCDateTime),  # None until the emailed link is followed
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),  # sha256 of the cookie value
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Index("ix_sessions_user", "user_id"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime),
)

# One row per (user, paper): the unique constraint, not a read-modify-write, keeps counts exact.
# A deleted account's votes keep counting with user_id NULL.
votes = sa.Table(
    "votes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column(
        "arxiv_id",
        sa.String(40),
        sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("user_id", "arxiv_id", name="uq_votes_user_paper"),
    sa.Index("ix_votes_paper_time", "arxiv_id", "created_at"),
)

rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("window_start", sa.BigInteger, nullable=False),  # unix seconds
    sa.Column("hits", sa.Integer, nullable=False),
)

comments = sa.Table(
    "comments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "arxiv_id",
        sa.String(40),
        sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("comments.id", ondelete="CASCADE")),
    sa.Column("body", sa.Text, nullable=False),  # Markdown as written
    sa.Column("html", sa.Text, nullable=False),  # sanitised rendering of body
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("edited_at", UTCDateTime),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_comments_paper", "arxiv_id", "id"),
)

comment_reports = sa.Table(
    "comment_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "comment_id", sa.Integer, sa.ForeignKey("comments.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("comment_id", "user_id", name="uq_comment_reports_comment_user"),
)


# One embedding per paper and model, so PostgreSQL (or the SQLite file) holds everything needed
# to rebuild any in-memory or on-disk vector index.
paper_vectors = sa.Table(
    "paper_vectors",
    metadata,
    sa.Column(
        "arxiv_id",
        sa.String(40),
        sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("vector", sa.LargeBinary, nullable=False),  # float32, L2-normalised
    sa.Column("created_at", UTCDateTime, nullable=False),
    # Workers poll for vectors newer than the last they loaded.
    sa.Index("ix_paper_vectors_model_time", "model", "created_at"),
)

# Each author of each paper, in listing order, under a normalised key (store/authors.py), so
# `author:` filters and author pages are index lookups on SQLite and PostgreSQL alike.
paper_authors = sa.Table(
    "paper_authors",
    metadata,
    sa.Column(
        "arxiv_id",
        sa.String(40),
        sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.Text, nullable=False),  # as listed
    sa.Column("name_key", sa.String(300), nullable=False),  # authors.name_key(name)
    sa.Column("last_key", sa.String(300), nullable=False),  # its family name: the last word
    sa.Index("ix_paper_authors_name_key", "name_key", "arxiv_id"),
    sa.Index("ix_paper_authors_last_key", "last_key", "arxiv_id"),
)

# Digest subscribers: anyone with an address, with or without an account. `key` is a random
# value mixed into their signed links, so forgetting a subscription voids every link it had.
subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),  # normalised
    sa.Column("key", sa.String(32), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("status", sa.String(16), nullable=False),  # pending, active, paused, unsubscribed
    sa.Column("cadence", sa.String(8), nullable=False),  # daily or weekly
    sa.Column("weekday", sa.Integer, nullable=False),  # 0 = Monday, for weekly digests
    sa.Column("send_hour", sa.Integer, nullable=False),  # 0-23 in `timezone`
    sa.Column("timezone", sa.String(64), nullable=False),  # IANA name
    sa.Column("max_papers", sa.Integer, nullable=False),
    sa.Column("categories", sa.JSON, nullable=False),
    sa.Column("topics", sa.JSON, nullable=False),  # saved searches, as typed
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("confirmed_at", UTCDateTime),
    sa.Column("changed_at", UTCDateTime, nullable=False),  # preferences, for feed ETags
    sa.Column("covered_until", sa.Date),  # newest listing day the last digest covered
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),  # permanent, in a row
    sa.Column("paused_reason", sa.Text),
    sa.Index("ix_subscriptions_status", "status"),
)

# The send log: one row per (subscription, period) digest. A row is claimed before the digest is
# handed to the SMTP server and marked sent as soon as the server accepted it.
digest_sends = sa.Table(
    "digest_sends",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "subscription_id",
        sa.Integer,
        sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("period", sa.String(16), nullable=False),  # d:2025-11-20 or w:2025-W47
    sa.Column("status", sa.String(16), nullable=False),  # sending, sent, retry, failed, empty
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("claimed_at", UTCDateTime, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("papers", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text),
    sa.UniqueConstraint("subscription_id", "period", name="uq_digest_sends_subscription_period"),
    sa.Index("ix_digest_sends_status", "status", "next_attempt_at"),
)


# A reader's library: saved papers and imported references. An entry links to the catalogue by
# arxiv_id when it has one; entries without one keep their own title, abstract and vector so they
# still teach the reader's model. `key` (arxiv:, doi: or title:) is what duplicates merge on.
library_items = sa.Table(
    "library_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("key", sa.String(300), nullable=False),
    sa.Column("arxiv_id", sa.String(40)),
    sa.Column("doi", sa.String(300)),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("abstract", sa.Text, nullable=False, server_default=""),
    sa.Column("authors", sa.JSON, nullable=False),
    sa.Column("year", sa.Integer),
    sa.Column("venue", sa.Text),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("source", sa.String(40), nullable=False),  # web, api, bibtex, ris, csl-json, ids
    sa.Column("vector", sa.LargeBinary),  # float32, for entries the catalogue cannot embed
    sa.Column("saved_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("user_id", "key", name="uq_library_items_user_key"),
    sa.Index("ix_library_items_user_arxiv", "user_id", "arxiv_id"),
)

# "Not interested": negative feedback, one row per (reader, paper), deleted on undo.
dismissals = sa.Table(
    "dismissals",
    metadata,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("arxiv_id", sa.String(40), primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

collections = sa.Table(
    "collections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("public", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("user_id", "name", name="uq_collections_user_name"),
)

collection_items = sa.Table(
    "collection_items",
    metadata,
    sa.Column(
        "collection_id",
        sa.Integer,
        sa.ForeignKey("collections.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "item_id",
        sa.Integer,
        sa.ForeignKey("library_items.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("added_at", UTCDateTime, nullable=False),
)

# Papers /for-you has shown a reader, so each is shown once; `batch` groups one visit's papers
# for paging back.
seen_papers = sa.Table(
    "seen_papers",
    metadata,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("arxiv_id", sa.String(40), primary_key=True),
    sa.Column("batch", UTCDateTime, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Index("ix_seen_papers_user_batch", "user_id", "batch"),
)

# Per-reader state of the personal surfaces: the secret feed token (its hash) and the API's
# "new since the last call" mark.
reader_state = sa.Table(
    "reader_state",
    metadata,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("feed_token_hash", sa.String(64), unique=True),
    sa.Column("api_mark", UTCDateTime),
    sa.Column("changed_at", UTCDateTime, nullable=False),
)


# Search structures live outside this metadata (an FTS5 table on SQLite, a generated tsvector
# column on PostgreSQL, and its RUM index where the extension exists): migrations 0003 and 0010
# manage them in raw SQL.
SEARCH_OBJECTS = {
    "papers_fts",
    "search_vector",
    "ix_papers_search",
    "ix_papers_search_rum",
}


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """For Alembic comparisons: leave the search structures out."""
    return not (name in SEARCH_OBJECTS or (name or "").startswith("papers_fts_"))
