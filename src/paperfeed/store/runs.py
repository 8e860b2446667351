"""The ingest-run log: one row per run with its cursor, counts, error and rejected records."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

import sqlalchemy as sa

from paperfeed.errors import NotFound
from paperfeed.models import IngestCounts, IngestRun, Rejected
from paperfeed.store.tables import ingest_rejections as R
from paperfeed.store.tables import ingest_runs as T

# Enough to tell a user what went wrong without letting a garbage file bloat the log.
MAX_REJECTIONS_KEPT = 1000
# A rejection quotes the bad input, which may hold what no column (NUL on PostgreSQL), terminal
# or feed should: such characters are kept visible as escapes.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _shown(text: str, limit: int) -> str:
    return _UNPRINTABLE.sub(lambda m: ascii(m[0])[1:-1], text)[:limit]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _to_run(row: sa.Row, rejections: list[Rejected] | None = None) -> IngestRun:
    return IngestRun(
        id=row.id,
        source=row.source,
        key=row.key,
        status=row.status,
        cursor=row.cursor,
        started_at=row.started_at,
        finished_at=row.finished_at,
        counts=IngestCounts(row.new, row.updated, row.unchanged, row.rejected),
        error=row.error,
        rejections=rejections or [],
    )


def start(conn: sa.Connection, *, source: str, key: str, cursor: str | None = None) -> int:
    """Open a run in state 'running'; returns its id."""
    stmt = sa.insert(T).values(
        source=source, key=key, status="running", cursor=cursor, started_at=_now()
    )
    return conn.execute(stmt.returning(T.c.id)).scalar_one()


def checkpoint(
    conn: sa.Connection,
    run_id: int,
    *,
    cursor: str | None,
    counts: IngestCounts,
    rejections: Iterable[Rejected] = (),
) -> None:
    """Record progress: the resume cursor, running totals and newly rejected records."""
    conn.execute(
        sa.update(T)
        .where(T.c.id == run_id)
        .values(
            cursor=cursor,
            new=counts.new,
            updated=counts.updated,
            unchanged=counts.unchanged,
            rejected=counts.rejected,
        )
    )
    rows = [
        {"run_id": run_id, "ref": _shown(r.ref, 500), "reason": _shown(r.reason, 2000)}
        for r in rejections
    ]
    if rows:
        kept = conn.execute(
            sa.select(sa.func.count()).select_from(R).where(R.c.run_id == run_id)
        ).scalar_one()
        room = max(0, MAX_REJECTIONS_KEPT - kept)
        if room:
            conn.execute(sa.insert(R), rows[:room])


def finish(conn: sa.Connection, run_id: int, *, status: str, error: str | None = None) -> None:
    """Close a run as 'ok' or 'failed'."""
    error = _shown(error, 4000) if error is not None else None
    conn.execute(
        sa.update(T).where(T.c.id == run_id).values(status=status, error=error, finished_at=_now())
    )


def get(conn: sa.Connection, run_id: int) -> IngestRun:
    """One run with its rejected records; raises NotFound."""
    row = conn.execute(sa.select(T).where(T.c.id == run_id)).first()
    if row is None:
        raise NotFound(f"no ingest run {run_id}")
    rej = conn.execute(sa.select(R.c.ref, R.c.reason).where(R.c.run_id == run_id).order_by(R.c.id))
    return _to_run(row, [Rejected(r.ref, r.reason) for r in rej])


def resumable(conn: sa.Connection, key: str) -> IngestRun | None:
    """The latest run of this harvest, if it stopped before finishing and left a cursor."""
    row = conn.execute(sa.select(T).where(T.c.key == key).order_by(T.c.id.desc()).limit(1)).first()
    if row is None or row.status == "ok" or row.cursor is None:
        return None
    return _to_run(row)


def recent(conn: sa.Connection, *, limit: int = 20) -> list[IngestRun]:
    """The latest runs, newest first."""
    rows = conn.execute(sa.select(T).order_by(T.c.id.desc()).limit(limit))
    return [_to_run(r) for r in rows]
