"""`paperfeed db copy`: a used SQLite site moved, every table, into SQLite or PostgreSQL."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from paperfeed import accounts, comments, library, limits, recommend, subscriptions, voting
from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.ingest import ingest
from paperfeed.models import Preferences, RepoStars
from paperfeed.sources.jsonl import JsonlSource
from paperfeed.store import Database, papers, transfer, vectors
from paperfeed.store import stars as star_store
from paperfeed.store import subscriptions as subscription_store
from paperfeed.store import votes as vote_store
from paperfeed.store.tables import comments as comments_table
from paperfeed.store.tables import users as users_table

from .conftest import make_paper

runner = CliRunner()
PASSWORD = "correct horse battery"


@pytest.fixture
def used_site(tmp_path):
    """A SQLite site that has seen every kind of use: (url, db, settings, facts)."""
    url = f"sqlite:///{tmp_path / 'laptop.db'}"
    db = Database(url)
    db.upgrade()
    settings = Settings.load(env={}, database_url=url)
    with db.transaction() as conn:
        papers.upsert_many(
            conn,
            [
                make_paper(i, code_url="https://github.com/o/r", doi=f"10.1/{i}")
                for i in range(1, 31)
            ],
        )
        rng = np.random.default_rng(1)
        vecs = rng.standard_normal((5, 384)).astype(np.float32)
        vectors.save(
            conn,
            "all-MiniLM-L6-v2",
            [(f"2511.{i:05d}", vecs[i - 1].tobytes()) for i in range(1, 6)],
        )
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text(
        '{"arxiv_id": "2511.00099", "title": "T", "abstract": "A.", '
        '"authors": ["X"], "published": "2025-11-20"}\nnot json\n'
    )
    ingest(db, JsonlSource(jsonl))  # an ingest run and a rejection
    ada = accounts.create_user(db, settings, email="ada@example.org", password=PASSWORD)
    bob = accounts.create_user(db, settings, email="bob@example.org", password=PASSWORD)
    token = accounts.create_api_token(db, user=ada, name="laptop")
    accounts.start_session(db, settings, ada)
    for user, n in ((ada, 1), (ada, 2), (bob, 2)):
        voting.set_vote(db, user=user, arxiv_id=f"2511.{n:05d}", up=True)
    root = comments.add(db, user=ada, arxiv_id="2511.00002", body="**Nice** result")
    reply = comments.add(db, user=bob, arxiv_id="2511.00002", body="Agreed", parent_id=root.id)
    comments.report(db, user=ada, comment_id=reply.id, reason="test report")
    limits.hit(db, settings, "vote", "user:1")
    subscriptions.subscribe(
        db, settings, email="reader@example.org", prefs=Preferences(topics=["merging models"])
    )
    with db.transaction() as conn:  # a digest sent to that reader, in the send log
        sub = subscription_store.find_by_email(conn, "reader@example.org")
        now = dt.datetime(2025, 11, 21, 12, tzinfo=dt.UTC)
        assert subscription_store.claim(conn, sub.id, "2025-11-21", now=now, stale_before=now)
        subscription_store.finish(conn, sub.id, "2025-11-21", status="sent", now=now, papers=3)
        # The GitHub star refresh's rows: the repository with its ETag, and a day's snapshot.
        star_store.record(
            conn, [RepoStars("o/r", "ok", stars=5, etag='W/"e"')], day=dt.date(2025, 11, 21)
        )
    # A reader's library: a saved paper filed in a collection, a dismissal, what /for-you
    # showed them, and their private feed's token.
    item = library.save_paper(db, ada, "2511.00003")
    library.dismiss(db, ada, "2511.00004")
    shelf = library.create_collection(db, ada, "reading group")
    library.file_item(db, ada, shelf.id, item.id, on=True)
    library.new_feed_token(db, ada)
    # the vectors above are stored under the full-precision model's name
    recommend.for_you(
        db, Settings.load(env={}, database_url=url, embedding_model="all-MiniLM-L6-v2"), ada
    )
    yield url, db, {"token": token, "ada": ada}
    db.dispose()


def copy(source: str, target: str, *extra: str):
    return runner.invoke(app, ["db", "copy", "--from", source, "--to", target, *extra])


def test_copy_moves_every_table_and_the_site_works_on_the_target(used_site, database_url):
    source_url, source, facts = used_site
    counts = transfer.count_rows(source)
    assert all(counts.values()), counts  # every table has something to copy

    first = copy(source_url, database_url, "--batch-size", "7")  # several batches per table
    assert first.exit_code == 0, first.output
    assert "every count matches" in first.output
    target = Database(database_url)
    try:
        assert transfer.count_rows(target) == counts
        with source.connect() as a, target.connect() as b:
            assert list(papers.iter_all(a)) == list(papers.iter_all(b))
            assert vectors.vectors_of(a, "all-MiniLM-L6-v2", ["2511.00003"]) == vectors.vectors_of(
                b, "all-MiniLM-L6-v2", ["2511.00003"]
            )
            assert vote_store.count_of(b, "2511.00002") == vote_store.recorded(b, "2511.00002") == 2
            bodies = b.execute(
                sa.select(comments_table.c.body, comments_table.c.parent_id).order_by(
                    comments_table.c.id
                )
            ).all()
            assert [r.body for r in bodies] == ["**Nice** result", "Agreed"]
            assert bodies[1].parent_id is not None
        settings = Settings.load(env={}, database_url=database_url)
        # Passwords, tokens and keyword search came along.
        assert accounts.authenticate(target, email="ada@example.org", password=PASSWORD)
        assert accounts.user_for_api_token(target, facts["token"]).email == "ada@example.org"
        from paperfeed import search

        assert search.search(target, "Sparse Mixtures", mode="keyword").hits
        if target.dialect == "postgresql":  # the RUM index, dropped for the copy, is back
            from paperfeed.store import rum

            rum.forget()
            with target.connect() as conn:
                available = conn.exec_driver_sql(
                    "SELECT 1 FROM pg_available_extensions WHERE name = 'rum'"
                ).scalar()
                assert (rum.operator(conn) is not None) == bool(available)
        # New rows get new ids (PostgreSQL's sequences moved past the copied ids).
        carol = accounts.create_user(target, settings, email="carol@example.org", password=PASSWORD)
        assert carol.id > facts["ada"].id + 1
        new = comments.add(target, user=carol, arxiv_id="2511.00003", body="New here")
        assert new.id == 3
    finally:
        target.dispose()


def test_copy_again_is_safe_and_brings_changes(used_site, database_url):
    source_url, source, facts = used_site
    assert copy(source_url, database_url).exit_code == 0
    voting.set_vote(source, user=facts["ada"], arxiv_id="2511.00030", up=True)
    with source.transaction() as conn:
        papers.upsert(conn, make_paper(31, title="Added after the first copy"))
    again = copy(source_url, database_url)
    assert again.exit_code == 0, again.output
    target = Database(database_url)
    try:
        assert transfer.count_rows(target) == transfer.count_rows(source)
        with target.connect() as conn:
            assert vote_store.count_of(conn, "2511.00030") == 1
            assert papers.get(conn, "2511.00031").title == "Added after the first copy"
            assert conn.execute(sa.select(sa.func.count()).select_from(users_table)).scalar() == 2
    finally:
        target.dispose()


def test_copy_refuses_the_same_database_and_an_outdated_source(used_site, database_url, tmp_path):
    source_url, _source, _ = used_site
    same = copy(source_url, source_url)
    assert same.exit_code == 1 and "same database" in same.output
    old = f"sqlite:///{tmp_path / 'old.db'}"
    Database(old).upgrade("0002")
    outdated = copy(old, database_url)
    assert outdated.exit_code == 1 and "paperfeed db upgrade" in outdated.output
