"""What a reader has been shown and where they are: the papers /for-you showed in each batch,
the JSON API's "new since" mark and the private feed's token, in the store.

Every read and write here takes the reader's user_id and filters on it, except the feed token's
lookup, which is how a feed URL finds its reader.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import sqlalchemy as sa

from paperfeed.errors import NotFound
from paperfeed.store.dialect import insert
from paperfeed.store.tables import reader_state as R
from paperfeed.store.tables import seen_papers as S


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- what /for-you has shown ---------------------------------------------------------------------
def mark_seen(
    conn: sa.Connection, user_id: int, rows: list[tuple[str, float, str]], *, batch: dt.datetime
) -> None:
    if not rows:
        return
    stmt = (
        insert(conn, S)
        .values(
            [
                {"user_id": user_id, "arxiv_id": a, "batch": batch, "score": s, "reason": r}
                for a, s, r in rows
            ]
        )
        .on_conflict_do_nothing(index_elements=["user_id", "arxiv_id"])
    )
    conn.execute(stmt)


def seen_among(conn: sa.Connection, user_id: int, arxiv_ids: Iterable[str]) -> set[str]:
    ids = list(arxiv_ids)
    if not ids:
        return set()
    q = sa.select(S.c.arxiv_id).where(S.c.user_id == user_id, S.c.arxiv_id.in_(ids))
    return set(conn.execute(q).scalars())


def batches(conn: sa.Connection, user_id: int) -> list[dt.datetime]:
    """The reader's /for-you visits that showed something, newest first."""
    q = (
        sa.select(S.c.batch)
        .where(S.c.user_id == user_id)
        .group_by(S.c.batch)
        .order_by(S.c.batch.desc())
    )
    return list(conn.execute(q).scalars())


def seen_in(conn: sa.Connection, user_id: int, batch: dt.datetime) -> list[tuple[str, float, str]]:
    q = (
        sa.select(S.c.arxiv_id, S.c.score, S.c.reason)
        .where(S.c.user_id == user_id, S.c.batch == batch)
        .order_by(S.c.score.desc(), S.c.arxiv_id)
    )
    return [tuple(r) for r in conn.execute(q)]


# -- reader state --------------------------------------------------------------------------------
def _state(conn: sa.Connection, user_id: int):
    return conn.execute(sa.select(R).where(R.c.user_id == user_id)).first()


def _put_state(conn: sa.Connection, user_id: int, **values) -> None:
    values["changed_at"] = _now()
    stmt = insert(conn, R).values(user_id=user_id, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["user_id"], set_=values))


def set_feed_token(conn: sa.Connection, user_id: int, token_hash: str | None) -> None:
    _put_state(conn, user_id, feed_token_hash=token_hash)


def has_feed_token(conn: sa.Connection, user_id: int) -> bool:
    row = _state(conn, user_id)
    return row is not None and row.feed_token_hash is not None


def user_for_feed(conn: sa.Connection, token_hash: str) -> int:
    q = sa.select(R.c.user_id).where(R.c.feed_token_hash == token_hash)
    user_id = conn.execute(q).scalar()
    if user_id is None:
        raise NotFound("no such feed")
    return user_id


def api_mark(conn: sa.Connection, user_id: int) -> dt.datetime | None:
    row = _state(conn, user_id)
    return None if row is None else row.api_mark


def set_api_mark(conn: sa.Connection, user_id: int, mark: dt.datetime) -> None:
    _put_state(conn, user_id, api_mark=mark)
