"""The vector side of search: this process's vector index, query embeddings, and the vectors
of a short date window (ranked exactly rather than through the index)."""

from __future__ import annotations

import functools
import logging
import threading

import numpy as np

from paperfeed.config import Settings
from paperfeed.search import indexing
from paperfeed.search.query import Query, parse
from paperfeed.search.vectors import VectorIndex
from paperfeed.store import Database
from paperfeed.store import search as store
from paperfeed.store.search import Filters

log = logging.getLogger(__name__)
_indexes: dict[tuple[str, str, str], VectorIndex] = {}
_indexes_lock = threading.Lock()


@functools.cache
def blas_on_one_thread() -> None:
    """Keep numpy's BLAS on the calling thread, once per process (a BLAS loaded later, by
    scipy say, is not ours to call). Our products are small (a query against at most tens of
    thousands of vectors, a day's papers against a reader's prototypes: recommend.py calls this
    too) and OpenBLAS's helper threads spin
    after each one: they took a second core for nothing, as much CPU as the work itself in a
    digest run, and the core another worker or request needed."""
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
