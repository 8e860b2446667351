"""The OAI-PMH source over recorded responses: resumption tokens, deleted records, errors."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs

import pytest

from paperfeed.errors import MalformedFeed
from paperfeed.sources.oai import OAISource

from .recorded import FakeClock, Recorder, polite_client, recorded

OAI = "https://oaipmh.arxiv.org/oai"


def _source(rec, clock, **kwargs):
    options = dict(base_url=OAI, set_spec="cs", from_date=dt.date(2025, 11, 17))
    options.update(kwargs)
    return OAISource(polite_client(rec, clock), **options)


def test_harvest_follows_the_resumption_token():
    """Page one's token is the cursor, completeListSize the total; the empty token ends it."""
    clock = FakeClock()
    rec = Recorder(recorded("oai_page1.xml"), recorded("oai_page2.xml"), clock=clock)
    batches = list(_source(rec, clock).batches())
    assert [b.cursor for b in batches] == ["6960524|1001", None]
    assert batches[0].total == 3
    first = parse_qs(rec.requests[0].url.query.decode())
    assert first == {
        "verb": ["ListRecords"],
        "metadataPrefix": ["arXiv"],
        "set": ["cs"],
        "from": ["2025-11-17"],
    }
    # with a token, the protocol allows no other arguments
    second = parse_qs(rec.requests[1].url.query.decode())
    assert second == {"verb": ["ListRecords"], "resumptionToken": ["6960524|1001"]}


def test_record_fields_deleted_and_rejected():
    """arXiv-format fields map onto Paper; a deleted record is skipped, an untitled one rejected."""
    clock = FakeClock()
    rec = Recorder(recorded("oai_page1.xml"), recorded("oai_page2.xml"), clock=clock)
    page1, page2 = list(_source(rec, clock).batches())
    (paper,) = page1.papers  # the deleted record is skipped, the untitled one rejected
    assert paper.arxiv_id == "2511.15001" and paper.title == "Compilers for Everyone"
    assert paper.authors == ["Grace Hopper", "Donald E. Knuth Jr"]
    assert paper.categories == ["cs.PL", "cs.SE"] and paper.primary_category == "cs.PL"
    assert paper.abstract == "We present a compiler. It compiles."
    assert paper.code_url == "https://github.com/hopper/compilers"
    assert paper.published == dt.datetime(2025, 11, 17, tzinfo=dt.UTC)
    assert paper.version is None and paper.updated is None  # the format does not say
    assert paper.listing_day == dt.date(2025, 11, 18)  # created on a Monday: dated Tuesday
    assert paper.comment == "14 pages; code at https://github.com/hopper/compilers.git."
    assert page1.rejected[0].ref == "oai:arXiv.org:2511.15003"
    assert "missing title" in page1.rejected[0].reason
    old = page2.papers[0]
    assert old.arxiv_id == "hep-th/9901001" and old.journal_ref.startswith("Nucl.Phys.")
    assert old.updated == dt.datetime(2025, 11, 18, tzinfo=dt.UTC)


def test_resume_sends_the_saved_token():
    """Resuming with a saved token sends only verb + resumptionToken (URL-encoded)."""
    clock = FakeClock()
    rec = Recorder(recorded("oai_page2.xml"), clock=clock)
    batches = list(_source(rec, clock).batches("6960524|1001"))
    assert "resumptionToken=6960524%7C1001" in str(rec.requests[0].url)
    assert batches[0].papers[0].arxiv_id == "hep-th/9901001"


def test_no_records_match_is_an_empty_harvest():
    """The noRecordsMatch error is OAI's empty list: one empty, final batch, not a failure."""
    clock = FakeClock()
    rec = Recorder(recorded("oai_no_records.xml"), clock=clock)
    batches = list(_source(rec, clock, from_date=dt.date(2030, 1, 1)).batches())
    assert len(batches) == 1 and batches[0].papers == [] and batches[0].cursor is None


@pytest.mark.parametrize(
    "fixture, message",
    [
        ("oai_bad_token.xml", "badResumptionToken"),
        ("oai_latin1.xml", "not UTF-8: byte 0xe9 on line 14"),  # Latin-1 in a UTF-8 document
        ("arxiv_page1.xml", "root element {http://www.w3.org/2005/Atom}feed"),
        ("error_page.html", "HTML page"),
        ("oai_bad_argument.xml", "badArgument: Illegal argument 'sett'"),
    ],
)
def test_malformed_responses_raise_with_the_reason(fixture, message):
    """Protocol errors name their code; non-UTF-8, the wrong format and HTML say so."""
    clock = FakeClock()
    rec = Recorder(recorded(fixture), clock=clock)
    with pytest.raises(MalformedFeed, match=message):
        list(_source(rec, clock).batches())


def test_truncated_second_page_keeps_the_first():
    """Page two cut off after 400 bytes: page one was already yielded, then MalformedFeed."""
    clock = FakeClock()
    cut = recorded("oai_page2.xml")[:400]
    rec = Recorder(recorded("oai_page1.xml"), cut, clock=clock)
    gen = _source(rec, clock).batches()
    assert next(gen).papers[0].arxiv_id == "2511.15001"
    with pytest.raises(MalformedFeed, match="truncated"):
        next(gen)


def test_503_with_retry_after_between_pages_is_waited_out():
    """OAI servers answer 503 + Retry-After as flow control; the harvest just waits and goes on."""
    clock = FakeClock()
    rec = Recorder(
        recorded("oai_page1.xml"),
        (503, b"", {"Retry-After": "30"}),
        recorded("oai_page2.xml"),
        clock=clock,
    )
    batches = list(_source(rec, clock).batches())
    assert [b.cursor for b in batches] == ["6960524|1001", None]
    assert rec.times[2] - rec.times[1] == 30.0
    assert rec.requests[1].url == rec.requests[2].url  # the same token asked again


def test_first_query_without_set_or_dates_and_the_harvest_key():
    """No set or dates: only verb and metadataPrefix; the key names set and dates for resume."""
    clock = FakeClock()
    rec = Recorder(recorded("oai_page2.xml"), clock=clock)
    source = _source(rec, clock, set_spec=None, from_date=None)
    list(source.batches())
    assert parse_qs(rec.requests[0].url.query.decode()) == {
        "verb": ["ListRecords"],
        "metadataPrefix": ["arXiv"],
    }
    assert source.key == "oai:*::"
    dated = _source(rec, clock, until=dt.date(2025, 11, 30))
    assert dated.key == "oai:cs:2025-11-17:2025-11-30"
