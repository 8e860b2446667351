"""The store on SQLite and PostgreSQL: migrations, upsert semantics, listings, the run log."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from paperfeed.errors import InvalidInput, NotFound, SchemaOutdated
from paperfeed.models import IngestCounts, Rejected
from paperfeed.store import Database, papers, runs

from .conftest import make_paper


def test_empty_database_is_refused_until_upgraded(database_url):
    """An app or command on an unmigrated database must name `paperfeed db upgrade`."""
    db = Database(database_url)
    with pytest.raises(SchemaOutdated, match="paperfeed db upgrade"):
        db.check_schema()
    before, after = db.upgrade()
    assert before is None and after == db.head_revision()
    db.check_schema()
    assert db.upgrade() == (after, after)  # a second upgrade is a no-op


def test_outdated_schema_is_refused(db):
    """A database stamped at an older revision (simulated by editing alembic_version)."""
    with db.transaction() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'old0'")
    with pytest.raises(SchemaOutdated, match="revision old0.*paperfeed db upgrade"):
        db.check_schema()


def test_round_trip_keeps_every_field(db):
    p = make_paper(
        comment="12 pages; code at https://github.com/org/repo",
        journal_ref="NeurIPS 2025",
        doi="10.1000/xyz",
        code_url="https://github.com/org/repo",
        project_url="https://org.github.io/repo/",
        upvotes=7,
        hf_comments=2,
        github_stars=40,
        ai_summary="A <b>summary</b>.",
        ai_keywords=["routing", "experts"],
        organization="Google",
        organization_id="google",
        hf_submitter="taesiri",
        title="Ünïcödé <b>title</b> with $\\alpha$-LaTeX",
    )
    with db.transaction() as conn:
        assert papers.upsert(conn, p) == "new"
    with db.connect() as conn:
        got = papers.get(conn, p.arxiv_id)
    assert got == p
    assert got.published.tzinfo is not None


def test_get_unknown_raises_not_found(db):
    with db.connect() as conn, pytest.raises(NotFound):
        papers.get(conn, "2511.99999")


def test_upsert_is_idempotent(db):
    batch = [make_paper(i) for i in range(1, 6)]
    with db.transaction() as conn:
        first = papers.upsert_many(conn, batch)
    with db.transaction() as conn:
        second = papers.upsert_many(conn, batch)
    assert (first.new, first.updated, first.unchanged) == (5, 0, 0)
    assert (second.new, second.updated, second.unchanged) == (0, 0, 5)


def test_newer_version_updates_and_older_does_not(db):
    with db.transaction() as conn:
        papers.upsert(conn, make_paper(1, version=1, title="Old title"))
        assert papers.upsert(conn, make_paper(1, version=2, title="New title")) == "updated"
        assert papers.upsert(conn, make_paper(1, version=1, title="Old title")) == "unchanged"
        got = papers.get(conn, "2511.00001")
    assert (got.version, got.title) == (2, "New title")


def test_unknown_fields_keep_stored_values_and_upvotes_never_drop(db):
    with db.transaction() as conn:
        papers.upsert(conn, make_paper(1, upvotes=12, code_url="https://github.com/a/b"))
        # A source that knows neither upvotes nor code (None) must not erase them.
        papers.upsert(conn, make_paper(1, upvotes=None, code_url=None))
        papers.upsert(conn, make_paper(1, upvotes=3))
        got = papers.get(conn, "2511.00001")
    assert got.upvotes == 12 and got.code_url == "https://github.com/a/b"


def test_first_listing_day_wins(db):
    with db.transaction() as conn:
        papers.upsert(conn, make_paper(1, listing_day=dt.date(2025, 11, 20)))
        papers.upsert(conn, make_paper(1, listing_day=dt.date(2025, 11, 21)))
        assert papers.get(conn, "2511.00001").listing_day == dt.date(2025, 11, 20)


def test_duplicate_ids_inside_one_batch_merge(db):
    with db.transaction() as conn:
        c = papers.upsert_many(conn, [make_paper(1, version=1), make_paper(1, version=3)])
        assert c.new == 1 and papers.get(conn, "2511.00001").version == 3


def test_listing_order_and_cursor_pagination(db):
    day = dt.date(2025, 11, 20)
    batch = [
        make_paper(i, upvotes=i % 4, published=dt.datetime(2025, 11, 20, i, tzinfo=dt.UTC))
        for i in range(1, 24)
    ]
    batch.append(make_paper(99, listing_day=dt.date(2025, 11, 21), upvotes=100))
    with db.transaction() as conn:
        papers.upsert_many(conn, batch)
    seen, cursor = [], None
    with db.connect() as conn:
        while True:
            page = papers.list_between(conn, day, day, limit=5, cursor=cursor)
            if not page:
                break
            seen += page
            cursor = papers.encode_cursor(page[-1])
        assert papers.count_between(conn, day, day) == 23
    keys = [(p.upvotes, p.published) for p in seen]
    assert len(seen) == 23 and len({p.arxiv_id for p in seen}) == 23
    assert keys == sorted(keys, reverse=True)  # upvotes first, then recency


def test_forged_cursor_is_invalid_input(db):
    with db.connect() as conn:
        for bad in ("garbage", "e30", "WzEsMiwzXQ"):  # not base64 JSON / {} / [1,2,3]
            with pytest.raises(InvalidInput):
                papers.list_between(
                    conn, dt.date(2025, 1, 1), dt.date(2025, 1, 2), limit=5, cursor=bad
                )


def test_neighbouring_days(db):
    with db.transaction() as conn:
        papers.upsert_many(
            conn,
            [
                make_paper(1, listing_day=dt.date(2025, 11, 17)),
                make_paper(2, listing_day=dt.date(2025, 11, 20)),
            ],
        )
    with db.connect() as conn:
        assert papers.day_before(conn, dt.date(2025, 11, 20)) == dt.date(2025, 11, 17)
        assert papers.day_after(conn, dt.date(2025, 11, 17)) == dt.date(2025, 11, 20)
        assert papers.day_after(conn, dt.date(2025, 11, 20)) is None
        assert papers.latest_day(conn, on_or_before=dt.date(2025, 11, 19)) == dt.date(2025, 11, 17)


def test_iter_all_pages_through_everything(db):
    with db.transaction() as conn:
        papers.upsert_many(conn, [make_paper(i) for i in range(1, 12)])
    with db.connect() as conn:
        ids = [p.arxiv_id for p in papers.iter_all(conn, batch_size=4)]
    assert ids == sorted(ids) and len(ids) == 11


def test_run_log_records_cursor_counts_and_rejections(db):
    with db.transaction() as conn:
        run_id = runs.start(conn, source="jsonl", key="jsonl:/x")
        runs.checkpoint(
            conn,
            run_id,
            cursor="10",
            counts=IngestCounts(new=9, rejected=1),
            rejections=[Rejected("line 4", "missing title")],
        )
    with db.connect() as conn:
        resumable = runs.resumable(conn, "jsonl:/x")
        assert resumable is not None and resumable.cursor == "10"
    with db.transaction() as conn:
        runs.finish(conn, run_id, status="ok")
    with db.connect() as conn:
        run = runs.get(conn, run_id)
        assert runs.resumable(conn, "jsonl:/x") is None
    assert run.status == "ok" and run.finished_at is not None
    assert run.counts.new == 9 and run.rejections == [Rejected("line 4", "missing title")]


def test_concurrent_writers_do_not_lose_papers(db):
    """Two threads upserting overlapping batches: every paper lands exactly once."""
    import threading

    errors = []

    def work(offset):
        try:
            for i in range(5):
                with db.transaction() as conn:
                    papers.upsert_many(conn, [make_paper(offset + i * 3 + k) for k in range(3)])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(o,)) for o in (1, 1000)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with db.connect() as conn:
        assert papers.count(conn) == 30
        assert conn.execute(sa.text("SELECT count(*) FROM papers")).scalar() == 30


def test_migrations_build_exactly_the_declared_tables(db):
    """Alembic's autogenerate finds nothing to add: tables.py and the migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from paperfeed.store.tables import include_object, metadata

    opts = {"compare_type": False, "include_object": include_object}
    with db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
    assert diff == []
