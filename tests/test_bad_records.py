"""One bad record never stops an ingest (issue 11, finding 5): each is rejected with its line
and reason while every other record lands, on SQLite and PostgreSQL, through the service and the
command line; a run that stores nothing fails; a cut-off .gz stores what was read and says so."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.ingest import ingest
from paperfeed.models import Batch
from paperfeed.sources.jsonl import JsonlSource, record_to_paper
from paperfeed.sources.record import MAX_INT
from paperfeed.store import papers, runs

from .conftest import make_paper

runner = CliRunner(env={"COLUMNS": "300", "NO_COLOR": "1"})
POISONED_LINE = 700


def good(n: int) -> dict:
    return {
        "arxiv_id": f"2511.{n:05d}",
        "title": f"Routing in sparse experts, part {n}",
        "abstract": "We study routing in sparse mixture-of-experts models.",
        "authors": ["Ada Lovelace", "Alan Turing"],
        "categories": ["cs.LG", "cs.AI"],
        "published": "2025-11-20",
        "upvotes": n % 7,
    }


def poisoned(n: int, **changes) -> str:
    rec = good(n)
    rec.update(changes)
    return json.dumps(rec)


# Each of these, alone, aborted a whole run before (and every re-run at the same cursor).
REJECTED = {
    "upvotes 2^63": poisoned(POISONED_LINE, upvotes=2**63),
    "upvotes 2^31": poisoned(POISONED_LINE, upvotes=2**31),
    "version 2^63": poisoned(POISONED_LINE, version=2**63),
    "id with a huge version": poisoned(
        POISONED_LINE, arxiv_id="2608.00020v99999999999999999999999"
    ),
    "title only a lone surrogate": poisoned(POISONED_LINE, title="\ud800"),
    "NUL in the id": poisoned(POISONED_LINE, arxiv_id="2511.00700\u0000"),
    "primary category over 40 characters": poisoned(
        POISONED_LINE, primary_category="cs." + "x" * 60
    ),
    "date in year 9999": poisoned(POISONED_LINE, published="9999-12-31"),
    "abstract of 100,000 characters": poisoned(POISONED_LINE, abstract="a " * 50_000),
    "20,000 authors": poisoned(POISONED_LINE, authors=[f"Author {i}" for i in range(20_000)]),
    "num_comments -1": poisoned(POISONED_LINE, num_comments=-1),
    "upvotes 1e400": poisoned(POISONED_LINE).replace('"upvotes": 0', '"upvotes": 1e400'),
}
# These hold a value no store, page or feed may carry, inside a usable record: cleaned, kept.
CLEANED = {
    "lone surrogate in the title": (
        poisoned(POISONED_LINE, title="Sparse \ud800 experts"),
        "title",
    ),
    "NUL bytes in the abstract": (
        poisoned(POISONED_LINE, abstract="Routing\u0000 in\x00 experts"),
        "abstract",
    ),
    "XML-illegal characters": (poisoned(POISONED_LINE, title="A\x01B\x0bC\ufffeD\uffff"), "title"),
}


def write_file(tmp_path, bad_line: str, *, total: int = 1000, gz: bool = False):
    lines = [json.dumps(good(n)) for n in range(1, total + 1)]
    lines[POISONED_LINE - 1] = bad_line
    f = tmp_path / ("poisoned.jsonl.gz" if gz else "poisoned.jsonl")
    data = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    f.write_bytes(gzip.compress(data) if gz else data)
    return f


def test_the_poisons_are_what_they_claim():
    """Each REJECTED line still parses as JSON (so it reaches record parsing), and its
    value really is out of range for the store, not caught by something else first."""
    for name, line in REJECTED.items():
        assert isinstance(json.loads(line), dict), name
    assert json.loads(REJECTED["upvotes 2^63"])["upvotes"] == 2**63 > MAX_INT


@pytest.mark.parametrize("payload", sorted(REJECTED))
def test_a_poisoned_line_is_rejected_with_its_number_and_the_rest_land(db, tmp_path, payload):
    f = write_file(tmp_path, REJECTED[payload], total=1000)
    run = ingest(db, JsonlSource(f))
    assert run.status == "ok", run.error
    assert (run.counts.new, run.counts.rejected) == (999, 1)
    [rejection] = run.rejections
    assert rejection.ref.startswith(f"line {POISONED_LINE}") and rejection.reason
    with db.connect() as conn:
        assert papers.count(conn) == 999
        assert papers.get(conn, "2511.01000").title.endswith("part 1000")  # after the poison


@pytest.mark.parametrize("payload", sorted(CLEANED))
def test_illegal_characters_are_stripped_and_the_record_kept(db, tmp_path, payload):
    line, field = CLEANED[payload]
    run = ingest(db, JsonlSource(write_file(tmp_path, line, total=50 + POISONED_LINE)))
    assert run.status == "ok" and run.counts.rejected == 0
    with db.connect() as conn:
        stored = getattr(papers.get(conn, f"2511.{POISONED_LINE:05d}"), field)
        assert papers.count(conn) == 50 + POISONED_LINE
    assert stored and not any(
        ord(ch) < 0x20 or 0xD800 <= ord(ch) <= 0xDFFF or ch in "\ufffe\uffff" for ch in stored
    )


def test_the_reasons_say_what_is_wrong():
    def reason(**changes):
        with pytest.raises(Exception) as info:
            record_to_paper({**good(1), **changes})
        return str(info.value)

    assert "upvotes" in reason(upvotes=2**63) and str(2**31 - 1) in reason(upvotes=2**63)
    assert "version" in reason(arxiv_id="2608.00020v99999999999999999999999")
    assert "primary_category" in reason(primary_category="x" * 41)
    assert "9999-12-31" in reason(published="9999-12-31")
    assert "abstract" in reason(abstract="a " * 50_000)


def test_the_cli_stores_999_of_1000_and_names_line_700(db, database_url, tmp_path):
    """The issue's own repro, through `paperfeed ingest jsonl` on a .gz: it stored 500."""
    f = write_file(tmp_path, REJECTED["upvotes 2^63"], gz=True)
    result = runner.invoke(app, ["--database-url", database_url, "ingest", "jsonl", str(f)])
    assert result.exit_code == 0, result.output
    assert f"line {POISONED_LINE}" in result.output and "upvotes" in result.output
    with db.connect() as conn:
        assert papers.count(conn) == 999


