"""Hugging Face daily papers: the JSON list `api/daily_papers?date=` returns, saved to files."""

from __future__ import annotations

import ast
import datetime as dt
import gzip
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
from paperfeed.sources.links import complete_links

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
        clean_text(p.get("githubRepo")), clean_text(p.get("projectPage")), abstract
    )
    return Paper(
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


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


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
        """One batch per file; the cursor is the index of the next file."""
        files = self.files()
        start = int(cursor) if cursor and cursor.isdigit() else 0
        for i in range(start, len(files)):
            batch = self.read(files[i])
            batch.cursor = str(i + 1) if i + 1 < len(files) else None
            batch.total = None
            yield batch
        if start >= len(files):
            yield Batch([], [], None)

    @staticmethod
    def read(path: Path) -> Batch:
        """Parse one saved response; MalformedFeed if it is not UTF-8 JSON or is cut short."""
        try:
            raw = path.read_bytes()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise MalformedFeed(f"{path.name}: not UTF-8 (byte {exc.start})") from None
        except json.JSONDecodeError as exc:
            raise MalformedFeed(
                f"{path.name}: not valid JSON, truncated? ({exc.msg} at line {exc.lineno})"
            ) from None
        except (EOFError, OSError, zlib.error) as exc:
            raise MalformedFeed(f"{path.name}: unreadable ({exc})") from None
        return parse_daily_papers(data, day=_day_in(path.name))
