"""Search: keyword, semantic and hybrid search with filters, sorts and snippets, as public steps.

`keyword` is full-text search in the database. `semantic` compares the query's embedding with the
papers' (see search/vectors.py). `hybrid`, the default, fuses both rankings by reciprocal rank.
Without the embedding extra, or before any paper is embedded, the other modes fall back to
keyword search and say so (once in the log, and in every answer's notice).

`search()` is these steps in order, and each can be used alone (a digest, a feed or a personal
ranking composes its own):

    parse(text) -> Query
    make_filters(since=, until=, categories=, has_code=) -> Filters
    keyword_candidates(db, query, filters) -> Ranking
    semantic_candidates(db, query, filters, settings) -> Ranking | None
    title_matches(db, query, filters, keyword) -> list[str]
    fuse(keyword, semantic, unembedded=, pinned=) -> Ranking
    filter_exact(db, ranking, query, filters) -> Ranking
    hydrate(db, ranking) -> list[Hit]
    add_snippets(hits, query) -> list[Hit]

A `Ranking` is a list of (arxiv id, score) pairs, best first. Every step that returns one
returns only papers that pass the filters exactly (dates, categories, code, hidden, authors,
phrases), whatever the mode. Configuration (model, runtime, index) comes from `Settings` alone.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from paperfeed.config import Settings
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.models import Hit
from paperfeed.papers import get_paper
from paperfeed.search import embedder
from paperfeed.search.query import FUNCTION_WORDS, MAX_QUERY, Query, parse, title_match
from paperfeed.search.query import distinctive_terms as query_terms
from paperfeed.search.semantic import (
    _NOT_NARROW,
    _indexes,  # noqa: F401 - tests and benches reset this process's indexes
    _window,
    blas_on_one_thread,  # noqa: F401 - bench/search_speed.py sets up a worker with it
    embed_queries,
    embed_query,
    semantic_index,
    vector_index,
)
from paperfeed.search.snippet import MARK_END, MARK_START, snippet
from paperfeed.search.vectors import VectorIndex
from paperfeed.store import Database
from paperfeed.store import authors as author_store
from paperfeed.store import papers as paper_store
from paperfeed.store import search as store
from paperfeed.store import vectors as vector_store
from paperfeed.store.search import Filters

log = logging.getLogger(__name__)
MODES = ("hybrid", "keyword", "semantic")
SORTS = tuple(store.ORDERS)
FALLBACK_NOTICE = "Semantic search is not available on this server: showing keyword matches."
NOTHING_CLOSE = "Nothing in the catalogue is close to this query."
RRF_K = 60  # reciprocal rank fusion: score = sum of 1 / (RRF_K + rank) over the two rankings
POOL = 100  # results taken from each ranking before fusing
# Cosine similarity below which a paper is not a semantic match at all. all-MiniLM-L6-v2 puts
# unrelated text at 0.0-0.2 from anything; nonsense queries' nearest papers score at most about
# 0.2 (bench/partial_embedding.py prints the distribution).
FLOOR = 0.3
# Cosine at which a paper found by meaning alone counts as a relevant match for a feed or a
# digest topic, which list matches newest first rather than best first.
RELEVANT = 0.4
TITLE_DEPTH = 10  # keyword results checked for a title the query names
Ranking = list[tuple[str, float]]
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


def mark(snippet: str) -> str:
    """A snippet as safe HTML: everything escaped, matched words in <mark>."""
    escaped = html.escape(snippet, quote=False)
    return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


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


def semantic_candidates(
    db: Database,
    query: Query,
    filters: Filters,
    settings: Settings,
    *,
    limit: int = POOL,
    vector=None,
    cache: dict | None = None,
    floor: float = FLOOR,
    index: VectorIndex | None = None,
) -> Ranking | None:
    """Takes a parsed query, filters and settings; returns up to `limit` (id, cosine) pairs,
    closest first, or None when semantic search is unavailable. Only papers at least `floor`
    close count, so a query nothing is about finds nothing. Exact like `keyword_candidates`.
    A short date window (a digest's day) is ranked exactly over its own papers' vectors, else
    the ANN index is asked for more than `limit` and the filters applied after. `vector` is the
    query's embedding when the caller has it (`embed_queries`); `cache`, a dict a batch job
    passes to all its searches, keeps the windows' vectors for as long as it holds it."""
    index = index or semantic_index(db, settings)
    if index is None:
        return None
    if query.problem or query.empty or filters.contradictory or not query.words:
        return []  # nothing to mean: `author:` alone is a listing, not a topic
    vector = embed_query(settings, query) if vector is None else np.asarray(vector, np.float32)
    window = _window(db, settings, filters, cache)
    if window is not _NOT_NARROW:
        ids, matrix = window
        if not ids:
            return []
        scores = matrix @ vector
        top = np.argsort(-scores, kind="stable")[: limit * 3 if _narrowing(query) else limit]
        nearest = [(ids[i], float(scores[i])) for i in top]
    else:
        # Filters, phrases and authors may drop many of the nearest papers: look further then.
        plain = filters == Filters() and not _narrowing(query)
        nearest = index.nearest(vector, k=limit + 10 if plain else limit * 3)
    nearest = [(i, s) for i, s in nearest if s >= floor]
    return filter_exact(db, nearest, query, filters)[:limit]


def _narrowing(query: Query) -> bool:
    return bool(query.phrases or query.authors)


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


def unembedded(index: VectorIndex | None, ids: list[str]) -> set[str]:
    """Takes the vector index (None: semantic search unavailable) and paper ids; returns those
    without a vector in it yet."""
    return set(ids) if index is None else set(ids) - index.holds(ids)


def fuse(
    keyword: Ranking,
    semantic: Ranking,
    *,
    unembedded: set[str] | frozenset[str] = frozenset(),
    pinned: Sequence[str] = (),
    k: int = RRF_K,
) -> Ranking:
    """Reciprocal rank fusion of two rankings: each paper scores the sum of 1 / (k + rank).
    A paper in `unembedded` (no vector yet, so absent from the semantic ranking whatever it
    is about) counts its keyword rank for both rankings, so with nothing embedded hybrid ranks
    as keyword search does. `pinned` ids (title matches) come first, in order."""
    fused: dict[str, float] = {}
    for rank, (arxiv_id, _score) in enumerate(keyword, start=1):
        weight = 2.0 if arxiv_id in unembedded else 1.0
        fused[arxiv_id] = fused.get(arxiv_id, 0.0) + weight / (k + rank)
    for rank, (arxiv_id, _score) in enumerate(semantic, start=1):
        fused[arxiv_id] = fused.get(arxiv_id, 0.0) + 1.0 / (k + rank)
    return pin(sorted(fused.items(), key=lambda item: (-item[1], item[0])), pinned)


def pin(ranking: Ranking, pinned: Sequence[str]) -> Ranking:
    """The ranking with these ids first, in order (scored just above the best)."""
    if not pinned:
        return ranking
    top = (ranking[0][1] if ranking else 0.0) + 1.0
    scores = dict(ranking)
    first = [(i, top + len(pinned) - n) for n, i in enumerate(pinned)]
    head = {i for i in pinned}
    return first + [(i, s) for i, s in ranking if i not in head and i in scores]


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
    "SORTS",
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
