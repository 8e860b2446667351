"""Search: keyword, semantic and hybrid search with filters, sorts and snippets, as public steps.

`keyword` is full-text search in the database. `semantic` compares the query's embedding with the
papers' (see search/vectors.py). `hybrid`, the default, fuses both rankings by reciprocal rank.
Without the embedding extra, or before any paper is embedded, the other modes fall back to
keyword search and say so (once in the log, and in every answer's notice).

This module is the pipeline: `search()` (a page of results), `relevant()` (a feed's or a digest
topic's matches, newest first) and `similar()`. Each runs these public steps in order, and each
step can be used alone (a digest, a feed or a personal ranking composes its own); all are
importable from here:

    parse(text) -> Query                                      search/query.py
    make_filters(since=, until=, categories=, has_code=) -> Filters   search/filters.py
    keyword_candidates(db, query, filters) -> Ranking         search/keyword.py
    semantic_candidates(db, query, filters, settings) -> Ranking | None   search/semantic.py
    title_matches(db, query, filters, keyword) -> list[str]   search/keyword.py
    fuse(keyword, semantic, unembedded=, pinned=) -> Ranking  search/ranking.py
    filter_exact(db, ranking, query, filters) -> Ranking      search/filters.py
    hydrate(db, ranking) -> list[Hit]                         search/hits.py
    add_snippets(hits, query) -> list[Hit]                    search/hits.py

A `Ranking` is a list of (arxiv id, score) pairs, best first. Every step that returns one
returns only papers that pass the filters exactly (dates, categories, code, hidden, authors,
phrases), whatever the mode. Configuration (model, runtime, index) comes from `Settings` alone.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import numpy as np

from paperfeed.config import Settings
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.models import Hit
from paperfeed.papers import get_paper
from paperfeed.search import embedder
from paperfeed.search.filters import filter_exact, make_filters, notice_for
from paperfeed.search.hits import add_snippets, hydrate, mark
from paperfeed.search.keyword import TITLE_DEPTH, keyword_candidates, title_matches, words_of
from paperfeed.search.query import MAX_QUERY, Query, parse
from paperfeed.search.query import distinctive_terms as query_terms
from paperfeed.search.ranking import POOL, RRF_K, Ranking, fuse, pin, unembedded
from paperfeed.search.semantic import (
    FLOOR,
    RELEVANT,
    _indexes,  # noqa: F401 - tests and benches reset this process's indexes
    blas_on_one_thread,  # noqa: F401 - bench/search_speed.py sets up a worker with it
    embed_queries,
    embed_query,
    semantic_candidates,
    semantic_index,
    vector_index,
)
from paperfeed.store import Database
from paperfeed.store import papers as paper_store
from paperfeed.store import search as store
from paperfeed.store import vectors as vector_store
from paperfeed.store.search import Filters

log = logging.getLogger(__name__)
MODES = ("hybrid", "keyword", "semantic")
SORTS = tuple(store.ORDERS)
FALLBACK_NOTICE = "Semantic search is not available on this server: showing keyword matches."
NOTHING_CLOSE = "Nothing in the catalogue is close to this query."
_warned: set[str] = set()


def configured(db: Database, settings: Settings | None = None) -> Settings:
    """The settings a search runs with: the caller's, else the defaults for this database."""
    return settings if settings is not None else Settings(database_url=db.url)


@dataclass(slots=True)
class Results:
    """One page of search results and how the query was understood."""

    query: Query
    hits: list[Hit]
    mode: str  # the mode actually used
    notice: str | None = None
    jump: str | None = None  # an arXiv id the query named exactly, when that paper is stored
    filters: Filters = field(default_factory=Filters)


def _fallback(mode: str) -> None:
    if mode not in _warned:
        _warned.add(mode)
        log.warning(
            "search mode %s needs embedded papers and the embedding extra; using keyword search",
            mode,
        )


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
    settings: Settings | None = None,
    snippets: bool = True,
    vector=None,
    cache: dict | None = None,
) -> Results:
    """Papers matching `text` (truncated to MAX_QUERY characters), best first (or by `sort`),
    the steps above in order. `settings` chooses the model, runtime and index; `snippets` off
    skips marking passages (mail and feeds show whole abstracts); `vector` and `cache` as in
    `semantic_candidates`. Bad filters give an empty page with a notice, never an error."""
    if mode not in MODES:
        raise InvalidInput(f"unknown mode {mode[:20]!r}: use {', '.join(MODES)}")
    if sort not in SORTS:
        raise InvalidInput(f"unknown sort {sort[:20]!r}: use {', '.join(SORTS)}")
    query = parse(text)
    filters = make_filters(since=since, until=until, categories=categories, has_code=has_code)
    settings = configured(db, settings)
    notice = None
    index = semantic_index(db, settings) if mode != "keyword" else None
    if mode != "keyword" and index is None:
        _fallback(mode)
        notice, mode = FALLBACK_NOTICE, "keyword"
    if query.arxiv_id:
        try:
            paper = get_paper(db, query.arxiv_id)
        except NotFound:
            return Results(query, [], mode, "No stored paper has that arXiv id.", None, filters)
        return Results(query, [Hit(paper, 1.0, None)], mode, notice, paper.arxiv_id, filters)
    if query.empty or query.problem or filters.contradictory:
        return Results(query, [], mode, notice_for(db, query, filters) or notice, None, filters)
    if mode == "keyword":
        keyword = keyword_candidates(db, query, filters, sort=sort, limit=limit + offset)
        pinned = title_matches(db, query, filters, keyword) if sort == "relevance" else []
        ranked = pin(keyword, pinned)[offset : offset + limit]
        semantic: Ranking = []
    else:
        # Semantic mode reads keyword matches only to find a title the query names.
        depth = TITLE_DEPTH if mode == "semantic" else POOL
        keyword = keyword_candidates(db, query, filters, limit=depth)
        # None only without an index, and this branch has one (else mode fell back above).
        semantic = (
            semantic_candidates(
                db, query, filters, settings, vector=vector, cache=cache, index=index
            )
            or []
        )
        pinned = title_matches(db, query, filters, keyword)
        if mode == "semantic":
            ranked = pin(semantic, pinned)
        else:
            waiting = unembedded(index, [i for i, _s in keyword])
            ranked = fuse(keyword, semantic, unembedded=waiting, pinned=pinned)
        if sort == "relevance":
            ranked = ranked[offset : offset + limit]
    hits = hydrate(db, ranked)
    if sort != "relevance" and mode != "keyword":
        if sort == "upvotes":
            hits.sort(key=lambda h: (-(h.paper.upvotes or 0), -h.score, h.paper.arxiv_id))
        else:
            hits.sort(key=lambda h: (h.paper.listing_day, h.paper.published), reverse=True)
        hits = hits[offset : offset + limit]
    if snippets:
        add_snippets(hits, query)
    if not hits and offset == 0:
        nothing_close = not semantic and (mode == "semantic" or not keyword)
        notice = notice_for(db, query, filters) or (
            NOTHING_CLOSE if mode != "keyword" and nothing_close else notice
        )
    return Results(query, hits, mode, notice, None, filters)


