"""Search: keyword, semantic and hybrid search with filters, sorts and snippets.

`keyword` is full-text search in the database. `semantic` compares the query's embedding with the
papers' (see search/vectors.py). `hybrid`, the default, fuses both rankings by reciprocal rank.
Without the embedding extra, or before any paper is embedded, the other modes fall back to
keyword search and say so (once in the log, and in every answer's notice).
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import logging
import threading
from dataclasses import dataclass, field

import numpy as np

from paperfeed.config import Settings
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.models import Hit
from paperfeed.papers import get_paper
from paperfeed.search import embedder, indexing
from paperfeed.search.query import MAX_QUERY, Query, parse
from paperfeed.search.query import distinctive_terms as query_terms
from paperfeed.search.snippet import MARK_END, MARK_START, snippet
from paperfeed.search.vectors import VectorIndex
from paperfeed.store import Database
from paperfeed.store import papers as paper_store
from paperfeed.store import search as store
from paperfeed.store import vectors as vector_store
from paperfeed.store.search import Filters

log = logging.getLogger(__name__)
MODES = ("hybrid", "keyword", "semantic")
SORTS = tuple(store.ORDERS)
FALLBACK_NOTICE = "Semantic search is not available on this server: showing keyword matches."
RRF_K = 60  # reciprocal rank fusion: score = sum of 1 / (RRF_K + rank) over the two rankings
POOL = 100  # results taken from each ranking before fusing
_warned = set()
_indexes: dict[tuple[str, str, str], VectorIndex] = {}
_indexes_lock = threading.Lock()


def _settings(db: Database, settings: Settings | None, model: str, max_tokens: int) -> Settings:
    if settings is not None:
        return settings
    return Settings(database_url=db.url, embedding_model=model, embedding_max_tokens=max_tokens)


@functools.cache
def _blas_on_one_thread() -> None:
    """Keep numpy's BLAS on the calling thread, once per process (a BLAS loaded later, by
    scipy say, is not ours to call). Our products are small (a
    query against at most tens of thousands of vectors) and OpenBLAS's helper threads spin
    after each one: they took a second core for nothing, as much CPU as the work itself in a
    digest run, and the core another worker or request needed."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def vector_index(db: Database, settings: Settings) -> VectorIndex:
    """This process's vector index for `db` and the configured model, brought up to date."""
    _blas_on_one_thread()
    ann = indexing.ann_file(settings)
    key = (db.url, settings.embedding_model, str(ann.dir.resolve()))
    with _indexes_lock:
        index = _indexes.setdefault(key, VectorIndex(ann))
    index.refresh(db)
    return index


def _semantic_ready(db: Database, settings: Settings) -> VectorIndex | None:
    if not indexing.embedding_available(settings):
        return None
    try:
        index = vector_index(db, settings)
    except Exception:  # a broken index must not break search: keywords still answer
        log.exception("the vector index failed; answering with keyword search")
        return None
    return index if len(index) else None


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
    model: str = embedder.DEFAULT_MODEL,
    max_tokens: int = 256,
    settings: Settings | None = None,
    snippets: bool = True,
    vector=None,
    cache: dict | None = None,
) -> Results:
    """Papers matching `text` (truncated to MAX_QUERY characters), best first. `settings`, when
    given, chooses the model, runtime and index (else `model` and `max_tokens` do); `snippets`
    off skips marking passages (for mail and feeds, which show whole abstracts); `vector` is
    the text's embedding when the caller has it already (`embed_queries`); `cache`, a dict a
    batch job (a digest run) passes to all its searches, keeps the vectors of the date windows
    they rank, for as long as the job holds it."""
    if mode not in MODES:
        raise InvalidInput(f"unknown mode {mode[:20]!r}: use {', '.join(MODES)}")
    if sort not in SORTS:
        raise InvalidInput(f"unknown sort {sort[:20]!r}: use {', '.join(SORTS)}")
    query = parse(text)
    filters = _filters(since, until, categories, has_code)
    notice = None
    settings = _settings(db, settings, model, max_tokens)
    index = _semantic_ready(db, settings) if mode != "keyword" else None
    if mode != "keyword" and index is None:
        if mode not in _warned:
            _warned.add(mode)
            log.warning(
                "search mode %s needs embedded papers and the embedding extra; "
                "using keyword search",
                mode,
            )
        notice, mode = FALLBACK_NOTICE, "keyword"
    if query.arxiv_id:
        try:
            paper = get_paper(db, query.arxiv_id)
        except NotFound:
            return Results(query, [], mode, "No stored paper has that arXiv id.", None, filters)
        return Results(query, [Hit(paper, 1.0, None)], mode, notice, paper.arxiv_id, filters)
    if query.empty:
        return Results(query, [], mode, notice, None, filters)
    words = store.Words(query.terms, query.phrases, query.authors)
    keyword_ranked: list[tuple[str, float]] = []
    if mode in ("keyword", "hybrid"):
        with db.connect() as conn:
            keyword_ranked = store.ranking(
                conn,
                words,
                filters=filters,
                sort=sort if mode == "keyword" else "relevance",
                limit=limit + offset if mode == "keyword" else POOL,
            )
        if mode == "keyword":
            page = _hits(db, keyword_ranked[offset : offset + limit], words, with_snippets=snippets)
            return Results(query, page, mode, notice, None, filters)
    if vector is None:
        vector = indexing.encode(settings, [query.prose or query.text])[0]
    semantic_ranked = _nearest(db, index, settings, np.asarray(vector, np.float32), filters, cache)
    ranked = semantic_ranked if mode == "semantic" else _fuse(keyword_ranked, semantic_ranked)
    if sort == "relevance":
        page = _hits(db, ranked[offset : offset + limit], words, with_snippets=snippets)
        return Results(query, page, mode, notice, None, filters)
    hits = _hits(db, ranked, words, with_snippets=False)
    if sort == "upvotes":
        hits.sort(key=lambda h: (-h.paper.upvotes, -h.score, h.paper.arxiv_id))
    else:
        hits.sort(key=lambda h: (h.paper.listing_day, h.paper.published), reverse=True)
    page = hits[offset : offset + limit]
    for h in page:
        h.snippet = _snippet(h.paper, words) if snippets else None
    return Results(query, page, mode, notice, None, filters)


