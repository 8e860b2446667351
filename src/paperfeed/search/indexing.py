"""Indexing: embedding the papers that have no vector yet, batch by batch, resumable by nature
(what is stored is never embedded again)."""

from __future__ import annotations

from collections.abc import Callable

from paperfeed.config import Settings
from paperfeed.errors import ConfigError
from paperfeed.search import embedder
from paperfeed.store import Database
from paperfeed.store import vectors as store


def status(db: Database, settings: Settings) -> dict:
    """How many papers are embedded and how many wait, for the configured model."""
    with db.connect() as conn:
        pending = store.count_pending(conn, settings.embedding_model)
        done = store.count(conn, settings.embedding_model)
    return {"model": settings.embedding_model, "embedded": done, "pending": pending,
            "embedding_extra": embedder.available()}  # fmt: skip


def embed_pending(
    db: Database,
    settings: Settings,
    *,
    limit: int | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Embed up to `limit` papers without a vector (all when None); returns how many."""
    if not embedder.available():
        raise ConfigError("embedding needs the extra: pip install 'paperfeed[embeddings]' "
                          "(after pip install torch==2.13.0 for the CPU build)")  # fmt: skip
    model, batch = settings.embedding_model, settings.embedding_batch_size
    done = 0
    while limit is None or done < limit:
        size = batch if limit is None else min(batch, limit - done)
        with db.connect() as conn:
            todo = store.pending(conn, model, limit=size)
        if not todo:
            break
        texts = [embedder.paper_text(title, abstract) for _id, title, abstract in todo]
        vectors = embedder.encode(
            texts, model=model, max_tokens=settings.embedding_max_tokens, batch=batch
        )
        rows = [(row[0], v.tobytes()) for row, v in zip(todo, vectors, strict=True)]
        with db.transaction() as conn:
            store.save(conn, model, rows)
        done += len(todo)
        if on_batch:
            on_batch(len(todo))
    return done
