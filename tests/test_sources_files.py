"""File sources: Hugging Face daily-papers JSON and JSON lines, good, odd and broken."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import io
import json
import shutil

import pytest

from paperfeed.errors import MalformedFeed
from paperfeed.sources.hf_daily import HFDailySource, parse_daily_papers
from paperfeed.sources.jsonl import JsonlSource, paper_to_record, record_to_paper, write_jsonl

from .conftest import make_paper
from .recorded import RECORDED, recorded


def test_hf_daily_file_maps_the_api_fields():
    """One recorded API response: paper.* fields, upvotes, comments, links, days, rejections."""
    (batch,) = HFDailySource(RECORDED / "hf_2025-11-20.json").batches()
    first, second = batch.papers
    assert first.arxiv_id == "2511.16001" and first.upvotes == 163 and first.hf_comments == 2
    assert first.title == "EnvHarness: Awakening Static Worlds for Agent Learning"
    assert first.abstract == "LLM agents learn by interacting with environments."
    assert first.authors == ["Chengsong Huang", "Zifeng Wang"]
    assert first.code_url == "https://github.com/google-research/envharness"
    assert first.project_url == "https://envharness.com/"
    assert first.listing_day == dt.date(2025, 11, 20)  # submittedOnDailyAt
    assert first.published == dt.datetime(2025, 11, 19, tzinfo=dt.UTC)
    assert second.code_url == "https://github.com/solo/repo"  # found in the summary
    assert second.listing_day == dt.date(2025, 11, 20)  # from the file name
    reasons = {r.ref: r.reason for r in batch.rejected}
    # Named by file too: in a folder of days, "entry 3" alone does not say which one.
    assert "not an arXiv id" in reasons["hf_2025-11-20.json entry 3"]
    assert "missing paper.title" in reasons["hf_2025-11-20.json entry 4"]


def test_hf_daily_folder_with_legacy_shapes_and_gzip(tmp_path):
    """A folder mixing a plain file, a gzipped one, repr strings and a {data: [...]} wrapper."""
    shutil.copy(RECORDED / "hf_legacy_repr_2024-12-30.json", tmp_path / "2024-12-30.json")
    shutil.copy(RECORDED / "hf_wrapped_2025-01-10.json", tmp_path / "2025-01-10.json")
    (tmp_path / "2025-11-20.json.gz").write_bytes(
        gzip.compress((RECORDED / "hf_2025-11-20.json").read_bytes())
    )
    (tmp_path / "notes.txt").write_text("ignored")
    batches = list(HFDailySource(tmp_path).batches())
    assert [b.cursor for b in batches] == ["1", "2", None]
    assert batches[0].papers[0].listing_day == dt.date(2024, 12, 30)
    assert [len(b.papers) for b in batches] == [1, 1, 2]
    resumed = list(HFDailySource(tmp_path).batches("2"))
    assert len(resumed) == 1 and len(resumed[0].papers) == 2


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "truncated"),
        (b'[{"paper": {"id": "2511.1', "truncated"),
        ('["caf\xe9"]'.encode("latin-1"), "not UTF-8"),
        (b'{"error": "Not Found"}', "JSON list"),
    ],
)
def test_hf_daily_broken_files_raise_with_the_reason(tmp_path, content, message):
    """A cut-off file, cut-off JSON, Latin-1 bytes and an error object each say what is wrong."""
    f = tmp_path / "day.json"
    if content is None:
        shutil.copy(RECORDED / "hf_truncated.json", f)
    else:
        f.write_bytes(content)
    with pytest.raises(MalformedFeed, match=message):
        list(HFDailySource(f).batches())


def _lines(tmp_path, lines, name="p.jsonl"):
    f = tmp_path / name
    f.write_bytes(b"\n".join(line if isinstance(line, bytes) else line.encode() for line in lines))
    return f


def test_jsonl_rejects_bad_lines_with_reasons_and_keeps_the_rest(tmp_path):
    """Each kind of bad line becomes a Rejected naming its line and problem; good lines parse."""
    good = {"arxiv_id": "2511.00001", "title": "T", "abstract": "A"}
    f = _lines(
        tmp_path,
        [
            json.dumps(good),
            "{broken",
            json.dumps({"arxiv_id": "2511.00002", "abstract": "no title"}),
            b'{"arxiv_id": "2511.00003", "title": "caf\xe9", "abstract": "A"}',
            "",
            json.dumps({"arxiv_id": "1234", "title": "T", "abstract": "A"}),
            json.dumps({**good, "arxiv_id": "2511.00004", "published": "last tuesday"}),
            json.dumps({**good, "arxiv_id": "2511.00005", "upvotes": -3}),
            json.dumps([1, 2]),
            json.dumps({**good, "arxiv_id": "2511.00006v3", "future_field": {"x": 1}}),
        ],
    )
    (batch,) = JsonlSource(f).batches()
    assert [p.arxiv_id for p in batch.papers] == ["2511.00001", "2511.00006"]
    assert batch.papers[1].version == 3
    reasons = {r.ref.split(" (")[0]: r.reason for r in batch.rejected}
    assert "invalid JSON" in reasons["line 2"]
    assert reasons["line 3"] == "missing title"
    assert "not valid UTF-8" in reasons["line 4"]
    assert "not an arXiv id" in reasons["line 6"]
    assert "not an ISO date" in reasons["line 7"]
    assert ">= 0" in reasons["line 8"] and "JSON object" in reasons["line 9"]


def test_jsonl_batches_cursor_and_resume(tmp_path):
    """Seven lines in batches of three: cursors 3, 6, None; resuming at 6 reads only line 7."""
    recs = [
        json.dumps({"arxiv_id": f"2511.{i:05d}", "title": "T", "abstract": "A"})
        for i in range(1, 8)
    ]
    f = _lines(tmp_path, recs)
    batches = list(JsonlSource(f, batch_size=3).batches())
    assert [len(b.papers) for b in batches] == [3, 3, 1]
    assert [b.cursor for b in batches] == ["3", "6", None]
    rest = list(JsonlSource(f, batch_size=3).batches("6"))
    assert [p.arxiv_id for b in rest for p in b.papers] == ["2511.00007"]


def test_jsonl_gzip_detected_by_content_and_truncation_fails(tmp_path):
    """Gzip is recognised by its magic bytes without a .gz name; a cut-off gzip fails clearly."""
    recs = "".join(
        json.dumps({"arxiv_id": f"2511.{i:05d}", "title": "T" * 50, "abstract": "A" * 500}) + "\n"
        for i in range(1, 400)
    )
    whole = tmp_path / "papers.data"  # no .gz suffix: detected by magic bytes
    whole.write_bytes(gzip.compress(recs.encode()))
    assert sum(len(b.papers) for b in JsonlSource(whole, batch_size=100).batches()) == 399
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole.read_bytes()[:600])
    with pytest.raises(MalformedFeed, match="truncated or corrupt"):
        list(JsonlSource(cut, batch_size=100).batches())


def test_jsonl_shared_format_fields(tmp_path):
    """The fields of ../shared's normalised files, including HF extras and nulls."""
    rec = {
        "arxiv_id": "2608.19880",
        "title": "EnvHarness",
        "abstract": "LLM agents ...",
        "authors": ["Chengsong Huang"],
        "categories": [],
        "published": "2026-08-20",
        "upvotes": 163,
        "github": "https://github.com/google-research/envharness",
        "hf_daily_date": "2026-08-21",
        "github_stars": 8,
        "num_comments": 1,
        "ai_keywords": ["LLM agents"],
        "project_page": "https://envharness.com/",
        "organization": "Google",
        "comment": None,
    }
    p = record_to_paper(rec)
    assert p.listing_day == dt.date(2026, 8, 21) and p.upvotes == 163 and p.hf_comments == 1
    assert (p.github_stars, p.ai_keywords, p.organization) == (8, ["LLM agents"], "Google")
    assert p.num_comments is None  # ours counts our own discussion, never an import's
    assert p.published == dt.datetime(2026, 8, 20, tzinfo=dt.UTC) and p.primary_category is None
    assert p.project_url == "https://envharness.com/"