_NOT_NARROW = object()


def _window(db, settings, filters: Filters, cache: dict | None):
    """(ids, vectors) of a short date window's embedded papers, or _NOT_NARROW."""
    f = filters
    key = ("window", settings.embedding_model, f.since, f.until, f.categories, f.has_code)
    if cache is not None and key in cache:
        return cache[key]
    with db.connect() as conn:
        rows = store.window_vectors(conn, settings.embedding_model, filters)
    if rows is None:
        found = _NOT_NARROW
    else:
        blob = b"".join(v for _i, v in rows)
        matrix = np.frombuffer(blob, np.float32).reshape(len(rows), -1) if rows else None
        found = [i for i, _v in rows], matrix
    if cache is not None:
        cache[key] = found
    return found


def _nearest(db, index, settings, vector, filters: Filters, cache) -> list[tuple[str, float]]:
    """The semantic ranking: exact over a short date window's papers, else approximate."""
    window = _window(db, settings, filters, cache)
    if window is not _NOT_NARROW:
        ids, matrix = window
        if not ids:
            return []
        scores = matrix @ vector
        top = np.argsort(-scores, kind="stable")[:POOL]
        return [(ids[i], float(scores[i])) for i in top]
    # Filters may drop many of the nearest papers: look further when there are any.
    wanted = POOL + 10 if filters == Filters() else POOL * 3
    nearest = index.nearest(vector, k=wanted)
    with db.connect() as conn:
        keep = store.visible(conn, [i for i, _s in nearest], filters)
    return [(i, s) for i, s in nearest if i in keep][:POOL]


def embed_queries(db: Database, settings: Settings, texts: list[str]) -> dict[str, object]:
    """Embeddings of many queries at once, by text (batched: 3x cheaper per query than one by
    one); empty when semantic search is unavailable."""
    if _semantic_ready(db, settings) is None:
        return {}
    unique = list(dict.fromkeys(texts))
    prose = [parse(t) for t in unique]
    vectors = indexing.encode(settings, [q.prose or q.text for q in prose])
    return dict(zip(unique, vectors, strict=True))


def _hits(
    db: Database, ranked: list[tuple[str, float]], words, *, with_snippets: bool = True
) -> list[Hit]:
    """Hits for ranked (id, score) pairs: the papers read, and their marked snippets."""
    with db.connect() as conn:
        found = paper_store.get_many(conn, [i for i, _s in ranked])
    return [
        Hit(found[i], s, _snippet(found[i], words) if with_snippets else None)
        for i, s in ranked
        if i in found
    ]


def _snippet(paper, words) -> str | None:
    """The paper's best passage for these words as safe HTML, or None."""
    found = snippet(paper.abstract, [*words.terms, *(w for p in words.phrases for w in p)])
    return mark(found) if found else None


def _fuse(*rankings: list[tuple[str, float]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: each paper scores the sum of 1 / (k + rank) over rankings."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, (arxiv_id, _score) in enumerate(ranking, start=1):
            fused[arxiv_id] = fused.get(arxiv_id, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def similar(
    db: Database,
    arxiv_id: str,
    *,
    model: str = embedder.DEFAULT_MODEL,
    limit: int = 5,
    mode: str = "hybrid",
    settings: Settings | None = None,
) -> list[Hit]:
    """Papers most like this one: nearest embeddings, fused (in `hybrid` mode) with a keyword
    query of its most distinctive words. Empty without vectors."""
    if mode not in ("hybrid", "semantic"):
        raise InvalidInput("similar papers are found in hybrid or semantic mode")
    settings = _settings(db, settings, model, 256)
    index = _semantic_ready(db, settings)
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
    ranked = semantic if mode == "semantic" else _fuse(keyword, semantic)
    return _hits(db, ranked[:limit], None, with_snippets=False)


__all__ = ["MAX_QUERY", "MODES", "SORTS", "Results", "embed_queries", "mark", "search", "similar"]
