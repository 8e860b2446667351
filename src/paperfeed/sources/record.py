"""Paper records: the one gate every source's fields pass through on their way to a Paper.

Each source reads its own format (JSON lines, Hugging Face JSON, arXiv Atom, OAI-PMH) into the
same fields and hands them to `make_paper`. A pydantic model bounds every field there (lengths,
ranges, characters), so a record the store could not hold, or a page, feed or terminal could not
show, is rejected with its reason before it reaches the database, and one bad record never stops
an ingest.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from paperfeed.errors import InvalidInput
from paperfeed.models import Paper
from paperfeed.sources.fields import clean_text, has_unprintable
from paperfeed.sources.links import MAX_URL, url_problem

# The widest columns and the largest numbers both databases hold (PostgreSQL's INTEGER is 32-bit).
MAX_INT = 2**31 - 1
MAX_CATEGORY = 40  # papers.primary_category is VARCHAR(40)
# Wide enough for every real record (the longest titles are ~300 characters, author lists of
# collaborations run past 3,000 names, old abstracts past 3,000 characters), far below abuse.
MAX_TITLE = 1000
MAX_ABSTRACT = 20_000
MAX_AUTHORS = 10_000
MAX_NAME = 1000
MAX_LABEL = 200  # a cross-list label: cs.LG, but also ACM classes such as "I.2.7; H.3.1"
MAX_LABELS = 100
MAX_NOTE = 10_000  # comment
MAX_REF = 2000  # journal reference, DOI
MAX_VERSION = 10_000
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2200, 12, 31)

_ARXIV_ID = r"^(?:\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})$"
_CATEGORY = re.compile(r"^[A-Za-z][A-Za-z0-9\-]*(?:\.[A-Za-z0-9\-]+)*$")


def _text(value: Any) -> Any:
    # Sources hand over cleaned text: one scan for what must never pass is cheaper than
    # cleaning it all a second time (padding is stripped by the constraints below).
    if isinstance(value, str) and has_unprintable(value):
        return clean_text(value)
    return value


def _names(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    return [c for v in value if (c := _text(v))]


def _in_range(value: dt.date | None) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        raise ValueError("has no time zone")
    day = value.date() if isinstance(value, dt.datetime) else value
    if not EARLIEST <= day <= LATEST:
        raise ValueError(f"{day.isoformat()} is outside {EARLIEST.year}-{LATEST.year}")
    return value


def _link(value: str | None) -> str | None:
    if value is not None and (problem := url_problem(value)) is not None:
        raise ValueError(problem)
    return value


def _category(value: str | None) -> str | None:
    if value is not None and not _CATEGORY.match(value):
        raise ValueError(f"{value[:40]!r} is not an arXiv category")
    return value


def _bounded(max_length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


_Title = Annotated[Annotated[str, _bounded(MAX_TITLE)], BeforeValidator(_text)]
_Abstract = Annotated[Annotated[str, _bounded(MAX_ABSTRACT)], BeforeValidator(_text)]
_Note = Annotated[Annotated[str, _bounded(MAX_NOTE)] | None, BeforeValidator(_text)]
_Ref = Annotated[Annotated[str, _bounded(MAX_REF)] | None, BeforeValidator(_text)]
_Summary = Annotated[Annotated[str, _bounded(MAX_ABSTRACT)] | None, BeforeValidator(_text)]
_Organization = Annotated[Annotated[str, _bounded(MAX_LABEL)] | None, BeforeValidator(_text)]
_Handle = Annotated[Annotated[str, _bounded(100)] | None, BeforeValidator(_text)]
_Count = Annotated[int, Field(ge=0, le=MAX_INT)] | None
_When = Annotated[dt.datetime | None, AfterValidator(_in_range)]
_Label = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_LABEL)
]
_Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME)]
_Link = Annotated[
    Annotated[str, StringConstraints(max_length=MAX_URL)] | None, AfterValidator(_link)
]
_Category = Annotated[
    Annotated[str, StringConstraints(max_length=MAX_CATEGORY)] | None,
    BeforeValidator(_text),
    AfterValidator(_category),
]


class PaperRecord(BaseModel):
    """A paper's fields, each within what the store, pages, feeds and terminals can hold."""

    model_config = ConfigDict(strict=True, extra="forbid")

    arxiv_id: Annotated[str, StringConstraints(max_length=40, pattern=_ARXIV_ID)]
    title: _Title
    abstract: _Abstract
    authors: Annotated[list[_Name], BeforeValidator(_names), Field(max_length=MAX_AUTHORS)] = []
    version: Annotated[int, Field(ge=1, le=MAX_VERSION)] | None = None
    primary_category: _Category = None
    categories: Annotated[list[_Label], BeforeValidator(_names), Field(max_length=MAX_LABELS)] = []
    comment: _Note = None
    journal_ref: _Ref = None
    doi: _Ref = None
    published: _When = None
    updated: _When = None
    listing_day: Annotated[dt.date | None, AfterValidator(_in_range)] = None
    code_url: _Link = None
    project_url: _Link = None
    upvotes: _Count = None
    num_comments: _Count = None
    # What Hugging Face's daily list adds.
    hf_comments: _Count = None
    github_stars: _Count = None
    ai_summary: _Summary = None
    ai_keywords: Annotated[list[_Label], BeforeValidator(_names), Field(max_length=MAX_LABELS)] = []
    organization: _Organization = None
    organization_id: _Handle = None
    hf_submitter: _Handle = None


def primary_of(categories: list[str]) -> str | None:
    """The first of a paper's labels that is an arXiv category (not an ACM or MSC class)."""
    for label in categories:
        if len(label) <= MAX_CATEGORY and _CATEGORY.match(label):
            return label
    return None


def _describe(exc: ValidationError) -> str:
    problems = []
    for e in exc.errors(include_url=False):
        where = ".".join(str(part) for part in e["loc"])
        message = e["msg"].removeprefix("Value error, ")
        value = e.get("input")
        if isinstance(value, int | str) and not isinstance(value, bool) and e["type"] != "missing":
            shown = repr(value) if isinstance(value, str) else str(value)
            message += f" (got {shown[:40]}{'…' if len(shown) > 40 else ''})"
        problems.append(f"{where}: {message}")
    text = "; ".join(problems[:3])
    return text + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")


def make_paper(**fields: Any) -> Paper:
    """A Paper from a source's fields, cleaned and bounded; InvalidInput says what is wrong."""
    try:
        record = PaperRecord.model_validate(fields)
    except ValidationError as exc:
        raise InvalidInput(_describe(exc)) from None
    return Paper(**{name: getattr(record, name) for name in PaperRecord.model_fields})
