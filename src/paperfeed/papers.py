"""Papers as a reader asks for them: one by id or URL, and the whole catalogue as JSON lines."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from paperfeed.errors import InvalidInput, NotFound
from paperfeed.models import Paper
from paperfeed.sources.arxiv_ids import parse_arxiv_id
from paperfeed.sources.jsonl import write_jsonl
from paperfeed.store import Database
from paperfeed.store import papers as store


def get_paper(db: Database, ref: str) -> Paper:
    """The stored paper for an arXiv id or URL (any version); NotFound or InvalidInput otherwise."""
    try:
        arxiv_id, _version = parse_arxiv_id(ref)
    except InvalidInput as exc:
        raise NotFound(f"no paper {ref[:60]!r}: {exc}") from None
    with db.connect() as conn:
        return store.get(conn, arxiv_id)


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
