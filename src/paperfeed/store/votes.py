"""Votes in the store: one row per (user, paper), with the paper's count moved in the same
transaction by an atomic increment."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from paperfeed.errors import NotFound
from paperfeed.models import Paper
from paperfeed.store import papers as paper_store
from paperfeed.store.dialect import insert
from paperfeed.store.tables import papers as P
from paperfeed.store.tables import votes as V


def _move_count(conn: sa.Connection, arxiv_id: str, delta: int) -> int:
    row = conn.execute(
        sa.update(P)
        .where(P.c.arxiv_id == arxiv_id)
        .values(upvotes=P.c.upvotes + delta)
        .returning(P.c.upvotes)
    ).first()
    if row is None:
        raise NotFound(f"no paper with arXiv id {arxiv_id}")
    paper_store.touch(conn, content=False)
    return row.upvotes


def add(conn: sa.Connection, *, user_id: int, arxiv_id: str) -> tuple[bool, int]:
    """Record a vote; (whether it is new, the paper's count). A repeat changes nothing."""
    current = count_of(conn, arxiv_id)  # NotFound before the foreign key would complain
    stmt = (
        insert(conn, V)
        .values(user_id=user_id, arxiv_id=arxiv_id, created_at=dt.datetime.now(dt.UTC))
        .on_conflict_do_nothing(index_elements=["user_id", "arxiv_id"])
        .returning(V.c.id)  # rowcount is not reliable for INSERT on every driver
    )
    if conn.execute(stmt).first() is not None:
        return True, _move_count(conn, arxiv_id, +1)
    return False, current


def remove(conn: sa.Connection, *, user_id: int, arxiv_id: str) -> tuple[bool, int]:
    """Withdraw a vote; (whether there was one, the paper's count)."""
    deleted = conn.execute(sa.delete(V).where(V.c.user_id == user_id, V.c.arxiv_id == arxiv_id))
    if deleted.rowcount == 1:
        return True, _move_count(conn, arxiv_id, -1)
    return False, count_of(conn, arxiv_id)


def count_of(conn: sa.Connection, arxiv_id: str) -> int:
    """A paper's upvote count; raises NotFound."""
    value = conn.execute(sa.select(P.c.upvotes).where(P.c.arxiv_id == arxiv_id)).scalar()
    if value is None:
        raise NotFound(f"no paper with arXiv id {arxiv_id}")
    return value


def recorded(conn: sa.Connection, arxiv_id: str) -> int:
    """How many vote rows a paper has (anonymous ones of deleted accounts included)."""
    q = sa.select(sa.func.count()).select_from(V).where(V.c.arxiv_id == arxiv_id)
    return conn.execute(q).scalar_one()


def voted_among(conn: sa.Connection, user_id: int, arxiv_ids: list[str]) -> set[str]:
    """Which of these papers the user has upvoted."""
    if not arxiv_ids:
        return set()
    q = sa.select(V.c.arxiv_id).where(V.c.user_id == user_id, V.c.arxiv_id.in_(arxiv_ids))
    return set(conn.execute(q).scalars())


def papers_of(conn: sa.Connection, user_id: int, *, limit: int = 200) -> list[Paper]:
    """The papers a user upvoted, most recent vote first."""
    q = (
        sa.select(P)
        .join(V, V.c.arxiv_id == P.c.arxiv_id)
        .where(V.c.user_id == user_id)
        .order_by(V.c.created_at.desc(), V.c.id.desc())
        .limit(limit)
    )
    return [paper_store.row_to_paper(r) for r in conn.execute(q)]
