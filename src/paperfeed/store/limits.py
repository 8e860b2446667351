"""Rate-limit counters in the store: fixed windows shared by every worker."""

from __future__ import annotations

import sqlalchemy as sa

from paperfeed.store.dialect import insert
from paperfeed.store.tables import rate_limits as R


def hit(conn: sa.Connection, key: str, *, window: int, now: int) -> tuple[int, int]:
    """Count one hit on `key`; returns (hits in the current window, when that window began)."""
    expired = R.c.window_start <= now - window
    stmt = (
        insert(conn, R)
        .values(key=key, window_start=now, hits=1)
        .on_conflict_do_update(
            index_elements=["key"],
            set_={
                "window_start": sa.case((expired, now), else_=R.c.window_start),
                "hits": sa.case((expired, 1), else_=R.c.hits + 1),
            },
        )
        .returning(R.c.hits, R.c.window_start)
    )
    row = conn.execute(stmt).one()
    return row.hits, row.window_start


def peek(conn: sa.Connection, key: str, *, window: int, now: int) -> tuple[int, int]:
    """(hits, window start) without counting; (0, now) when no live window exists."""
    row = conn.execute(sa.select(R.c.hits, R.c.window_start).where(R.c.key == key)).first()
    if row is None or row.window_start <= now - window:
        return 0, now
    return row.hits, row.window_start


def clear(conn: sa.Connection, key: str) -> None:
    """Forget a key's window (after a successful login, say)."""
    conn.execute(sa.delete(R).where(R.c.key == key))
