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
    options = dict(
        base_url=API,
        category="cs.LG",
        since=dt.date(2025, 11, 17),
        until=dt.date(2025, 11, 21),
        page_size=2,
    )
    options.update(kwargs)
    return ArxivAPISource(polite_client(rec, clock), **options)


def test_two_pages_parse_every_field():
    """Two recorded pages: cursor after page one, totalResults, every Atom and arxiv: field."""
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
    # 13:30 US/Eastern on Monday: before the cutoff, announced that evening, dated Tuesday
    assert first.listing_day == dt.date(2025, 11, 18)
    assert first.code_url == "https://github.com/prateeky2806/ties-merging"
    assert first.project_url == "https://ties-merging.github.io/"
    # HTML and LaTeX stay as text: escaping is the web layer's job
    assert second.title.startswith('<script>alert("xss")</script> Bounds for $\\mathcal{O}')
    assert second.listing_day == dt.date(2025, 11, 19)  # 15:01 Eastern: after the cutoff
    assert second.abstract == "We show an $\\Omega(n)$ lower bound. <b>Bold</b> claims follow."
    assert second.authors == ["Ada Lovelace"] and second.comment is None
    assert (second.upvotes, second.num_comments, second.code_url) == (None, None, None)
    third = batches[1].papers[0]
    assert third.code_url == "https://gitlab.com/moe-lab/scaling/moe-laws"


def test_query_names_category_dates_order_and_paging():
    """The requests carry the category/date query, ascending order, start and max_results."""
    clock = FakeClock()
    rec = Recorder(recorded("arxiv_page1.xml"), recorded("arxiv_page2.xml"), clock=clock)
    list(_source(rec, clock).batches())
    q = [parse_qs(r.url.query.decode()) for r in rec.requests]
    assert q[0]["search_query"] == ["cat:cs.LG AND submittedDate:[202511170000 TO 202511212359]"]
    assert q[0]["sortBy"] == ["submittedDate"] and q[0]["sortOrder"] == ["ascending"]
    assert (q[0]["start"], q[1]["start"], q[1]["max_results"]) == (["0"], ["2"], ["2"])
    assert rec.times[1] - rec.times[0] >= 3.0  # politeness between pages


def test_resume_from_cursor_asks_for_the_next_page_only():
    """Resuming with cursor "2" fetches start=2 and nothing before it."""
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
        ("error_page.html", 'HTML page "503 Service Temporarily Unavailable"'),
        ("oai_latin1.xml", "not UTF-8: byte 0xe9 on line 14"),
        ("oai_page1.xml", "expected {http://www.w3.org/2005/Atom}feed"),
    ],
)
def test_malformed_responses_raise_with_the_reason(fixture, message):
    """An API error entry, a document cut off mid-entry, an HTML error page served as 200,
    a Latin-1 byte in a UTF-8 document, and a well-formed document of the wrong kind."""
    clock = FakeClock()
    rec = Recorder(recorded(fixture), clock=clock)
    with pytest.raises(MalformedFeed, match=message):
        list(_source(rec, clock).batches())


def test_empty_page_before_the_total_is_asked_again():
    """arXiv answers a page empty once although totalResults says more: asking again recovers."""
    clock = FakeClock()
    empty = recorded("arxiv_empty.xml").replace(
        b">0</opensearch:totalResults", b">3</opensearch:totalResults"
    )
    rec = Recorder(recorded("arxiv_page1.xml"), empty, recorded("arxiv_page2.xml"), clock=clock)
    batches = list(_source(rec, clock).batches())
    assert [p.arxiv_id for b in batches for p in b.papers] == [
        "2511.14001",
        "2511.14002",
        "2511.14003",
    ]
    assert [b.cursor for b in batches] == ["2", None] and batches[-1].rejected == []
    assert "start=2" in str(rec.requests[2].url)


def test_empty_pages_that_persist_end_the_harvest_with_the_gap_reported():
    """Three empty answers at start=2 of 9: the harvest ends (cursor None) and the missing
    results are reported as a rejection rather than silently dropped or blocking every re-run."""
    clock = FakeClock()
    empty = recorded("arxiv_empty.xml").replace(
        b">0</opensearch:totalResults", b">9</opensearch:totalResults"
    )
    rec = Recorder(recorded("arxiv_page1.xml"), empty, empty, empty, clock=clock)
    batches = list(_source(rec, clock).batches())
    assert [b.cursor for b in batches] == ["2", None] and len(rec.requests) == 4
    (gap,) = batches[-1].rejected
    assert gap.ref == "results 3-9" and "empty page at 2 of 9" in gap.reason


def test_no_results_at_all_is_one_empty_final_batch():
    """A range with no submissions gives one empty batch with cursor None and total 0."""
    clock = FakeClock()
    rec = Recorder(recorded("arxiv_empty.xml"), clock=clock)
    (batch,) = _source(rec, clock).batches()
    assert (batch.papers, batch.rejected, batch.cursor, batch.total) == ([], [], None, 0)


def test_bad_entries_are_rejected_and_the_rest_kept():
    """An entry with a bad id and one with a bad date are rejected by ref; the page goes on."""
    clock = FakeClock()
    page = (
        recorded("arxiv_page1.xml")
        .replace(b"<id>http://arxiv.org/abs/2511.14001v2</id>", b"<id>http://arxiv.org/abs/x</id>")
        .replace(b"<published>2025-11-17T20:01:00Z", b"<published>yesterday")
    )
    rec = Recorder(page, recorded("arxiv_page2.xml"), clock=clock)
    first = next(iter(_source(rec, clock).batches()))
    assert first.papers == [] and first.cursor == "2"
    reasons = {r.ref: r.reason for r in first.rejected}
    assert "not an arXiv id" in reasons["x"]
    assert reasons["2511.14002v1"] == "published 'yesterday' is not a timestamp"


def test_server_kept_failing_is_source_unavailable():
    """Four 503s (the HTML error page) exhaust the retries: SourceUnavailable, no batch."""
    clock = FakeClock()
    rec = Recorder(*[(503, recorded("error_page.html"))] * 4, clock=clock)
    with pytest.raises(SourceUnavailable):
        list(_source(rec, clock).batches())


def test_bad_category_and_dates_are_refused():
    """A category that would inject query syntax, and until before since, are refused."""
    clock = FakeClock()
    with pytest.raises(Exception, match="category"):
        _source(Recorder(), clock, category="cs.LG OR all:x")
    with pytest.raises(Exception, match="before"):
        _source(Recorder(), clock, since=dt.date(2025, 11, 21), until=dt.date(2025, 11, 1))


def test_fetch_one_finds_and_misses():
    """fetch_one strips the URL and version to query id_list; an empty feed is NotFound."""
    clock = FakeClock()
    rec = Recorder(recorded("arxiv_page2.xml"), recorded("arxiv_empty.xml"), clock=clock)
    client = polite_client(rec, clock)
    paper = fetch_one(client, base_url=API, arxiv_id="https://arxiv.org/abs/2511.14003v1")
    assert paper.arxiv_id == "2511.14003"
    assert "id_list=2511.14003" in str(rec.requests[0].url)
    with pytest.raises(NotFound):
        fetch_one(client, base_url=API, arxiv_id="2511.99999")
