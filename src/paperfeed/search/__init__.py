"""Search: keyword, semantic and hybrid search with filters, sorts and snippets.

`keyword` is full-text search in the database. `semantic` compares the query's embedding with the
papers' (see search/vectors.py). `hybrid`, the default, fuses both rankings by reciprocal rank.
Without the embedding extra, or before any paper is embedded, the other modes fall back to
keyword search and say so (once in the log, and in every answer's notice).
"""

from __future__ import annotations

import datetime as dt
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
from paperfeed.search.vectors import VectorIndex
from paperfeed.store import Database
from paperfeed.store import papers as paper_store
from paperfeed.store import search as store
from paperfeed.store import vectors as vector_store
from paperfeed.store.search import MARK_END, MARK_START, Filters

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


def vector_index(db: Database, settings: Settings) -> VectorIndex:
    """This process's vector index for `db` and the configured model, brought up to date."""
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


def _keep(paper, f: Filters) -> bool:
    if paper.hidden or (f.has_code and not paper.code_url):
        return False
    if (f.since and paper.listing_day < f.since) or (f.until and paper.listing_day > f.until):
        return False
    return not f.categories or bool(set(f.categories) & set(paper.categories))


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
) -> Results:
    """Papers matching `text` (truncated to MAX_QUERY characters), best first. `settings`, when
    given, chooses the model, runtime and index (else `model` and `max_tokens` do)."""
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
            log.warning("search mode %s needs embedded papers and the embedding extra; "
                        "using keyword search", mode)  # fmt: skip
        notice, mode = FALLBACK_NOTICE, "keyword"
    if query.arxiv_id:
        try:
            paper = get_paper(db, query.arxiv_id)
        except NotFound:
            return Results(query, [], mode, "No stored paper has that arXiv id.", None, filters)
        return Results(query, [Hit(paper, 1.0, None)], mode, notice, paper.arxiv_id, filters)
    if query.empty:
        return Results(query, [], mode, notice, None, filters)
    keyword_hits: list[Hit] = []
    if mode in ("keyword", "hybrid"):
        pool = limit + offset if mode == "keyword" else POOL
        with db.connect() as conn:
            rows = store.keyword(conn, terms=query.terms, phrases=query.phrases,
                                 authors=query.authors, filters=filters,
                                 sort=sort if mode == "keyword" else "relevance",
                                 limit=pool, offset=0)  # fmt: skip
        keyword_hits = [Hit(p, score, mark(snip) if snip else None) for p, score, snip in rows]
        if mode == "keyword":
            return Results(query, keyword_hits[offset:], mode, notice, None, filters)
    words = " ".join([*query.terms, *(" ".join(p) for p in query.phrases), *query.authors])
    vector = indexing.encode(settings, [words or query.text])[0]
    nearest = index.nearest(vector, k=POOL * 3)
    with db.connect() as conn:
        found = paper_store.get_many(conn, [i for i, _s in nearest])
    semantic_hits = [
        Hit(found[i], s) for i, s in nearest if i in found and _keep(found[i], filters)
    ]
    semantic_hits = semantic_hits[:POOL]
    merged = semantic_hits if mode == "semantic" else _fuse(keyword_hits, semantic_hits)
    if sort == "upvotes":
        merged.sort(key=lambda h: (-h.paper.upvotes, -h.score, h.paper.arxiv_id))
    elif sort == "date":
        merged.sort(key=lambda h: (h.paper.listing_day, h.paper.published), reverse=True)
    return Results(query, merged[offset : offset + limit], mode, notice, None, filters)


def _fuse(*rankings: list[Hit]) -> list[Hit]:
    """Reciprocal rank fusion: each paper scores the sum of 1 / (RRF_K + rank) over rankings."""
    fused: dict[str, Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            entry = fused.setdefault(hit.paper.arxiv_id, Hit(hit.paper, 0.0, hit.snippet))
            entry.score += 1.0 / (RRF_K + rank)
            entry.snippet = entry.snippet or hit.snippet
    return sorted(fused.values(), key=lambda h: (-h.score, h.paper.arxiv_id))


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
    nearest = index.nearest(np.frombuffer(blob, dtype=np.float32), k=pool, exclude=arxiv_id)
    with db.connect() as conn:
        found = paper_store.get_many(conn, [i for i, _s in nearest])
        semantic = [Hit(found[i], s) for i, s in nearest if i in found and not found[i].hidden]
        if mode == "semantic":
            return semantic[:limit]
        terms = query_terms(paper.title, paper.abstract)
        rows = store.keyword(conn, terms=terms, phrases=[], authors=[], filters=Filters(),
                             sort="relevance", limit=pool + 1)  # fmt: skip
    keyword = [Hit(p, s) for p, s, _snip in rows if p.arxiv_id != arxiv_id]
    return [Hit(h.paper, h.score) for h in _fuse(keyword, semantic)[:limit]]


__all__ = ["MAX_QUERY", "MODES", "SORTS", "Results", "mark", "search", "similar"]