def test_export_record_round_trips_every_field():
    """paper_to_record then record_to_paper gives back an equal Paper with every field set."""
    p = make_paper(
        3,
        comment="c",
        journal_ref="j",
        doi="d",
        code_url="https://github.com/a/b",
        project_url="https://a.github.io/b/",
        upvotes=4,
        num_comments=None,
        hf_comments=1,
        github_stars=12,
        ai_summary="Summary.",
        ai_keywords=["k1", "k2"],
        organization="Org <b>",
        organization_id="org",
        hf_submitter="someone",
        version=5,
        title="Ünïcödé <b>HTML</b> $x^2$",
        published=dt.datetime(2025, 11, 17, 18, 30, 5, tzinfo=dt.UTC),
        updated=dt.datetime(2025, 11, 19, 9, 0, 0, 123000, tzinfo=dt.UTC),
        listing_day=dt.date(2025, 11, 17),
    )
    unset = [f.name for f in dataclasses.fields(p) if getattr(p, f.name) in (None, [])]
    assert unset == ["num_comments", "submitted_by"]  # site-local, deliberately not exported
    assert record_to_paper(json.loads(json.dumps(paper_to_record(p)))) == p
    out = io.StringIO()
    assert write_jsonl([p, make_paper(4)], out) == 2
    assert [json.loads(line)["arxiv_id"] for line in out.getvalue().splitlines()] == [
        "2511.00003",
        "2511.00004",
    ]


