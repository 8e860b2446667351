"""Comments in the store: rows, their thread order, reports and moderation flags."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from paperfeed.errors import Conflict, NotFound
from paperfeed.models import Comment
from paperfeed.store import papers as paper_store
from paperfeed.store.tables import comment_reports as R
from paperfeed.store.tables import comments as C
from paperfeed.store.tables import users as U


def _to_comment(row) -> Comment:
    return Comment(
        id=row.id,
        arxiv_id=row.arxiv_id,
        user_id=row.user_id,
        author=row.display_name,
        parent_id=row.parent_id,
        body=row.body,
        html=row.html,
        created_at=row.created_at,
        edited_at=row.edited_at,
        deleted=bool(row.deleted),
        hidden=bool(row.hidden),
    )


def _select():
    return sa.select(C, U.c.display_name).outerjoin(U, U.c.id == C.c.user_id)


def add(
    conn: sa.Connection, *, arxiv_id: str, user_id: int, parent_id: int | None, body: str, html: str
) -> Comment:
    """Store a comment and count it on its paper."""
    now = dt.datetime.now(dt.UTC)
    values = dict(arxiv_id=arxiv_id, user_id=user_id, parent_id=parent_id, body=body, html=html)
    stmt = sa.insert(C).values(**values, created_at=now).returning(C.c.id)
    comment_id = conn.execute(stmt).scalar_one()
    paper_store.recount_comments(conn, arxiv_id)
    return get(conn, comment_id)


def get(conn: sa.Connection, comment_id: int) -> Comment:
    """One comment; raises NotFound."""
    row = conn.execute(_select().where(C.c.id == comment_id)).first()
    if row is None:
        raise NotFound(f"no comment {comment_id}")
    return _to_comment(row)


def of_paper(conn: sa.Connection, arxiv_id: str) -> list[Comment]:
    """Every comment on a paper, oldest first."""
    return [
        _to_comment(r)
        for r in conn.execute(_select().where(C.c.arxiv_id == arxiv_id).order_by(C.c.id))
    ]


def update(conn: sa.Connection, comment_id: int, **values) -> None:
    """Change a comment's body/html, deleted or hidden flags."""
    arxiv_id = conn.execute(
        sa.update(C).where(C.c.id == comment_id).values(**values).returning(C.c.arxiv_id)
    ).scalar()
    if "hidden" in values and arxiv_id is not None:
        paper_store.recount_comments(conn, arxiv_id)
    else:
        paper_store.touch(conn)


def report(conn: sa.Connection, *, comment_id: int, user_id: int, reason: str) -> None:
    """Record a report; Conflict if this reader already reported this comment."""
    try:
        conn.execute(
            sa.insert(R).values(
                comment_id=comment_id,
                user_id=user_id,
                reason=reason,
                created_at=dt.datetime.now(dt.UTC),
            )
        )
    except sa.exc.IntegrityError:
        raise Conflict("you already reported this comment") from None


def reports(conn: sa.Connection) -> list[tuple[Comment, int]]:
    """Reported comments with their report counts, most reported first."""
    q = (
        sa.select(R.c.comment_id, sa.func.count().label("n"))
        .group_by(R.c.comment_id)
        .order_by(sa.desc("n"), R.c.comment_id)
    )
    return [(get(conn, r.comment_id), r.n) for r in conn.execute(q)]