def test_a_run_that_rejects_every_record_fails(db, database_url, tmp_path):
    f = tmp_path / "all-bad.jsonl"
    f.write_text("".join(poisoned(n, upvotes=-n - 1) + "\n" for n in range(1, 6)))
    result = runner.invoke(app, ["--database-url", database_url, "ingest", "jsonl", str(f)])
    assert result.exit_code == 1, result.output
    assert "all 5 records were rejected" in result.output
    with db.connect() as conn:
        run = runs.recent(conn, limit=1)[0]
        assert run.status == "failed" and papers.count(conn) == 0


def test_an_empty_file_is_not_a_failure(db, tmp_path):
    f = tmp_path / "empty.jsonl"
    f.write_text("\n")
    assert ingest(db, JsonlSource(f)).status == "ok"


def test_a_cut_off_gz_stores_what_was_read_and_says_exactly_what_landed(db, database_url, tmp_path):
    raw = "".join(json.dumps(good(n)) + "\n" for n in range(1, 3001)).encode()
    blob = gzip.compress(raw)
    f = tmp_path / "cut.jsonl.gz"
    f.write_bytes(blob[: len(blob) * 2 // 3])
    result = runner.invoke(
        app,
        ["--database-url", database_url, "ingest", "jsonl", str(f)],
        env={"PAPERFEED_INGEST_BATCH_SIZE": "500"},
    )
    assert result.exit_code == 1
    with db.connect() as conn:
        run = runs.recent(conn, limit=1)[0]
        stored = papers.count(conn)
    read = int(run.error.split("lines 1-")[1].split(" ")[0])
    # Every complete line read landed, even those after the last full batch of 500.
    assert stored % 500 != 0 and read - 1 <= stored <= read
    assert f"stored before it: {stored} new, 0 updated, 0 unchanged papers" in run.error
    assert "Run failed" in result.output and f"{stored} new" in result.output


class _Unchecked:
    """A source that skips record parsing (as a plugin or older code might): the store must
    still turn one value it cannot hold into one rejection, not a failed run."""

    name, key = "test", "test:unchecked"

    def batches(self, cursor: str | None = None) -> Iterator[Batch]:
        bad = make_paper(3, upvotes=2**63)
        yield Batch([make_paper(1), make_paper(2), bad, make_paper(4)], [], None)


def test_a_value_the_database_refuses_rejects_that_paper_only(db):
    run = ingest(db, _Unchecked())
    assert run.status == "ok", run.error
    assert (run.counts.new, run.counts.rejected) == (3, 1)
    assert run.rejections[0].ref == "2511.00003"
    assert "database refused" in run.rejections[0].reason
    with db.connect() as conn:
        assert sorted(papers.get_many(conn, ["2511.00001", "2511.00002", "2511.00004"])) == [
            "2511.00001",
            "2511.00002",
            "2511.00004",
        ]


def test_every_source_goes_through_the_bounded_record():
    """The HF, arXiv API and OAI parsers reject the same out-of-range values as JSON lines."""
    from paperfeed.sources.hf_daily import parse_daily_papers

    entry = {
        "paper": {
            "id": "2511.00001",
            "title": "T",
            "summary": "A",
            "upvotes": 2**63,
            "publishedAt": "2025-11-20T00:00:00.000Z",
        }
    }
    ok = {"paper": {**entry["paper"], "id": "2511.00002", "upvotes": 3}}
    batch = parse_daily_papers([entry, ok], day=dt.date(2025, 11, 20))
    assert [p.arxiv_id for p in batch.papers] == ["2511.00002"]
    assert batch.rejected[0].ref == "entry 1" and "upvotes" in batch.rejected[0].reason
    long_title = {"paper": {**ok["paper"], "id": "2511.00003", "title": "x" * 5000}}
    batch = parse_daily_papers([long_title])
    assert not batch.papers and "title" in batch.rejected[0].reason


def _hf_entry(n: int) -> dict:
    return {
        "paper": {
            "id": f"2511.{n:05d}",
            "title": f"HF paper {n}",
            "summary": "An abstract long enough to make the file compress in several blocks. " * 3,
            "upvotes": n,
            "publishedAt": "2025-11-20T00:00:00.000Z",
        },
        "numComments": 0,
    }


@pytest.mark.parametrize("gz", [True, False], ids=["json.gz", "json"])
def test_a_cut_off_hf_file_stores_the_entries_before_the_cut(db, tmp_path, gz):
    from paperfeed.sources.hf_daily import HFDailySource

    body = json.dumps([_hf_entry(n) for n in range(1, 201)]).encode()
    f = tmp_path / ("2025-11-20.json.gz" if gz else "2025-11-20.json")
    f.write_bytes(
        gzip.compress(body)[: len(gzip.compress(body)) // 2] if gz else body[: len(body) // 2]
    )
    run = ingest(db, HFDailySource(f))
    assert run.status == "failed"
    read = int(run.error.split("entries 1-")[1].split(" ")[0])
    assert 0 < read < 200 and f"stored before it: {read} new" in run.error
    with db.connect() as conn:
        assert papers.count(conn) == read
    again = ingest(db, HFDailySource(f))  # the cursor stayed on the file: read again, no loss
    assert again.status == "failed" and again.counts.unchanged == read
