"""Comments: threaded discussion of a paper, written in Markdown, moderated by administrators."""

from __future__ import annotations

import datetime as dt

from paperfeed import markup
from paperfeed.config import Settings
from paperfeed.errors import InvalidInput, NotAllowed
from paperfeed.models import Comment, User
from paperfeed.papers import get_paper
from paperfeed.store import Database
from paperfeed.store import comments as store

MAX_BODY = 10_000


def _clean_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise InvalidInput("write something first")
    if len(body) > MAX_BODY:
        raise InvalidInput(f"comments are limited to {MAX_BODY:,} characters")
    return body


def add(
    db: Database, *, user: User, arxiv_id: str, body: str, parent_id: int | None = None
) -> Comment:
    """Post a comment (a reply when `parent_id` names a comment on the same paper)."""
    paper = get_paper(db, arxiv_id)
    body = _clean_body(body)
    with db.transaction() as conn:
        if parent_id is not None:
            parent = store.get(conn, parent_id)
            if parent.arxiv_id != paper.arxiv_id:
                raise InvalidInput("that reply belongs to another paper")
        return store.add(
            conn,
            arxiv_id=paper.arxiv_id,
            user_id=user.id,
            parent_id=parent_id,
            body=body,
            html=markup.render(body),
        )


def edit(db: Database, settings: Settings, *, user: User, comment_id: int, body: str) -> Comment:
    """Change your own comment within the edit window."""
    body = _clean_body(body)
    with db.transaction() as conn:
        comment = store.get(conn, comment_id)
        if comment.user_id != user.id:
            raise NotAllowed("you can only edit your own comments")
        if comment.deleted or comment.hidden:
            raise NotAllowed("this comment can no longer be edited")
        window = dt.timedelta(minutes=settings.comment_edit_minutes)
        if dt.datetime.now(dt.UTC) - comment.created_at > window:
            raise NotAllowed(f"comments can be edited for {settings.comment_edit_minutes} minutes")
        store.update(
            conn, comment_id, body=body, html=markup.render(body), edited_at=dt.datetime.now(dt.UTC)
        )
        return store.get(conn, comment_id)


def delete(db: Database, *, user: User, comment_id: int) -> None:
    """Delete your own comment (administrators may delete any); replies stay."""
    with db.transaction() as conn:
        comment = store.get(conn, comment_id)
        if comment.user_id != user.id and not user.is_admin:
            raise NotAllowed("you can only delete your own comments")
        store.update(conn, comment_id, deleted=True, body="", html="")


def report(db: Database, *, user: User, comment_id: int, reason: str) -> None:
    """Flag a comment for the administrators."""
    with db.transaction() as conn:
        store.get(conn, comment_id)
        store.report(conn, comment_id=comment_id, user_id=user.id, reason=reason.strip()[:500])


def set_hidden(db: Database, *, user: User, comment_id: int, hidden: bool) -> None:
    """Hide a comment from readers, or show it again (administrators only)."""
    if not user.is_admin:
        raise NotAllowed("only administrators can hide comments")
    with db.transaction() as conn:
        store.get(conn, comment_id)
        store.update(conn, comment_id, hidden=hidden)


def thread(db: Database, arxiv_id: str, *, viewer: User | None = None) -> list[Comment]:
    """A paper's comments as a tree (top-level first, replies nested, oldest first).

    Hidden comments are shown only to administrators; deleted ones keep their place so
    replies still make sense.
    """
    with db.connect() as conn:
        rows = store.of_paper(conn, arxiv_id)
    admin = viewer is not None and viewer.is_admin
    by_id = {c.id: c for c in rows if admin or not c.hidden}
    roots: list[Comment] = []
    for c in by_id.values():
        parent = by_id.get(c.parent_id) if c.parent_id else None
        (parent.replies if parent else roots).append(c)
    return roots


def reported(db: Database, *, user: User) -> list[tuple[Comment, int]]:
    """Reported comments with how many readers reported each (administrators only)."""
    if not user.is_admin:
        raise NotAllowed("only administrators can see reports")
    with db.connect() as conn:
        return store.reports(conn)


def count(thread_roots: list[Comment]) -> int:
    """How many comments a thread shows, replies included."""
    return sum(1 + count(c.replies) for c in thread_roots)


def paper_of(db: Database, comment_id: int) -> str:
    """The arXiv id a comment belongs to; raises NotFound."""
    with db.connect() as conn:
        return store.get(conn, comment_id).arxiv_id
