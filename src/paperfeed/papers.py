"""Papers as a reader asks for them: one by id or URL, and the whole catalogue as JSON lines."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from paperfeed.errors import InvalidInput, NotAllowed, NotFound
from paperfeed.models import Paper, User
from paperfeed.sources.arxiv_ids import parse_arxiv_id
from paperfeed.sources.jsonl import write_jsonl
from paperfeed.store import Database
from paperfeed.store import papers as store


def get_paper(db: Database, ref: str, *, include_hidden: bool = False) -> Paper:
    """The stored paper for an arXiv id or URL (any version); NotFound otherwise, and for a
    paper an administrator hid unless `include_hidden`."""
    try:
        arxiv_id, _version = parse_arxiv_id(ref)
    except InvalidInput as exc:
        raise NotFound(f"no paper {ref[:60]!r}: {exc}") from None
    with db.connect() as conn:
        paper = store.get(conn, arxiv_id)
    if paper.hidden and not include_hidden:
        raise NotFound(f"no paper with arXiv id {arxiv_id}")
    return paper


def set_hidden(db: Database, *, user: User, arxiv_id: str, hidden: bool) -> None:
    """Hide a paper from every listing or show it again (administrators only)."""
    if not user.is_admin:
        raise NotAllowed("only administrators can hide papers")
    with db.transaction() as conn:
        store.set_hidden(conn, parse_arxiv_id(arxiv_id)[0], hidden)


def count(db: Database) -> int:
    """How many papers are stored."""
    with db.connect() as conn:
        return store.count(conn)


def export_jsonl(db: Database, fh: TextIO, *, on_paper: Callable[[], None] | None = None) -> int:
    """Write every paper as JSON lines (the format `ingest jsonl` reads); returns the count."""
    with db.connect() as conn:

        def papers():
            for p in store.iter_all(conn):
                if on_paper:
                    on_paper()
                yield p

        return write_jsonl(papers(), fh)
