"""Hugging Face daily papers: the JSON list `api/daily_papers?date=` returns, saved to files."""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from paperfeed.errors import InvalidInput, MalformedFeed
from paperfeed.models import Batch, Paper, Rejected
from paperfeed.sources.arxiv_ids import parse_arxiv_id
from paperfeed.sources.fields import clean_text
from paperfeed.sources.links import complete_links, source_link
from paperfeed.sources.record import make_paper

_DAY_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")


def _day_in(text: Any) -> dt.date | None:
    m = _DAY_IN_NAME.search(text) if isinstance(text, str) else None
    try:
        return dt.date.fromisoformat(m[1]) if m else None
    except ValueError:  # 2025-13-40 in a file name is just a name
        return None


def _when(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{value[:40]!r} is not a timestamp") from None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def _count(value: Any) -> int | None:
    # HF sends null or leaves counts out; a negative count means nothing, a huge one is refused.
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def entry_to_paper(entry: Any, *, day: dt.date | None = None) -> Paper:
    """A Paper from one element of the daily_papers list; InvalidInput names the problem."""
    if isinstance(entry, str):  # some saved files hold Python reprs of the dicts
        try:
            entry = ast.literal_eval(entry)
        except (ValueError, SyntaxError):
            raise InvalidInput("entry is neither an object nor a readable repr") from None
    if not isinstance(entry, dict) or not isinstance(entry.get("paper"), dict):
        raise InvalidInput("entry has no 'paper' object")
    p = entry["paper"]
    if not isinstance(p.get("id"), str):
        raise InvalidInput("missing paper.id")
    arxiv_id, version = parse_arxiv_id(p["id"])
    title = clean_text(p.get("title")) or clean_text(entry.get("title"))
    abstract = clean_text(p.get("summary")) or clean_text(entry.get("summary"))
    if not title:
        raise InvalidInput("missing paper.title")
    if not abstract:
        raise InvalidInput("missing paper.summary")
    authors = [
        name
        for a in p.get("authors") or []
        if isinstance(a, dict) and (name := clean_text(a.get("name")))
    ]
    published = _when(p.get("publishedAt")) or _when(entry.get("publishedAt"))
    listed = _when(p.get("submittedOnDailyAt"))
    upvotes = p.get("upvotes")
    comments = entry.get("numComments")
    stars = p.get("githubStars")
    org = p.get("organization") or entry.get("organization")
    org = org if isinstance(org, dict) else {}
    submitter = entry.get("submittedBy") or p.get("submittedOnDailyBy")
    submitter = submitter if isinstance(submitter, dict) else {}
    keywords = p.get("ai_keywords") if isinstance(p.get("ai_keywords"), list) else []
    code_url, project_url = complete_links(
        source_link(p.get("githubRepo"), field="githubRepo", paper=arxiv_id),
        source_link(p.get("projectPage"), field="projectPage", paper=arxiv_id),
        abstract,
    )
    return make_paper(
        arxiv_id=arxiv_id,
        title=title,
        abstract=abstract,
        authors=authors,
        version=version,
        published=published,
        listing_day=(listed.date() if listed else None)
        or day
        or (published.date() if published else None),
        code_url=code_url,
        project_url=project_url,
        upvotes=_count(upvotes),
        hf_comments=_count(comments),
        github_stars=_count(stars),
        ai_summary=clean_text(p.get("ai_summary")),
        ai_keywords=[k for k in map(clean_text, keywords[:MAX_KEYWORDS]) if k],
        organization=_clip(clean_text(org.get("fullname")) or clean_text(org.get("name")), 200),
        organization_id=_clip(clean_text(org.get("name")), 100),
        hf_submitter=_clip(clean_text(submitter.get("name") or submitter.get("user")), 100),
    )


MAX_KEYWORDS = 30


def _clip(text: str | None, size: int) -> str | None:
    return text[:size] if text else None


def parse_daily_papers(data: Any, *, day: dt.date | None = None) -> Batch:
    """A Batch from one loaded daily_papers response (a list, or a dict wrapping `data`)."""
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        # One saved file wraps the list as {"status", "date", "count", "data"}.
        day = day or _day_in(data.get("date"))
        data = data["data"]
    if not isinstance(data, list):
        raise MalformedFeed("expected a JSON list of daily papers")
    papers, rejected = [], []
    for i, entry in enumerate(data, start=1):
        try:
            papers.append(entry_to_paper(entry, day=day))
        except InvalidInput as exc:
            rejected.append(Rejected(f"entry {i}", str(exc)))
    return Batch(papers, rejected)


class HFDailySource:
    """One daily_papers JSON file (.json or .json.gz) or a folder of them, one batch per file."""

    name = "hf-daily"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.key = f"hf-daily:{self.path.resolve()}"

    def files(self) -> list[Path]:
        """The files this source reads, in name (so date) order."""
        if self.path.is_dir():
            return sorted(f for f in self.path.iterdir() if f.name.endswith((".json", ".json.gz")))
        return [self.path]

    def batches(self, cursor: str | None = None) -> Iterator[Batch]:
        """One batch per file; the cursor is the index of the next file.

        A file cut short (a truncated .json.gz, JSON ending mid-list) yields the entries before
        the cut, with the cursor still on that file, then raises MalformedFeed saying how many
        were read: what was stored stays and a re-run reads the file again.
        """
        files = self.files()
        start = int(cursor) if cursor and cursor.isdigit() else 0
        for i in range(start, len(files)):
            batch, cut = self._read(files[i])
            if cut is not None:
                batch.cursor, batch.total = str(i), None
                if batch.papers or batch.rejected:
                    yield batch
                raise MalformedFeed(cut)
            batch.cursor = str(i + 1) if i + 1 < len(files) else None
            batch.total = None
            yield batch
        if start >= len(files):
            yield Batch([], [], None)

    @classmethod
    def read(cls, path: Path) -> Batch:
        """Parse one saved response; MalformedFeed if it is not UTF-8 JSON or is cut short."""
        batch, cut = cls._read(path)
        if cut is not None:
            raise MalformedFeed(cut)
        return batch

    @staticmethod
    def _read(path: Path) -> tuple[Batch, str | None]:
        """The file's batch, and what cut it short (None when it is whole)."""
        day = _day_in(path.name)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise MalformedFeed(f"{path.name}: unreadable ({exc})") from None
        cut = None
        if raw[:2] == b"\x1f\x8b":
            unzip = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                raw = unzip.decompress(raw)
            except zlib.error as exc:
                raise MalformedFeed(f"{path.name}: unreadable ({exc})") from None
            if not unzip.eof:
                cut = "the gzip stream ends early"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if cut is None or exc.reason != "unexpected end of data":
                raise MalformedFeed(f"{path.name}: not UTF-8 (byte {exc.start})") from None
            text = raw[: exc.start].decode("utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            cut = cut or f"{exc.msg} at line {exc.lineno}"
            entries = _leading_entries(text)
            if not entries:
                return Batch([], []), f"{path.name}: not valid JSON, truncated? ({cut})"
            batch = _named(parse_daily_papers(entries, day=day), path)
            return batch, (
                f"{path.name}: truncated after entry {len(entries)} ({cut}); "
                f"entries 1-{len(entries)} were read"
            )
        if cut is not None:
            return Batch([], []), f"{path.name}: truncated ({cut})"
        return _named(parse_daily_papers(data, day=day), path), None


def _named(batch: Batch, path: Path) -> Batch:
    # In a folder of days, "entry 7" alone does not say which file.
    batch.rejected = [Rejected(f"{path.name} {r.ref}", r.reason) for r in batch.rejected]
    return batch


_LIST_START = re.compile(r'^\s*(?:\[|\{.*?"data"\s*:\s*\[)', re.DOTALL)


def _leading_entries(text: str) -> list:
    """The complete elements at the start of a JSON list cut off part-way (or of the list under
    "data" in the wrapped form)."""
    m = _LIST_START.match(text)
    if m is None:
        return []
    decoder, pos = json.JSONDecoder(), m.end()
    entries: list[Any] = []
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        try:
            entry, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            return entries
        entries.append(entry)
