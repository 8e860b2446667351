"""The keyword side of search: candidates ranked by the database's full-text index
(`store/search.py`), and the papers whose title a query names."""

from __future__ import annotations

from paperfeed.search.query import FUNCTION_WORDS, Query, parse, title_match
from paperfeed.search.ranking import POOL, Ranking
from paperfeed.store import Database
from paperfeed.store import search as store
from paperfeed.store.search import Filters

TITLE_DEPTH = 10  # keyword results checked for a title the query names


def words_of(query: Query, *, all_terms: bool = False) -> store.Words:
    """What the keyword engine matches for a query (all its words with `all_terms`)."""
    return store.Words(query.terms, query.phrases, query.authors, all_terms)


def keyword_candidates(
    db: Database,
    query: Query,
    filters: Filters,
    *,
    limit: int = POOL,
    offset: int = 0,
    sort: str = "relevance",
    all_terms: bool = False,
) -> Ranking:
    """Takes a parsed query and filters; returns up to `limit` (id, keyword score) pairs after
    `offset`, in `sort` order (relevance: bm25 on SQLite, IDF-weighted ts_rank on PostgreSQL).
    Exact: every paper passes the filters, has the phrases and authors, and is not hidden.
    `all_terms` keeps only papers with every word of the query."""
    if query.problem or query.empty or filters.contradictory:
        return []
    with db.connect() as conn:
        return store.ranking(
            conn,
            words_of(query, all_terms=all_terms),
            filters=filters,
            sort=sort,
            limit=limit,
            offset=offset,
        )


def title_matches(db: Database, query: Query, filters: Filters, keyword: Ranking) -> list[str]:
    """Takes a query, filters and its keyword ranking; returns the ids of papers whose title the
    query is, exactly or nearly (`query.title_match`), exact first, with a vector or not: among
    the first TITLE_DEPTH keyword results and the shortest titles with its every content word."""
    words = query.words
    if query.problem or not words or filters.contradictory:
        return []
    content = [w for w in dict.fromkeys(words) if w not in FUNCTION_WORDS] or words
    with db.connect() as conn:
        titles = store.title_candidates(conn, content, filters)
        head = [i for i, _s in keyword[:TITLE_DEPTH] if i not in titles]
        ids = [*titles, *head]
        titles.update(store.titles(conn, head))
        matched = [i for i in ids if title_match(query.prose, titles.get(i, ""))]
        # Keyword results passed every filter already; probed titles only the metadata ones.
        unsure = [i for i in matched if i not in head]
        if unsure and (query.authors or query.phrases):
            keep = store.matching(conn, unsure, filters, words_of(query))
            matched = [i for i in matched if i in keep or i in head]
    exact = [i for i in matched if parse(titles[i]).words == words]
    return exact + [i for i in matched if i not in exact]
