"""Hits: a ranking's papers read from the store (hydrated) and given their snippets."""

from __future__ import annotations

import html

from paperfeed.models import Hit
from paperfeed.search.query import Query
from paperfeed.search.ranking import Ranking
from paperfeed.search.snippet import MARK_END, MARK_START, snippet
from paperfeed.store import Database
from paperfeed.store import papers as paper_store


def mark(snippet: str) -> str:
    """A snippet as safe HTML: everything escaped, matched words in <mark>."""
    escaped = html.escape(snippet, quote=False)
    return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


def hydrate(db: Database, ranking: Ranking) -> list[Hit]:
    """Takes a ranking; returns its papers as hits (score kept, no snippet), in order. Papers
    deleted meanwhile are skipped."""
    with db.connect() as conn:
        found = paper_store.get_many(conn, [i for i, _s in ranking])
    return [Hit(found[i], s, None) for i, s in ranking if i in found]


def add_snippets(hits: list[Hit], query: Query) -> list[Hit]:
    """Sets each hit's snippet: the abstract's best passage for the query's words, as safe
    HTML (escaped, matches in <mark>), or None. Returns the same list."""
    words = [*query.terms, *(w for p in query.phrases for w in p)]
    for h in hits:
        found = snippet(h.paper.abstract, words)
        h.snippet = mark(found) if found else None
    return hits