def test_jsonl_recorded_file_with_every_kind_of_line():
    """The recorded mixed file: full record, blank line, cut-off JSON, missing title, a Latin-1
    line, HF-style dates and links, and arXiv-dump-style space-separated categories."""
    (batch,) = JsonlSource(RECORDED / "papers_mixed.jsonl").batches()
    full, dated, old = batch.papers
    assert full.arxiv_id == "2511.20001" and full.version == 2
    assert full.title == "Diffusion Policies for Dexterous Grasping"  # whitespace collapsed
    assert full.abstract.startswith("We learn grasps from $10^4$ demos.")
    assert full.categories == ["cs.RO", "cs.LG"] and full.primary_category == "cs.RO"
    assert full.published == dt.datetime(2025, 11, 17, 18, 30, 5, tzinfo=dt.UTC)
    assert full.updated == dt.datetime(2025, 11, 19, 9, tzinfo=dt.UTC)
    assert (full.listing_day, full.upvotes, full.hf_comments) == (dt.date(2025, 11, 17), 12, 3)
    assert full.code_url == "https://github.com/grasp-lab/dexdiff"  # from the abstract
    assert full.project_url == "https://grasp-lab.github.io/dexdiff/"  # from the comment
    assert dated.listing_day == dt.date(2025, 11, 19)  # hf_daily_date stands in
    assert (dated.code_url, dated.project_url) == (
        "https://github.com/a/dates",
        "https://dates.example.org/",
    )
    assert dated.upvotes is None and dated.authors == []
    assert old.arxiv_id == "hep-th/9901001" and old.categories == ["hep-th", "math-ph"]
    assert old.listing_day == dt.date(1999, 1, 4)  # falls back to the published date
    reasons = {r.ref.split(" (")[0]: r.reason for r in batch.rejected}
    assert set(reasons) == {"line 3", "line 4", "line 5"}
    assert reasons["line 3"].startswith("invalid JSON: Unterminated string")
    assert reasons["line 4"] == "missing title"
    assert reasons["line 5"] == "not valid UTF-8 (byte 40)"


