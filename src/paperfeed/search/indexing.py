"""Indexing: embedding the papers that have no vector yet, batch by batch, resumable by nature
(what is stored is never embedded again), and keeping the ANN file in step with the vectors."""

from __future__ import annotations

from collections.abc import Callable

from paperfeed.config import Settings
from paperfeed.errors import ConfigError
from paperfeed.search import embedder
from paperfeed.search import vectors as vector_index
from paperfeed.search.ann import AnnFile
from paperfeed.store import Database
from paperfeed.store import vectors as store


def ann_file(settings: Settings) -> AnnFile:
    """The ANN file of the configured model for the configured database."""
    return AnnFile(settings.index_path, settings.embedding_model)


def embedding_available(settings: Settings) -> bool:
    """Whether this installation can embed with the configured runtime."""
    return embedder.available(
        runtime=settings.embedding_runtime,
        model=settings.embedding_model,
        cache_dir=settings.embedding_cache_dir or None,
    )


def status(db: Database, settings: Settings) -> dict:
    """How many papers are embedded, how many wait, and what the ANN file holds."""
    with db.connect() as conn:
        pending = store.count_pending(conn, settings.embedding_model)
        done = store.count(conn, settings.embedding_model)
        others = store.counts_by_model(conn)
    others.pop(settings.embedding_model, None)
    ann = ann_file(settings)
    info = ann.describe()
    high_water = info.get("high_water")
    return {
        "model": settings.embedding_model,
        "embedded": done,
        "pending": pending,
        "other_models": others,  # vectors of other model names: never compared with these
        "embedding_extra": embedding_available(settings),
        "index_path": str(ann.dir),
        "indexed": info.get("count"),
        "index_generation": info.get("generation"),
        "index_high_water": vector_index.moment(high_water) if high_water else None,
    }


def encode(settings: Settings, texts: list[str]):
    """Vectors for texts with the configured model and runtime."""
    return embedder.encode(
        texts,
        model=settings.embedding_model,
        max_tokens=settings.embedding_max_tokens,
        batch=settings.embedding_batch_size,
        runtime=settings.embedding_runtime,
        cache_dir=settings.embedding_cache_dir or None,
    )


def embed_pending(
    db: Database,
    settings: Settings,
    *,
    limit: int | None = None,
    on_batch: Callable[[int], None] | None = None,
    fold: bool = True,
) -> int:
    """Embed up to `limit` papers without a vector (all when None), then (with `fold`) fold the
    new vectors into the ANN file; returns how many were embedded."""
    if not embedding_available(settings) and settings.embedding_runtime != "onnx":
        raise ConfigError(
            "embedding needs the extra: pip install torch==2.13.0, then "
            "pip install 'paperfeed[embeddings]'"
        )
    model, batch = settings.embedding_model, max(settings.embedding_batch_size, 1)
    done = 0
    # Read more than one batch at a time: sorting a larger group by length wastes less padding.
    group = batch * 8
    while limit is None or done < limit:
        size = group if limit is None else min(group, limit - done)
        with db.connect() as conn:
            todo = store.pending(conn, model, limit=size)
        if not todo:
            break
        vectors = encode(settings, [embedder.paper_text(t, a) for _i, t, a in todo])
        rows = [(row[0], v.tobytes()) for row, v in zip(todo, vectors, strict=True)]
        with db.transaction() as conn:
            store.save(conn, model, rows)
        done += len(todo)
        if on_batch:
            on_batch(len(todo))
    if done and fold:
        update_index(db, settings)
    return done


def update_index(db: Database, settings: Settings, *, on_progress=None) -> int:
    """Fold vectors stored since the ANN file's mark into it (building it if missing)."""
    return vector_index.update(db, ann_file(settings), on_progress=on_progress)


def rebuild_index(db: Database, settings: Settings, *, on_progress=None) -> int:
    """Write the ANN file anew from every stored vector; returns how many it holds."""
    return vector_index.rebuild(db, ann_file(settings), on_progress=on_progress)
