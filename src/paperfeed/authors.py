"""An author's papers and co-authors: what the author pages and feeds show.

A name is looked up as search's `author:` filter reads it (`store/authors.py`): case, accents and
punctuation do not matter, and "Y. LeCun" finds "Yann LeCun". Hidden papers are never counted or
listed.
"""

from __future__ import annotations

import dataclasses

from paperfeed.errors import NotFound
from paperfeed.models import Paper
from paperfeed.store import Database
from paperfeed.store import authors as store
from paperfeed.store import papers as paper_store

MAX_NAME = 300  # characters of a typed name that are looked at (longer keys are cut anyway)
MAX_PAGE = 10_000


@dataclasses.dataclass(frozen=True, slots=True)
class AuthorPage:
    """One page of an author's papers, newest first, with their frequent co-authors."""

    name: str  # as most often listed on their papers
    total: int  # visible papers in all
    papers: list[Paper]
    coauthors: list[tuple[str, int]]  # (name, papers together), most shared first
    page: int  # 1-based
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _clean(name: str) -> str:
    return "".join(c for c in (name or "")[:MAX_NAME] if c.isprintable())


def author_page(
    db: Database, name: str, *, page: int = 1, per_page: int = 50, coauthors: int = 20
) -> AuthorPage:
    """The author's visible papers (page `page`, newest first), count and co-authors;
    NotFound when no visible paper lists an author of this name."""
    typed = _clean(name)
    page = min(max(page, 1), MAX_PAGE)
    with db.connect() as conn:
        display = store.display_name(conn, typed) if store.name_key(typed) else None
        if display is None:
            raise NotFound(f"No author named “{typed[:120]}” has papers here.")
        total = store.count_papers(conn, typed)
        ids = store.papers_of(conn, typed, limit=per_page, offset=(page - 1) * per_page)
        found = paper_store.get_many(conn, ids)
        together = store.coauthors(conn, typed, limit=coauthors) if coauthors else []
    papers = [found[i] for i in ids if i in found]
    return AuthorPage(display, total, papers, together, page, per_page)


__all__ = ["AuthorPage", "author_page"]
