"""Paper embeddings in the store: what still needs one, saving them, and reading them back."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from paperfeed.store.tables import paper_vectors as V
from paperfeed.store.tables import papers as P


def pending(conn: sa.Connection, model: str, *, limit: int) -> list[tuple[str, str, str]]:
    """(id, title, abstract) of papers with no vector for `model` yet, newest listings first."""
    q = (
        sa.select(P.c.arxiv_id, P.c.title, P.c.abstract)
        .outerjoin(V, sa.and_(V.c.arxiv_id == P.c.arxiv_id, V.c.model == model))
        .where(V.c.arxiv_id.is_(None))
        .order_by(P.c.listing_day.desc(), P.c.arxiv_id.desc())
        .limit(limit)
    )
    return [(r.arxiv_id, r.title, r.abstract) for r in conn.execute(q)]


def count_pending(conn: sa.Connection, model: str) -> int:
    """How many papers still need a vector for `model`."""
    q = (
        sa.select(sa.func.count())
        .select_from(P.outerjoin(V, sa.and_(V.c.arxiv_id == P.c.arxiv_id, V.c.model == model)))
        .where(V.c.arxiv_id.is_(None))
    )
    return conn.execute(q).scalar_one()


def count(conn: sa.Connection, model: str) -> int:
    """How many papers have a vector for `model`."""
    q = sa.select(sa.func.count()).select_from(V).where(V.c.model == model)
    return conn.execute(q).scalar_one()


def counts_by_model(conn: sa.Connection) -> dict[str, int]:
    """How many vectors each model name has stored."""
    q = sa.select(V.c.model, sa.func.count()).group_by(V.c.model).order_by(V.c.model)
    return {model: n for model, n in conn.execute(q)}


def save(conn: sa.Connection, model: str, rows: list[tuple[str, bytes]]) -> None:
    """Store vectors (float32 bytes) for papers; a paper already embedded keeps its vector."""
    now = dt.datetime.now(dt.UTC)
    known = set(
        conn.execute(
            sa.select(V.c.arxiv_id).where(
                V.c.model == model, V.c.arxiv_id.in_([r[0] for r in rows])
            )
        ).scalars()
    )
    fresh = [
        {"arxiv_id": i, "model": model, "vector": v, "created_at": now}
        for i, v in rows
        if i not in known
    ]
    if fresh:
        conn.execute(sa.insert(V), fresh)


def added_since(conn: sa.Connection, model: str, *, after: dt.datetime | None):
    """(id, created_at) of vectors for `model` stored after `after` (all when None), in order."""
    q = sa.select(V.c.arxiv_id, V.c.created_at).where(V.c.model == model)
    if after is not None:
        q = q.where(V.c.created_at > after)
    return conn.execute(q.order_by(V.c.created_at, V.c.arxiv_id)).all()


def vectors_of(conn: sa.Connection, model: str, arxiv_ids: list[str]) -> dict[str, bytes]:
    """The stored vectors (float32 bytes) of these papers, by id."""
    out: dict[str, bytes] = {}
    for i in range(0, len(arxiv_ids), 500):
        q = sa.select(V.c.arxiv_id, V.c.vector).where(
            V.c.model == model, V.c.arxiv_id.in_(arxiv_ids[i : i + 500])
        )
        out.update((r.arxiv_id, r.vector) for r in conn.execute(q))
    return out


def page(
    conn: sa.Connection, model: str, *, after: str | None, limit: int
) -> list[tuple[str, bytes, dt.datetime]]:
    """(id, vector, created_at) of `model` vectors in id order after `after`: a keyset page."""
    q = sa.select(V.c.arxiv_id, V.c.vector, V.c.created_at).where(V.c.model == model)
    if after is not None:
        q = q.where(V.c.arxiv_id > after)
    return [tuple(r) for r in conn.execute(q.order_by(V.c.arxiv_id).limit(limit))]


def dimension(conn: sa.Connection, model: str) -> int | None:
    """How many dimensions `model` vectors have (None when there are none)."""
    blob = conn.execute(sa.select(V.c.vector).where(V.c.model == model).limit(1)).scalar()
    return None if blob is None else len(blob) // 4


def window(conn: sa.Connection, model: str, *, after: dt.datetime | None):
    """(how many, newest created_at) of `model` vectors stored after `after`: a cheap check
    whether anything changed there."""
    q = sa.select(sa.func.count(), sa.func.max(V.c.created_at)).where(V.c.model == model)
    if after is not None:
        q = q.where(V.c.created_at > after)
    count, newest = conn.execute(q).one()
    return count, newest


def newest(conn: sa.Connection, model: str) -> dt.datetime | None:
    """When the newest `model` vector was stored: one read of the end of an index."""
    return conn.execute(sa.select(sa.func.max(V.c.created_at)).where(V.c.model == model)).scalar()


def listed_between(
    conn: sa.Connection, model: str, start: dt.date, end: dt.date
) -> list[tuple[str, bytes, str, str]]:
    """(id, vector, title, abstract) of the visible papers listed on days start..end that have a
    `model` vector."""
    q = (
        sa.select(P.c.arxiv_id, V.c.vector, P.c.title, P.c.abstract)
        .join(V, sa.and_(V.c.arxiv_id == P.c.arxiv_id, V.c.model == model))
        .where(P.c.listing_day >= start, P.c.listing_day <= end, P.c.hidden.is_(False))
        .order_by(P.c.arxiv_id)
    )
    return [(r.arxiv_id, r.vector, r.title, r.abstract) for r in conn.execute(q)]
