"""The vector side of search: this process's vector index, query embeddings, the vectors of a
short date window (ranked exactly rather than through the index), and semantic candidates."""

from __future__ import annotations

import functools
import logging
import threading

import numpy as np

from paperfeed.config import Settings
from paperfeed.search import indexing
from paperfeed.search.filters import filter_exact
from paperfeed.search.query import Query, parse
from paperfeed.search.ranking import POOL, Ranking
from paperfeed.search.vectors import VectorIndex
from paperfeed.store import Database
from paperfeed.store import search as store
from paperfeed.store.search import Filters

log = logging.getLogger(__name__)
# Cosine similarity below which a paper is not a semantic match at all. all-MiniLM-L6-v2 puts
# unrelated text at 0.0-0.2 from anything; nonsense queries' nearest papers score at most about
# 0.2 (bench/partial_embedding.py prints the distribution).
FLOOR = 0.3
# Cosine at which a paper found by meaning alone counts as a relevant match for a feed or a
# digest topic, which list matches newest first rather than best first.
RELEVANT = 0.4
_indexes: dict[tuple[str, str, str], VectorIndex] = {}
_indexes_lock = threading.Lock()


@functools.cache
def blas_on_one_thread() -> None:
    """Keep numpy's BLAS on the calling thread, once per process (a BLAS loaded later, by
    scipy say, is not ours to call). Our products are small (a query against at most tens of
    thousands of vectors, a day's papers against a reader's prototypes: recommend.py calls this
    too) and OpenBLAS's helper threads spin after each one: they took a second core for nothing,
    as much CPU as the work itself in a digest run, and the core another worker or request
    needed."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def vector_index(db: Database, settings: Settings) -> VectorIndex:
    """This process's vector index for `db` and the configured model, brought up to date."""
    blas_on_one_thread()
    ann = indexing.ann_file(settings)
    key = (db.url, settings.embedding_model, str(ann.dir.resolve()))
    with _indexes_lock:
        index = _indexes.setdefault(key, VectorIndex(ann))
    index.refresh(db)
    return index


def semantic_index(db: Database, settings: Settings) -> VectorIndex | None:
    """The vector index when semantic search can answer (the extra is installed and some paper
    is embedded), else None. Never raises: a broken index is logged and keywords answer."""
    if not indexing.embedding_available(settings):
        return None
    try:
        index = vector_index(db, settings)
    except Exception:  # a broken index must not break search: keywords still answer
        log.exception("the vector index failed; answering with keyword search")
        return None
    return index if len(index) else None


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


def embed_query(settings: Settings, query: Query):
    """The query's embedding (of its prose: no author filter, no quotes), float32."""
    return np.asarray(indexing.encode(settings, [query.prose or query.text])[0], np.float32)


def embed_queries(db: Database, settings: Settings, texts: list[str]) -> dict[str, object]:
    """Embeddings of many queries at once, by text (batched: 3x cheaper per query than one by
    one); empty when semantic search is unavailable."""
    if semantic_index(db, settings) is None:
        return {}
    unique = list(dict.fromkeys(texts))
    prose = [parse(t) for t in unique]
    vectors = indexing.encode(settings, [q.prose or q.text for q in prose])
    return dict(zip(unique, vectors, strict=True))


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