def relevant(
    db: Database,
    text: str,
    *,
    mode: str = "hybrid",
    since: dt.date | None = None,
    until: dt.date | None = None,
    categories: tuple[str, ...] | list[str] = (),
    limit: int = 50,
    pool: int = 2 * POOL,
    settings: Settings | None = None,
    vector=None,
    cache: dict | None = None,
) -> Results:
    """The relevant matches of a query, newest first: what a search feed or a digest topic
    lists. Relevant means the title the query names, a paper with every word and phrase of the
    query (the `pool` best of them), or, in the semantic modes, one at least RELEVANT close in
    meaning; not every paper that shares one word. Filters apply exactly."""
    if mode not in MODES:
        raise InvalidInput(f"unknown mode {mode[:20]!r}: use {', '.join(MODES)}")
    query = parse(text)
    filters = make_filters(since=since, until=until, categories=categories)
    settings = configured(db, settings)
    if query.arxiv_id or query.empty or query.problem or filters.contradictory:
        return Results(query, [], mode, notice_for(db, query, filters), None, filters)
    keyword = keyword_candidates(db, query, filters, limit=pool, all_terms=True)
    semantic: Ranking = []
    if mode != "keyword":
        found = semantic_candidates(
            db, query, filters, settings, limit=pool, vector=vector, cache=cache, floor=RELEVANT
        )
        mode = mode if found is not None else "keyword"
        semantic = found or []
    pinned = title_matches(db, query, filters, keyword)
    ranked = pin(fuse(keyword, semantic), pinned)
    hits = hydrate(db, ranked)
    hits.sort(key=lambda h: (h.paper.listing_day, h.paper.published, h.paper.arxiv_id))
    return Results(query, hits[::-1][:limit], mode, None, None, filters)


def similar(
    db: Database,
    arxiv_id: str,
    *,
    limit: int = 5,
    mode: str = "hybrid",
    settings: Settings | None = None,
) -> list[Hit]:
    """Papers most like this one: nearest embeddings, fused (in `hybrid` mode) with a keyword
    query of its most distinctive words. Empty without vectors."""
    if mode not in ("hybrid", "semantic"):
        raise InvalidInput("similar papers are found in hybrid or semantic mode")
    settings = configured(db, settings)
    index = semantic_index(db, settings)
    if index is None:
        return []
    with db.connect() as conn:
        blob = vector_store.vectors_of(conn, settings.embedding_model, [arxiv_id]).get(arxiv_id)
        paper = paper_store.get_many(conn, [arxiv_id]).get(arxiv_id)
    if blob is None or paper is None:
        return []
    pool = max(limit * 2, POOL if mode == "hybrid" else 0)
    nearest = index.nearest(np.frombuffer(blob, dtype=np.float32), k=pool + 10, exclude=arxiv_id)
    with db.connect() as conn:
        keep = store.visible(conn, [i for i, _s in nearest], Filters())
        semantic = [(i, s) for i, s in nearest if i in keep][:pool]
        keyword = []
        if mode == "hybrid":
            words = store.Words(query_terms(paper.title, paper.abstract), [], [])
            ranked = store.ranking(conn, words, filters=Filters(), sort="relevance", limit=pool + 1)
            keyword = [(i, s) for i, s in ranked if i != arxiv_id]
    ranked = semantic if mode == "semantic" else fuse(keyword, semantic)
    return hydrate(db, ranked[:limit])


__all__ = [
    "FLOOR",
    "MAX_QUERY",
    "MODES",
    "POOL",
    "RELEVANT",
    "RRF_K",
    "SORTS",
    "TITLE_DEPTH",
    "Filters",
    "Query",
    "Ranking",
    "Results",
    "add_snippets",
    "configured",
    "embed_queries",
    "embed_query",
    "embedder",
    "filter_exact",
    "fuse",
    "hydrate",
    "keyword_candidates",
    "make_filters",
    "mark",
    "notice_for",
    "parse",
    "pin",
    "relevant",
    "search",
    "semantic_candidates",
    "semantic_index",
    "similar",
    "title_matches",
    "unembedded",
    "vector_index",
    "words_of",
]
