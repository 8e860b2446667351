"""Shared fixtures: a fresh real database per test, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from paperfeed import accounts
from paperfeed.config import Settings
from paperfeed.models import Paper
from paperfeed.store import Database

from . import databases

# pytest-xdist's workers get COLUMNS=80; Rich would then fix the CLI's console (made when
# paperfeed.cli is first imported) at 80 columns, whatever width a test's CliRunner asks for.
os.environ.pop("COLUMNS", None)

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


# Tests that take many seconds (real processes, a browser, a model export) start first, so the
# parallel workers (pytest-xdist) finish together instead of one running them alone at the end.
# Only the order changes; a test missing here is merely scheduled later.
LONG = (
    "test_browser.py::",
    "test_cli.py::test_kill_9",
    "test_cli.py::test_serve_answers",
    "test_digests.py::test_a_sender_killed",
    "test_digests.py::test_two_sender_processes",
    "test_vector_index.py::test_onnx_runtime",
    "test_vote_storm.py::",
    "test_workers.py::",
)


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: not any(long in item.nodeid for long in LONG))


# argon2id at the lowest cost it allows: microseconds a hash instead of a third of a second.
# Only the cost differs from production (the algorithm and code path are the same); tests
# marked `real_argon2` keep the production hasher.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(autouse=True)
def password_hashing(request, monkeypatch):
    if request.node.get_closest_marker("real_argon2") is None:
        monkeypatch.setattr(accounts, "_hasher", lambda: CHEAP_HASHER)
    accounts._dummy_hash.cache_clear()  # made by whichever hasher this test uses
    yield
    accounts._dummy_hash.cache_clear()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """A URL to a database of each backend: at the newest migration and empty when the test
    uses `db` (see databases.py), otherwise with nothing in it at all."""
    migrated = "db" in request.fixturenames
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'paperfeed.db'}"
        if migrated:
            databases.clone_sqlite(request.getfixturevalue("sqlite_template"), url)
        yield url
        return
    schemas = request.getfixturevalue("pg_schemas")
    schema = schemas.migrated() if migrated else schemas.empty()
    try:
        yield schemas.url(schema)
    finally:
        if migrated:
            schemas.release(schema)
        else:
            schemas.drop(schema)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    return databases.sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def pg_schemas():
    schemas = databases.PgSchemas(PG_URL)
    yield schemas
    schemas.close()


@pytest.fixture
def db(database_url):
    """A database at the newest migration, with no data but what the migrations seed."""
    database = Database(database_url)
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
