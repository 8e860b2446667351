"""The arXiv API source over recorded Atom responses: paging, fields, errors and resume."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs

import pytest

from paperfeed.errors import MalformedFeed, NotFound, SourceUnavailable
from paperfeed.sources.arxiv_api import ArxivAPISource, fetch_one

from .recorded import FakeClock, Recorder, polite_client, recorded

API = "https://export.arxiv.org/api/query"


def _source(rec, clock, **kwargs):
    options = dict(base_url=API, category="cs.LG", since=dt.date(2025, 11, 17),
                   until=dt.date(2025, 11, 21), page_size=2)  # fmt: skip
    options.update(kwargs)
    return ArxivAPISource(polite_client(rec, clock), **options)


def test_two_pages_parse_every_field():
    clock = FakeClock()
    rec = Recorder(recorded("arxiv_page1.xml"), recorded("arxiv_page2.xml"), clock=clock)
    batches = list(_source(rec, clock).batches())
    assert [b.cursor for b in batches] == ["2", None] and batches[0].total == 3
    first, second = batches[0].papers
    assert first.arxiv_id == "2511.14001" and first.version == 2
    assert first.title == "TIES-Merging: Resolving Interference When Merging Models"
    assert first.abstract.startswith("Transfer learning can provide") and "\n" not in first.abstract
    assert first.authors == ["Prateek Yadav", "Derek Tam", "Colin Raffel"]
    assert first.primary_category == "cs.LG" and first.categories == ["cs.LG", "cs.CL"]
    assert first.journal_ref == "NeurIPS 2025" and first.doi == "10.48550/arXiv.2511.14001"
    assert first.published == dt.datetime(2025, 11, 17, 18, 30, 5, tzinfo=dt.UTC)
    assert first.updated == dt.datetime(2025, 11, 21, 9, 12, 44, tzinfo=dt.UTC)
    # 13:30 US/Eastern on Monday: before the cutoff, listed on Tuesday
    assert first.listing_day == dt.date(2025, 11, 18)
    assert first.code_url == "https://github.com/prateeky2806/ties-merging"
    assert first.project_url == "https://ties-merging.github.io/"
    # HTML and LaTeX stay as text: escaping is the web layer's job
    assert second.title.startswith('<script>alert("xss")</script> Bounds for $\\mathcal{O}')
    assert second.listing_day == dt.date(2025, 11, 19)  # 15:01 Eastern: after the cutoff
    third = batches[1].papers[0]
    assert third.code_url == "https://gitlab.com/moe-lab/scaling/moe-laws"


def test_query_names_category_dates_order_and_paging():
    clock = FakeClock()
    rec = Recorder(recorded("arxiv_page1.xml"), recorded("arxiv_page2.xml"), clock=clock)
    list(_source(rec, clock).batches())
    q = [parse_qs(r.url.query.decode()) for r in rec.requests]
    assert q[0]["search_query"] == ["cat:cs.LG AND submittedDate:[202511170000 TO 202511212359]"]
    assert q[0]["sortBy"] == ["submittedDate"] and q[0]["sortOrder"] == ["ascending"]
    assert (q[0]["start"], q[1]["start"], q[1]["max_results"]) == (["0"], ["2"], ["2"])
    assert rec.times[1] - rec.times[0] >= 3.0  # politeness between pages


def test_resume_from_cursor_asks_for_the_next_page_only():
    clock = FakeClock()
    rec = Recorder(recorded("arxiv_page2.xml"), clock=clock)
    batches = list(_source(rec, clock).batches("2"))
    assert len(rec.requests) == 1 and "start=2" in str(rec.requests[0].url)
    assert [p.arxiv_id for p in batches[0].papers] == ["2511.14003"]


@pytest.mark.parametrize(
    "fixture, message",
    [
        ("arxiv_error.xml", "arXiv API error: incorrect id format"),
        ("arxiv_truncated.xml", "truncated"),
        ("error_page.html", "HTML page"),
    ],
)
def test_malformed_responses_raise_with_the_reason(fixture, message):
    """An API error entry, a document cut off mid-entry, an HTML error page served as 200."""
    clock = FakeClock()
    rec = Recorder(recorded(fixture), clock=clock)
    with pytest.raises(MalformedFeed, match=message):
        list(_source(rec, clock).batches())


def test_empty_page_before_the_total_fails_so_the_run_can_resume():
    clock = FakeClock()
    empty = recorded("arxiv_empty.xml").replace(
        b">0</opensearch:totalResults", b">9</opensearch:totalResults"
    )
    rec = Recorder(recorded("arxiv_page1.xml"), empty, clock=clock)
    gen = _source(rec, clock).batches()
    assert next(gen).cursor == "2"
    with pytest.raises(MalformedFeed, match="empty page at 2 of 9"):
        next(gen)


def test_server_kept_failing_is_source_unavailable():
    clock = FakeClock()
    rec = Recorder(*[(503, recorded("error_page.html"))] * 4, clock=clock)
    with pytest.raises(SourceUnavailable):
        list(_source(rec, clock).batches())


def test_bad_category_and_dates_are_refused():
    clock = FakeClock()
    with pytest.raises(Exception, match="category"):
        _source(Recorder(), clock, category="cs.LG OR all:x")
    with pytest.raises(Exception, match="before"):
        _source(Recorder(), clock, since=dt.date(2025, 11, 21), until=dt.date(2025, 11, 1))


def test_fetch_one_finds_and_misses():
    clock = FakeClock()
    rec = Recorder(recorded("arxiv_page2.xml"), recorded("arxiv_empty.xml"), clock=clock)
    client = polite_client(rec, clock)
    paper = fetch_one(client, base_url=API, arxiv_id="https://arxiv.org/abs/2511.14003v1")
    assert paper.arxiv_id == "2511.14003"
    assert "id_list=2511.14003" in str(rec.requests[0].url)
    with pytest.raises(NotFound):
        fetch_one(client, base_url=API, arxiv_id="2511.99999")
