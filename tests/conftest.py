"""Shared fixtures: a fresh real database per test, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from paperfeed.config import Settings
from paperfeed.models import Paper
from paperfeed.store import Database

PG_URL = os.environ.get("PAPERFEED_TEST_DATABASE_URL")
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FIXTURES = Path(__file__).parent / "fixtures"

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(
                not PG_URL, reason="PAPERFEED_TEST_DATABASE_URL is not set (no PostgreSQL)"
            ),
        ],
    ),
]


def _pg_schema_url(base: str, schema: str) -> str:
    url = sa.engine.make_url(Database(base).url)
    # Each test gets its own schema through the connection's search_path: isolated and fast.
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """A URL to an empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'paperfeed.db'}"
        return
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = Database(PG_URL)
    with admin.transaction() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield _pg_schema_url(PG_URL, schema)
    finally:
        with admin.transaction() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def db(database_url):
    """A migrated, empty database."""
    database = Database(database_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def settings(database_url, tmp_path):
    """Settings pointing at the test database, with its own vector index directory."""
    return Settings.load(
        env={},
        database_url=database_url,
        base_url="http://testserver",
        index_dir=str(tmp_path / "index"),
    )


def make_paper(n: int = 1, **overrides) -> Paper:
    """A complete, realistic paper; `n` varies the id."""
    fields = dict(
        arxiv_id=f"2511.{n:05d}",
        title=f"Sparse Mixtures of Experts at Scale, part {n}",
        abstract="We study routing in sparse mixture-of-experts models. Code is available.",
        authors=["Ada Lovelace", "Alan Turing"],
        version=1,
        primary_category="cs.LG",
        categories=["cs.LG", "cs.AI"],
        published=dt.datetime(2025, 11, 20, 15, 0, tzinfo=dt.UTC),
        updated=dt.datetime(2025, 11, 20, 15, 0, tzinfo=dt.UTC),
        listing_day=dt.date(2025, 11, 20),
        upvotes=0,
        num_comments=0,
    )
    fields.update(overrides)
    return Paper(**fields)