def test_jsonl_recorded_truncated_gzip_keeps_earlier_batches():
    """A .gz cut off at 70%: every line read before the cut is yielded (the full batches and
    the partial one after them), then MalformedFeed saying which lines were read."""
    source = JsonlSource(RECORDED / "papers_truncated.jsonl.gz", batch_size=10)
    gen = source.batches()
    got = [next(gen), next(gen), next(gen)]
    assert [b.cursor for b in got] == ["10", "20", "26"]
    assert got[1].papers[-1].arxiv_id == "2511.30020"
    assert len(got[2].papers) + len(got[2].rejected) == 6
    with pytest.raises(
        MalformedFeed,
        match=r"papers_truncated.jsonl.gz: truncated or corrupt after line 26 .*"
        r"lines 1-26 were read",
    ):
        next(gen)


def test_jsonl_resume_is_by_lines_consumed_and_key_is_the_path(tmp_path):
    """The cursor counts lines, blank and rejected ones included; the key is the absolute path."""
    f = tmp_path / "p.jsonl"
    f.write_bytes(recorded("papers_mixed.jsonl"))
    source = JsonlSource(f, batch_size=3)
    batches = list(source.batches())
    assert [b.cursor for b in batches] == ["3", "6", None]
    assert [p.arxiv_id for p in JsonlSource(f, batch_size=3).batches("6").__next__().papers] == [
        "hep-th/9901001"
    ]
    assert source.key == f"jsonl:{f.resolve()}"


def test_jsonl_bom_on_the_first_line_is_ignored(tmp_path):
    """A file saved with a UTF-8 byte-order mark still parses its first line."""
    f = tmp_path / "bom.jsonl"
    f.write_bytes(
        b"\xef\xbb\xbf"
        + json.dumps({"arxiv_id": "2511.00001", "title": "T", "abstract": "A"}).encode()
    )
    (batch,) = JsonlSource(f).batches()
    assert [p.arxiv_id for p in batch.papers] == ["2511.00001"] and batch.rejected == []


def test_parse_daily_papers_wrapped_dict_gives_its_date():
    """The legacy {"status","date","count","data"} shape: its date is the listing day when the
    entries lack submittedOnDailyAt."""
    entry = json.loads(recorded("hf_2025-11-20.json"))[1]
    batch = parse_daily_papers({"status": "ok", "date": "2025-01-10", "count": 1, "data": [entry]})
    assert batch.papers[0].listing_day == dt.date(2025, 1, 10) and batch.cursor is None
    assert parse_daily_papers([entry]).papers[0].listing_day == dt.date(2025, 11, 19)  # published


def test_hf_daily_key_and_empty_folder(tmp_path):
    """The key names the absolute path; a folder without daily files yields one empty batch."""
    source = HFDailySource(tmp_path)
    assert source.key == f"hf-daily:{tmp_path.resolve()}"
    assert [(b.papers, b.cursor) for b in source.batches()] == [([], None)]


@pytest.mark.skipif(
    not (RECORDED.parents[2].parent / "shared" / "data" / "hf-daily-papers").exists(),
    reason="../shared/data is not beside the repository",
)
def test_reads_the_real_shared_hf_sample():
    """The real, unmodified 2026-08-21 daily_papers response parses without a rejection."""
    path = (
        RECORDED.parents[2].parent
        / "shared/data/hf-daily-papers/original-sample-2026-08-21.json.gz"
    )
    (batch,) = HFDailySource(path).batches()
    assert len(batch.papers) == 17 and batch.rejected == []
    top = next(p for p in batch.papers if p.arxiv_id == "2608.19880")
    assert top.upvotes == 163 and top.listing_day == dt.date(2026, 8, 21)
    assert top.code_url == "https://github.com/google-research/envharness"


@pytest.mark.skipif(
    not (RECORDED.parents[2].parent / "shared" / "data" / "seed-page").exists(),
    reason="../shared/data is not beside the repository",
)
def test_reads_the_real_shared_arxiv_sample():
    """The first 2,000 real records of ../shared's arXiv corpus parse without a rejection."""
    path = RECORDED.parents[2].parent / "shared" / "data" / "arxiv-daily-dw" / "papers.jsonl.gz"
    first = next(iter(JsonlSource(path, batch_size=2000).batches()))
    assert len(first.papers) == 2000 and first.rejected == []
    assert all(p.listing_day and p.categories for p in first.papers)
