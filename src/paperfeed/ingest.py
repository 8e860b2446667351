"""Ingest: fetch from a source and upsert into the store, one transaction per batch, resumable."""

from __future__ import annotations

import logging
from collections.abc import Callable

from paperfeed import metrics
from paperfeed.models import Batch, IngestCounts, IngestRun
from paperfeed.sources import Source
from paperfeed.store import Database, papers, runs

log = logging.getLogger(__name__)

ProgressHook = Callable[[Batch, IngestCounts], None]


def ingest(
    db: Database,
    source: Source,
    *,
    resume: bool = True,
    on_batch: ProgressHook | None = None,
) -> IngestRun:
    """Run one harvest of `source` into `db` and return its log entry.

    Each batch's papers and the cursor after it commit together, so a crash (even kill -9)
    loses at most the batch in flight and the next run with the same source resumes after
    the last committed one. A malformed document ends the run as failed; what earlier
    batches stored stays.
    """
    with db.transaction() as conn:
        previous = runs.resumable(conn, source.key) if resume else None
        if previous is not None and previous.status == "running":
            # Nobody finished it, so its process died; say so before taking over its cursor.
            runs.finish(conn, previous.id, status="failed", error="interrupted before finishing")
        cursor = previous.cursor if previous is not None else None
        run_id = runs.start(conn, source=source.name, key=source.key, cursor=cursor)
    if previous is not None:
        log.info("resuming %s from run %d at cursor %s", source.key, previous.id, cursor)

    counts = IngestCounts()
    try:
        for batch in source.batches(cursor):
            with db.transaction() as conn:
                done = papers.upsert_many(conn, batch.papers)
                done.rejected = len(batch.rejected)
                counts.add(done)
                metrics.count_ingest(
                    source.name,
                    new=done.new,
                    updated=done.updated,
                    unchanged=done.unchanged,
                    rejected=done.rejected,
                )
                runs.checkpoint(
                    conn, run_id, cursor=batch.cursor, counts=counts, rejections=batch.rejected
                )
            if on_batch is not None:
                on_batch(batch, counts)
    except BaseException as exc:
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else _describe(exc)
        with db.transaction() as conn:
            runs.finish(conn, run_id, status="failed", error=reason)
        if not isinstance(exc, Exception):
            raise
        log.error("ingest %s failed: %s", source.key, reason)
    else:
        with db.transaction() as conn:
            runs.finish(conn, run_id, status="ok")
    with db.connect() as conn:
        return runs.get(conn, run_id)


def _describe(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}"


def recent_runs(db: Database, *, limit: int = 20) -> list[IngestRun]:
    """The latest ingest runs, newest first."""
    with db.connect() as conn:
        return runs.recent(conn, limit=limit)
