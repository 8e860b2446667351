"""Voting: a reader's upvote on a paper, set or withdrawn, counted exactly."""

from __future__ import annotations

from dataclasses import dataclass

from paperfeed.errors import InvalidInput, NotFound
from paperfeed.models import Paper, User
from paperfeed.sources.arxiv_ids import parse_arxiv_id
from paperfeed.store import Database
from paperfeed.store import papers as paper_store
from paperfeed.store import votes as store


@dataclass(frozen=True, slots=True)
class VoteState:
    """Where a user's vote on a paper stands after a change."""

    arxiv_id: str
    voted: bool
    upvotes: int


def _paper_id(ref: str) -> str:
    try:
        return parse_arxiv_id(ref)[0]
    except InvalidInput:
        raise NotFound(f"no paper {ref[:60]!r}") from None


def set_vote(db: Database, *, user: User, arxiv_id: str, up: bool) -> VoteState:
    """Upvote (up=True) or withdraw; repeating either is harmless. NotFound for unknown papers
    and for hidden ones, which readers cannot see either."""
    paper_id = _paper_id(arxiv_id)
    with db.transaction() as conn:
        if paper_store.get(conn, paper_id).hidden:
            raise NotFound(f"no paper with arXiv id {paper_id}")
        if up:
            _changed, count = store.add(conn, user_id=user.id, arxiv_id=paper_id)
        else:
            _changed, count = store.remove(conn, user_id=user.id, arxiv_id=paper_id)
    return VoteState(paper_id, up, count)


def voted_among(db: Database, user: User | None, arxiv_ids: list[str]) -> set[str]:
    """Which of these papers the user upvoted (none for a visitor)."""
    if user is None or not arxiv_ids:
        return set()
    with db.connect() as conn:
        return store.voted_among(conn, user.id, arxiv_ids)


def upvoted_papers(db: Database, user: User) -> list[Paper]:
    """The papers a user upvoted, latest first."""
    with db.connect() as conn:
        return store.papers_of(conn, user.id)
