"""JSON lines: paperfeed's interchange format, one paper per line; the reader and the writer."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from paperfeed.errors import InvalidInput, MalformedFeed
from paperfeed.models import Batch, Paper, Rejected
from paperfeed.sources.arxiv_ids import parse_arxiv_id
from paperfeed.sources.fields import clean_text
from paperfeed.sources.links import complete_links, source_link
from paperfeed.sources.record import make_paper, primary_of

GZIP_MAGIC = b"\x1f\x8b"


def _text(value: Any, name: str, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise InvalidInput(f"missing {name}")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string")
    value = clean_text(value)
    if required and not value:
        raise InvalidInput(f"missing {name}")
    return value or None


def _names(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):  # "A, B and C" in hand-written files
        value = [v for v in value.replace(" and ", ",").split(",")]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{name} must be a list of strings")
    return [cleaned for v in value if (cleaned := clean_text(v))]


def _when(value: Any, name: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be an ISO date or datetime")
    try:
        if len(value) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC)
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name} {value[:40]!r} is not an ISO date") from None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def _day(value: Any, name: str) -> dt.date | None:
    when = _when(value, name)
    return when.date() if when else None


def _count(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{name} must be a whole number >= 0")
    return value


def record_to_paper(rec: Any) -> Paper:
    """A Paper from one JSON-lines record; raises InvalidInput naming the bad field."""
    if not isinstance(rec, dict):
        raise InvalidInput("a line must hold a JSON object")
    raw_id = rec.get("arxiv_id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise InvalidInput("missing arxiv_id")
    arxiv_id, id_version = parse_arxiv_id(raw_id)
    title = _text(rec.get("title"), "title", required=True)
    abstract = _text(rec.get("abstract"), "abstract", required=True)
    comment = _text(rec.get("comment"), "comment")
    raw_categories = rec.get("categories")
    if isinstance(raw_categories, str):  # arXiv's own dumps write "cs.LG stat.ML"
        raw_categories = raw_categories.replace(",", " ").split()
    categories = _names(raw_categories, "categories")
    published = _when(rec.get("published"), "published")
    code_url, project_url = complete_links(
        source_link(rec.get("github"), field="github", paper=arxiv_id),
        source_link(rec.get("project_page"), field="project_page", paper=arxiv_id),
        abstract,
        comment,
    )
    listing_day = _day(rec.get("listing_day") or rec.get("hf_daily_date"), "listing_day")
    return make_paper(
        arxiv_id=arxiv_id,
        title=title,
        abstract=abstract,
        authors=_names(rec.get("authors"), "authors"),
        version=_count(rec.get("version"), "version") or id_version,
        primary_category=_text(rec.get("primary_category"), "primary_category")
        or primary_of(categories),
        categories=categories,
        comment=comment,
        journal_ref=_text(rec.get("journal_ref"), "journal_ref"),
        doi=_text(rec.get("doi"), "doi"),
        published=published,
        updated=_when(rec.get("updated"), "updated"),
        listing_day=listing_day or (published.date() if published else None),
        code_url=code_url,
        project_url=project_url,
        upvotes=_count(rec.get("upvotes"), "upvotes"),
        hf_comments=_count(rec.get("num_comments"), "num_comments"),
        github_stars=_count(rec.get("github_stars"), "github_stars"),
        ai_summary=_text(rec.get("ai_summary"), "ai_summary"),
        ai_keywords=_names(rec.get("ai_keywords"), "ai_keywords")[:30],
        organization=_clip(_text(rec.get("organization"), "organization"), 200),
        organization_id=_clip(_text(rec.get("organization_id"), "organization_id"), 100),
        hf_submitter=_clip(_text(rec.get("submitted_by"), "submitted_by"), 100),
    )


def _clip(text: str | None, size: int) -> str | None:
    return text[:size] if text else None


def paper_to_record(paper: Paper) -> dict[str, Any]:
    """The JSON-lines record for a paper; `record_to_paper` reads it back unchanged."""

    def iso(value):
        return value.isoformat() if value is not None else None

    return {
        "arxiv_id": paper.arxiv_id,
        "version": paper.version,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "categories": list(paper.categories),
        "primary_category": paper.primary_category,
        "comment": paper.comment,
        "journal_ref": paper.journal_ref,
        "doi": paper.doi,
        "published": iso(paper.published),
        "updated": iso(paper.updated),
        "listing_day": iso(paper.listing_day),
        "upvotes": paper.upvotes,
        "num_comments": paper.hf_comments,
        "github": paper.code_url,
        "project_page": paper.project_url,
        "github_stars": paper.github_stars,
        "ai_summary": paper.ai_summary,
        "ai_keywords": list(paper.ai_keywords),
        "organization": paper.organization,
        "organization_id": paper.organization_id,
        "submitted_by": paper.hf_submitter,
    }


def write_jsonl(papers: Iterable[Paper], fh: TextIO) -> int:
    """Write papers one per line; returns how many."""
    n = 0
    for paper in papers:
        fh.write(json.dumps(paper_to_record(paper), ensure_ascii=False) + "\n")
        n += 1
    return n


class JsonlSource:
    """A JSON-lines file, plain or gzipped; the cursor is the number of lines consumed."""

    name = "jsonl"

    def __init__(self, path: str | Path, *, batch_size: int = 500) -> None:
        self.path = Path(path)
        self.batch_size = max(1, batch_size)
        self.key = f"jsonl:{self.path.resolve()}"

    def _open(self) -> BinaryIO | gzip.GzipFile:
        fh = self.path.open("rb")
        if fh.read(2) == GZIP_MAGIC:
            fh.close()
            return gzip.open(self.path, "rb")
        fh.seek(0)
        return fh

    def batches(self, cursor: str | None = None) -> Iterator[Batch]:
        """Batches of `batch_size` lines, after the first `cursor` lines."""
        skip = int(cursor) if cursor and cursor.isdigit() else 0
        papers: list[Paper] = []
        rejected: list[Rejected] = []
        lineno = 0
        failure = None
        try:
            with self._open() as fh:
                for lineno, raw in enumerate(fh, start=1):
                    if lineno <= skip:
                        continue
                    self._parse_line(raw, lineno, papers, rejected)
                    if (lineno - skip) % self.batch_size == 0:
                        yield Batch(papers, rejected, str(lineno))
                        papers, rejected = [], []
        except (EOFError, OSError, zlib.error) as exc:
            failure = exc
        if failure is None:
            yield Batch(papers, rejected, None)
            return
        # What was read before the damage is good: store it, then say where reading stopped.
        if lineno > skip:
            yield Batch(papers, rejected, str(lineno))
        raise MalformedFeed(
            f"{self.path.name}: truncated or corrupt after line {lineno} ({failure}); "
            f"lines {skip + 1}-{lineno} were read"
            if lineno > skip
            else f"{self.path.name}: truncated or corrupt before line {skip + 1} ({failure})"
        )

    @staticmethod
    def _parse_line(raw: bytes, lineno: int, papers: list[Paper], rejected: list[Rejected]):
        ref = f"line {lineno}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            rejected.append(Rejected(ref, f"not valid UTF-8 (byte {exc.start})"))
            return
        if lineno == 1:
            line = line.removeprefix("\ufeff")  # editors on Windows start files with a BOM
        if not line.strip():
            return
        try:
            rec = json.loads(line.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            problem = exc.msg.removesuffix(" at")  # json's messages end "... at" a position
            rejected.append(Rejected(ref, f"invalid JSON: {problem} (column {exc.colno})"))
            return
        try:
            papers.append(record_to_paper(rec))
        except InvalidInput as exc:
            if isinstance(rec, dict) and isinstance(rec.get("arxiv_id"), str):
                ref = f"{ref} ({rec['arxiv_id'][:40]})"
            rejected.append(Rejected(ref, str(exc)))
