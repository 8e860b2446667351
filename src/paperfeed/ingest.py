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
    the last committed one. A record a source or the database refuses is rejected with its
    reason and the rest land. A malformed document ends the run as failed, and its error says
    what was stored before it, which stays; so does a run in which every record was rejected.
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
                done, refused = papers.upsert_each(conn, batch.papers)
                if refused:
                    for r in refused:
                        log.warning("ingest %s: %s rejected: %s", source.key, r.ref, r.reason)
                    batch.rejected = [*batch.rejected, *refused]
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
        reason += f"; stored before it: {_landed(counts)}"
        with db.transaction() as conn:
            runs.finish(conn, run_id, status="failed", error=reason)
        if not isinstance(exc, Exception):
            raise
        log.error("ingest %s failed: %s", source.key, reason)
    else:
        stored = counts.new + counts.updated + counts.unchanged
        # Nothing usable at all is a wrong file or a broken source, not an empty day.
        failed = counts.rejected > 0 and stored == 0
        with db.transaction() as conn:
            runs.finish(
                conn,
                run_id,
                status="failed" if failed else "ok",
                error=f"all {counts.rejected} records were rejected" if failed else None,
            )
    with db.connect() as conn:
        return runs.get(conn, run_id)


def _landed(counts: IngestCounts) -> str:
    return (
        f"{counts.new} new, {counts.updated} updated, {counts.unchanged} unchanged papers, "
        f"{counts.rejected} records rejected"
    )


def _describe(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}"


def recent_runs(db: Database, *, limit: int = 20) -> list[IngestRun]:
    """The latest ingest runs, newest first."""
    with db.connect() as conn:
        return runs.recent(conn, limit=limit)
