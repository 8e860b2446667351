"""Search: keyword search over titles, abstracts and authors, with filters, sorts and snippets.

Modes `hybrid` and `semantic` need the vector index, which is not built yet; they fall back to
`keyword` and say so (once in the log, and in every answer's notice).
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from dataclasses import dataclass, field

from paperfeed.errors import InvalidInput, NotFound
from paperfeed.models import Hit
from paperfeed.papers import get_paper
from paperfeed.search.query import MAX_QUERY, Query, parse
from paperfeed.store import Database
from paperfeed.store import search as store
from paperfeed.store.search import MARK_END, MARK_START, Filters

log = logging.getLogger(__name__)
MODES = ("hybrid", "keyword", "semantic")
SORTS = tuple(store.ORDERS)
FALLBACK_NOTICE = "Semantic search is not available on this server: showing keyword matches."
_warned = set()


@dataclass(slots=True)
class Results:
    """One page of search results and how the query was understood."""

    query: Query
    hits: list[Hit]
    mode: str  # the mode actually used
    notice: str | None = None
    jump: str | None = None  # an arXiv id the query named exactly, when that paper is stored
    filters: Filters = field(default_factory=Filters)


def mark(snippet: str) -> str:
    """A snippet as safe HTML: everything escaped, matched words in <mark>."""
    escaped = html.escape(snippet, quote=False)
    return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


def _filters(since, until, categories, has_code) -> Filters:
    if since and until and until < since:
        raise InvalidInput("the end of the date range is before its start")
    cats = tuple(c.strip() for c in categories if c and c.strip())
    return Filters(since=since, until=until, categories=cats, has_code=has_code)


def search(
    db: Database,
    text: str,
    *,
    mode: str = "hybrid",
    since: dt.date | None = None,
    until: dt.date | None = None,
    categories: tuple[str, ...] | list[str] = (),
    has_code: bool = False,
    sort: str = "relevance",
    limit: int = 20,
    offset: int = 0,
) -> Results:
    """Papers matching `text` (truncated to MAX_QUERY characters), best first."""
    if mode not in MODES:
        raise InvalidInput(f"unknown mode {mode[:20]!r}: use {', '.join(MODES)}")
    if sort not in SORTS:
        raise InvalidInput(f"unknown sort {sort[:20]!r}: use {', '.join(SORTS)}")
    query = parse(text)
    filters = _filters(since, until, categories, has_code)
    notice = None
    if mode != "keyword":
        if mode not in _warned:
            _warned.add(mode)
            log.warning("search mode %s needs the vector index; using keyword search", mode)
        notice, mode = FALLBACK_NOTICE, "keyword"
    if query.arxiv_id:
        try:
            paper = get_paper(db, query.arxiv_id)
        except NotFound:
            return Results(query, [], mode, "No stored paper has that arXiv id.", None, filters)
        return Results(query, [Hit(paper, 1.0, None)], mode, notice, paper.arxiv_id, filters)
    if query.empty:
        return Results(query, [], mode, notice, None, filters)
    with db.connect() as conn:
        rows = store.keyword(conn, terms=query.terms, phrases=query.phrases,
                             authors=query.authors, filters=filters, sort=sort, limit=limit,
                             offset=offset)  # fmt: skip
    hits = [Hit(paper, score, mark(snip) if snip else None) for paper, score, snip in rows]
    return Results(query, hits, mode, notice, None, filters)


__all__ = ["MAX_QUERY", "MODES", "SORTS", "Results", "mark", "search"]
