"""Filters: the restrictions a search honours exactly in every mode (dates, categories, code,
hidden papers, and the query's phrases and authors), checked on any ranking, and the notice
that explains an empty result they cause."""

from __future__ import annotations

import datetime as dt

from paperfeed.search.keyword import words_of
from paperfeed.search.query import Query
from paperfeed.search.ranking import Ranking
from paperfeed.store import Database
from paperfeed.store import authors as author_store
from paperfeed.store import search as store
from paperfeed.store.search import Filters


def make_filters(
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    categories: tuple[str, ...] | list[str] = (),
    has_code: bool = False,
) -> Filters:
    """Filters from request values. Never raises: a range that ends before it starts is kept
    (`Filters.contradictory`) and matches nothing, which `notice_for` explains."""
    cats = tuple(dict.fromkeys(c.strip() for c in categories if c and c.strip()))
    return Filters(since=since, until=until, categories=cats, has_code=has_code)


def filter_exact(db: Database, ranking: Ranking, query: Query, filters: Filters) -> Ranking:
    """Takes any ranking; returns it without the papers that are hidden, fail the filters or
    lack the query's phrases or authors (the same conditions as keyword search, one query)."""
    if not ranking:
        return []
    if query.problem or filters.contradictory:
        return []
    with db.connect() as conn:
        keep = store.matching(conn, [i for i, _s in ranking], filters, words_of(query))
    return [(i, s) for i, s in ranking if i in keep]


def notice_for(db: Database, query: Query, filters: Filters) -> str | None:
    """Why a search found nothing, when its query or filters say so: a filter naming nobody,
    an unknown author or category, or a date range that ends before it starts."""
    if query.problem:
        return query.problem
    if filters.contradictory:
        return "The date range ends before it starts: no paper can match."
    with db.connect() as conn:
        for name in query.authors:
            if not author_store.known(conn, name):
                return f"No paper in the catalogue has an author named {name!r}."
        for category in filters.categories:
            if not store.known_category(conn, category):
                return f"No paper in the catalogue is in category {category[:40]!r}."
    return None
