"""The ingest service: idempotent, version-aware, resumable, and failing without losing data."""

from __future__ import annotations

from collections.abc import Iterator

from paperfeed.errors import MalformedFeed
from paperfeed.ingest import ingest
from paperfeed.models import Batch, IngestCounts, Rejected
from paperfeed.store import papers, runs

from .conftest import make_paper


class PagedSource:
    """A real Source over in-memory pages; `fail_at` makes page N raise like a truncated feed."""

    name = "test"

    def __init__(self, pages: list[Batch], *, key: str = "test:pages", fail_at: int | None = None):
        self.pages, self.key, self.fail_at = pages, key, fail_at
        self.started_from: list[str | None] = []

    def batches(self, cursor: str | None = None) -> Iterator[Batch]:
        self.started_from.append(cursor)
        start = int(cursor) if cursor else 0
        for i in range(start, len(self.pages)):
            if self.fail_at == i:
                raise MalformedFeed(f"page {i} is truncated")
            page = self.pages[i]
            yield Batch(page.papers, page.rejected, str(i + 1) if i + 1 < len(self.pages) else None)


def _pages(n_pages=3, per_page=4):
    return [Batch([make_paper(p * 100 + i) for i in range(per_page)]) for p in range(n_pages)]


def test_ingest_twice_changes_nothing(db):
    first = ingest(db, PagedSource(_pages()))
    second = ingest(db, PagedSource(_pages()))
    assert first.status == "ok" and (first.counts.new, first.counts.unchanged) == (12, 0)
    assert second.status == "ok" and (second.counts.new, second.counts.unchanged) == (0, 12)
    with db.connect() as conn:
        assert papers.count(conn) == 12


def test_newer_version_counts_as_updated(db):
    ingest(db, PagedSource([Batch([make_paper(1, version=1)])]))
    run = ingest(db, PagedSource([Batch([make_paper(1, version=2, title="v2 title")])]))
    assert (run.counts.updated, run.counts.new) == (1, 0)
    with db.connect() as conn:
        assert papers.get(conn, "2511.00001").title == "v2 title"


def test_rejected_records_are_logged_and_the_rest_lands(db):
    page = Batch([make_paper(1), make_paper(2)], [Rejected("line 3", "missing title")])
    run = ingest(db, PagedSource([page]))
    assert run.status == "ok" and run.counts.new == 2 and run.counts.rejected == 1
    assert run.rejections == [Rejected("line 3", "missing title")]


def test_malformed_page_fails_the_run_keeps_earlier_pages_and_resumes(db):
    """Page 2 of 3 is truncated: pages before it stay, the run is failed with the reason,
    and the next run continues from the saved cursor instead of starting over."""
    broken = PagedSource(_pages(), fail_at=1)
    run = ingest(db, broken)
    assert run.status == "failed" and "page 1 is truncated" in run.error
    assert run.counts.new == 4 and run.cursor == "1"
    with db.connect() as conn:
        assert papers.count(conn) == 4

    fixed = PagedSource(_pages())
    resumed = ingest(db, fixed)
    assert fixed.started_from == ["1"]
    assert resumed.status == "ok" and resumed.counts.new == 8
    with db.connect() as conn:
        assert papers.count(conn) == 12
        # finished: a later run of the same harvest starts from the beginning again
        assert runs.resumable(conn, fixed.key) is None


def test_restart_ignores_the_saved_cursor(db):
    ingest(db, PagedSource(_pages(), fail_at=2))
    again = PagedSource(_pages())
    ingest(db, again, resume=False)
    assert again.started_from == [None]


def test_a_run_left_running_by_a_dead_process_is_closed_and_resumed(db):
    with db.transaction() as conn:
        dead = runs.start(conn, source="test", key="test:pages")
        runs.checkpoint(conn, dead, cursor="2", counts=IngestCounts(new=8))
    src = PagedSource(_pages())
    ingest(db, src)
    assert src.started_from == ["2"]
    with db.connect() as conn:
        old = runs.get(conn, dead)
    assert old.status == "failed" and "interrupted" in old.error
